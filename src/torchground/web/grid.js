// The grid view: many networks live in the page. The user picks one or two settings to vary
// (values editable, defaults and caps from /api/meta `grid`), the server trains every
// variant together (docs/serve-protocol.md: grid, grid_state, grid_frame) and each tile
// shows its output map, on the main map's colour scale, with its points and its loss.
// Play, pause and reset act on the grid; clicking a tile opens that network, with its
// weights, in the normal view (grid_pick). Labels come from the catalogue (web.grid_*).

import { HeatMap, rgbOf } from "./heatmap.js";
import { t } from "./i18n.js";

const ICON_PLAY = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M8 5l11 7-11 7z"/></svg>';
const ICON_PAUSE = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M7 5h3.5v14H7zM13.5 5H17v14h-3.5z"/></svg>';
const NOT_FINITE = { inf: "∞", "-inf": "−∞", nan: "NaN" };
const TILE_PX = 112; // a tile's picture, in CSS pixels (its canvas holds that many device pixels)

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function fmtLoss(v) {
  if (v in NOT_FINITE) return NOT_FINITE[v];
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(3) : "–";
}

export class GridView {
  /**
   * @param {object} opts
   * @param {object} opts.conn the page's Connection (grid_state and grid_frame are handled here)
   * @param {object} opts.meta /api/meta (its `grid`: fields with default values, caps)
   * @param {function} opts.send sends a message to the session
   * @param {function} opts.fps the page's frames per second (asked for when playing)
   */
  constructor({ conn, meta, send, fps }) {
    this.send = send;
    this.fps = fps;
    this.fields = (meta.grid && meta.grid.fields) || {};
    this.caps = (meta.grid && meta.grid.caps) || {};
    this.root = document.querySelector('[data-testid="grid-view"]');
    this.tiles = [];
    this.running = false;
    this.pending = null;
    this.scheduled = false;
    this.state = null;
    this.stats = { framesReceived: 0, framesDrawn: 0, epoch: 0, losses: [], tiles: 0, open: false };
    window.__tg.grid = this.stats; // read by the browser tests and bench/grid_view.py
    /** For the bench: draw the last frame again `n` times (style and layout included); main-thread ms per frame. */
    this.stats.replay = (n = 50) => {
      if (!this.last) return null;
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        this.pending = this.last;
        this._draw();
        void document.body.offsetHeight;
      }
      return (performance.now() - start) / n;
    };
    this._mount();
    conn.on("grid_state", (msg) => this._onState(msg)).on("grid_frame", (msg) => this._onFrame(msg));
    const onState = conn.handlers.get("state"); // the session's own model is back (pick, close, init): the normal view
    conn.on("state", (...args) => {
      this.hide();
      if (onState) onState(...args);
    });
    document.querySelector('[data-testid="grid-open"]').addEventListener("click", () => this.show());
  }

  _by(id) {
    return this.root.querySelector(`[data-testid="${id}"]`);
  }

  _mount() {
    for (const [n, def] of [["1", "lr"], ["2", "init_seed"]]) {
      const select = this._by(`grid-field-${n}`);
      // labelled now (the page's labels are already in) and again by applyLabels on a language switch
      if (n === "2") select.append(el("option", { value: "", "data-i18n": "web.grid_nothing", text: t("web.grid_nothing") }));
      for (const name of Object.keys(this.fields)) {
        const key = `web.grid_field_${name}`;
        select.append(el("option", { value: name, "data-i18n": key, text: t(key) }));
      }
      select.value = def in this.fields ? def : "";
      const values = this._by(`grid-values-${n}`);
      values.value = this.fields[select.value] || "";
      values.disabled = !select.value;
      select.addEventListener("change", () => {
        values.value = this.fields[select.value] || "";
        values.disabled = !select.value;
      });
      values.addEventListener("keydown", (e) => {
        if (e.key === "Enter") this.build();
      });
    }
    this._by("grid-build").addEventListener("click", () => this.build());
    this._by("grid-back").addEventListener("click", () => {
      this.send({ type: "grid_close" });
      this.hide();
    });
    this._by("grid-play").addEventListener("click", () => {
      if (!this.state) return;
      if (this.running) {
        this.send({ type: "pause" });
        this._setRunning(false);
      } else {
        this.send({ type: "fps", value: this.fps() });
        this.send({ type: "play" });
        this._setRunning(true);
      }
    });
    this._by("grid-reset").addEventListener("click", () => {
      if (this.state) this.send({ type: "reset" });
    });
    this._setRunning(false);
  }

  /** The axes as the controls hold them: [{field, values}], one or two. */
  axes() {
    const out = [];
    for (const n of ["1", "2"]) {
      const field = this._by(`grid-field-${n}`).value;
      if (field) out.push({ field, values: this._by(`grid-values-${n}`).value });
    }
    return out;
  }

  show() {
    document.body.classList.add("grid-mode");
    this.root.hidden = false;
    this.stats.open = true;
    if (!this.state) this.build();
  }

  hide() {
    if (this.root.hidden) return;
    document.body.classList.remove("grid-mode");
    this.root.hidden = true;
    this.stats.open = false;
    this.state = null;
    this.tiles = [];
    this._by("grid-tiles").replaceChildren();
    Object.assign(this.stats, { tiles: 0, framesReceived: 0, framesDrawn: 0, epoch: 0, losses: [] });
    this._setRunning(false);
  }

  build() {
    this._setRunning(false);
    this.send({ type: "grid", axes: this.axes() });
  }

  _setRunning(running) {
    this.running = running;
    const play = this._by("grid-play");
    play.innerHTML = running ? ICON_PAUSE : ICON_PLAY;
    play.classList.toggle("playing", running);
    const key = running ? "web.pause" : "web.play";
    // the keys stay on the button, so a language switch (i18n.js: applyTexts) retitles it
    Object.assign(play.dataset, { i18nTitle: key, i18nAria: key });
    play.title = t(key);
    play.setAttribute("aria-label", t(key));
  }

  _onState(msg) {
    this.state = msg;
    const box = this._by("grid-tiles");
    box.replaceChildren();
    const [first, second] = msg.axes;
    const cols = second ? second.values.length : Math.min(msg.tiles.length, 8);
    box.style.setProperty("--cols", String(cols));
    this._by("grid-count").textContent = t("web.grid_count", { n: msg.tiles.length });
    const side = Math.round(TILE_PX * (window.devicePixelRatio || 1));
    this.tiles = msg.tiles.map((tile, i) => {
      // one canvas on screen per tile: the map (drawn small, then scaled) and the points over it,
      // so the browser composites one layer per tile, not two
      const map = el("canvas", { class: "grid-map", width: String(side), height: String(side) });
      const dots = el("canvas", { width: String(side), height: String(side) });
      const loss = el("span", { class: "grid-loss", "data-testid": "grid-loss" });
      const label = Object.values(tile.setting).join(" · ");
      const title = Object.entries(tile.setting).map(([k, v]) => `${k} = ${v}`).join(", ");
      const aria = `${t("web.grid_open_tile")}: ${title}`;
      const node = el("div", { class: "grid-tile", "data-testid": "grid-tile", "data-index": String(i), role: "button", tabindex: "0", title, "aria-label": aria }, [
        el("div", { class: "grid-heat" }, [map]),
        el("span", { class: "grid-label", text: label }),
        loss,
      ]);
      const open = () => this.pick(i);
      node.addEventListener("click", open);
      node.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") open();
      });
      box.append(node);
      this._drawPoints(dots, msg.points[tile.data], msg.box, msg.problem);
      const ctx = map.getContext("2d", { alpha: false });
      ctx.imageSmoothingEnabled = true;
      return { heat: new HeatMap(document.createElement("canvas")), ctx, dots, side, loss, node };
    });
    this._by("grid-axes").textContent = [first, second].filter(Boolean).map((a) => t(`web.grid_field_${a.field}`)).join(" × ");
    this.stats.tiles = this.tiles.length;
    this.stats.epoch = 0;
    this.stats.losses = [];
    // the texts the server read back, so a rebuild after a language change asks for the same grid
    msg.texts.forEach((text, i) => {
      this._by(`grid-field-${i + 1}`).value = msg.axes[i].field;
      this._by(`grid-values-${i + 1}`).value = text;
      this._by(`grid-values-${i + 1}`).disabled = false;
    });
    if (msg.axes.length === 1) {
      this._by("grid-field-2").value = "";
      this._by("grid-values-2").disabled = true;
    }
  }

  pick(index) {
    this.send({ type: "grid_pick", index });
    this.hide();
  }

  _drawPoints(canvas, points, box, problem) {
    const ratio = window.devicePixelRatio || 1;
    const n = canvas.width;
    const ctx = canvas.getContext("2d");
    const [x0, x1, y0, y1] = box;
    const r = Math.max(1, 1.4 * ratio);
    for (const [x, y, label] of points || []) {
      const [cr, cg, cb] = rgbOf(problem === "regression" ? label : label > 0 ? 1 : -1);
      ctx.fillStyle = `rgb(${cr},${cg},${cb})`;
      ctx.strokeStyle = "rgba(255,255,255,0.8)";
      ctx.beginPath();
      ctx.arc(((x - x0) / (x1 - x0)) * n, ((y1 - y) / (y1 - y0)) * n, r, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }

  _onFrame(msg) {
    if (!this.state) return;
    this.stats.framesReceived++;
    if (msg.running !== this.running) this._setRunning(msg.running);
    this.pending = msg;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this._draw());
  }

  _draw() {
    this.scheduled = false;
    const f = this.pending;
    if (!f || !this.state) return;
    this.pending = null;
    this.last = f;
    const text = atob(f.maps);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const cells = f.size * f.size;
    const lossName = t(`web.grid_loss_${this.state.loss_set}`);
    const diverged = new Set(f.diverged);
    this.tiles.forEach((tile, i) => {
      tile.heat.drawBytes(f.size, bytes, i * cells);
      tile.ctx.drawImage(tile.heat.canvas, 0, 0, tile.side, tile.side);
      tile.ctx.drawImage(tile.dots, 0, 0);
      const text = diverged.has(i) ? `${t("web.grid_diverged")} · ${fmtLoss(f.losses[i])}` : `${lossName} ${fmtLoss(f.losses[i])}`;
      if (tile.loss.textContent !== text) tile.loss.textContent = text; // no layout for a text that stayed
      tile.node.classList.toggle("diverged", diverged.has(i));
    });
    this._by("grid-epoch").textContent = t("web.grid_epoch", { n: f.epoch });
    this.stats.epoch = f.epoch;
    this.stats.losses = f.losses;
    this.stats.running = f.running; // of the frame on screen
    this.stats.framesDrawn++;
  }
}
