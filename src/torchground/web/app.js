// The page: connects the controls, the network picture, the output panel and the PyTorch
// panels to the server's session (docs/serve-protocol.md). Messages are handled as they
// come; drawing happens once per animation frame from the newest frame received.

import { Connection, FORBIDDEN } from "./ws.js";
import { UrlState } from "./state.js";
import { initialLang, loadLang, lang, t, applyLabels } from "./i18n.js";
import { HeatMap } from "./heatmap.js";
import { NetworkView } from "./network.js";
import { LossChart } from "./chart.js";
import { drawPoints } from "./points.js";
import { OwnData } from "./owndata.js";
import { Controls } from "./controls.js";
import { Panels } from "./panels.js";
import { SessionFile } from "./sessionfile.js";
import { GridView } from "./grid.js";

// Epochs per second asked of the server while playing: one per animation frame, as in the
// Playground, with a quarter more as headroom (the server's cap is a maximum and its
// pacing runs a little under it; extra frames are merged into the next animation frame),
// so at least 75 for a 60 Hz display.
let fps = 75;
let LIVE = new Set(); // spec fields applied without a rebuild (/api/meta, `live_fields`)

const ICON_PLAY = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M8 5l11 7-11 7z"/></svg>';
const ICON_PAUSE = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M7 5h3.5v14H7zM13.5 5H17v14h-3.5z"/></svg>';
const byTest = (id) => document.querySelector(`[data-testid="${id}"]`);

const S = {
  options: null,
  spec: null,
  network: null,
  data: null,
  running: false,
  epoch: 0,
  pending: null, // newest frame not yet drawn
  last: null, // last frame drawn
  pointsDirty: true,
  scheduled: false,
  lastQuery: null, // the server's URL state last written
  framesHaveQuery: false, // frames carry `query` (then the server is the authority for edits too)
  // read by the browser tests and the UI bench: counts, and the spec and weights on screen
  stats: { framesReceived: 0, framesDrawn: 0, epoch: 0, fps: 75, spec: null, params: null },
};
window.__tg = S.stats;
S.stats.chart = () => chart.state(); // for the browser tests

/** For the UI bench: parse and draw the last frame received `n` times; main-thread ms per frame. */
S.stats.replay = (n = 100) => {
  const text = S.lastFrameText;
  if (!text) return null;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    S.pending = JSON.parse(text);
    draw();
    void document.body.offsetHeight; // style and layout too, as a real frame would need
  }
  return (performance.now() - start) / n;
};

const url = new UrlState();
let conn = null;
const outMap = new HeatMap(document.getElementById("output-map"));
const chart = new LossChart(document.getElementById("chart"));

const net = new NetworkView(document.getElementById("network"), {
  hover(target) {
    // the hovered feature's or neuron's map becomes the big map until the pointer leaves
    S.hover = target;
    if (!S.pending) S.pending = S.last;
    schedule();
  },
  toggleFeature(name) {
    if (!S.spec) return;
    const all = S.options.features.map((f) => (typeof f === "string" ? f : f.name));
    const on = new Set(S.spec.features);
    if (on.has(name)) {
      if (on.size === 1) return;
      on.delete(name);
    } else on.add(name);
    set({ features: all.filter((f) => on.has(f)) });
  },
  edit(param, index, value) {
    send({ type: "edit", param, index, value });
    if (!S.framesHaveQuery) url.addEdit(param, index, value);
  },
  neurons(layer, delta) {
    const hidden = [...S.spec.hidden];
    const w = hidden[layer - 1] + delta;
    if (w < 1 || w > S.options.limits.neurons) return;
    hidden[layer - 1] = w;
    set({ hidden });
  },
});

// Your own data: upload, clicked points, K-class output picture and legend (owndata.js).
const own = new OwnData({
  set: (changes) => set(changes),
  toast: (text) => toast(text),
  redrawPoints: () => {
    S.pointsDirty = true;
    schedule();
  },
});

const controls = new Controls({
  set: (changes) => set(changes),
  regenerate: () => {
    hideBanner();
    send({ type: "regenerate" });
  },
  layers(delta) {
    const hidden = [...S.spec.hidden];
    if (delta > 0 && hidden.length < S.options.limits.layers) hidden.push(2);
    else if (delta < 0 && hidden.length) hidden.pop();
    else return;
    set({ hidden });
  },
});

const sessionFile = new SessionFile({ send: (msg) => send(msg), toast: (text) => toast(text) });

const panels = new Panels((msg) => send(msg), (tab) => url.setView("tab", tab));

function send(msg) {
  if (conn) conn.send(msg);
}

// Settings TensorFlow Playground's loop does not have: changing one leaves that loop.
const TORCH_ONLY = new Set(["optimizer", "loss", "optimizer_args", "weight_decay", "shuffle"]);

function set(changes) {
  if (S.spec && S.spec.training_loop === "tf-playground" && Object.keys(changes).some((k) => TORCH_ONLY.has(k))) {
    changes = { ...changes, training_loop: "pytorch" };
  }
  send({ type: "set", changes });
  const live = Object.keys(changes).every((k) => LIVE.has(k));
  if (live && S.spec) {
    if (!S.liveUndo) {
      S.liveUndo = S.spec; // the spec to go back to if the server refuses the change
      S.liveQuery = S.lastQuery; // the server's URL state before it: a frame with another one took the change
    }
    S.spec = { ...S.spec, ...changes };
    S.stats.spec = S.spec;
    url.setFields(changes);
    controls.sync(S.spec);
    panels.specChanged();
  }
}

// ---- messages ------------------------------------------------------------------------------
function onState(msg) {
  S.liveUndo = null;
  S.spec = msg.spec;
  S.stats.spec = msg.spec;
  S.network = msg.network;
  S.data = msg.data;
  own.onState(msg);
  takeQuery(msg.query);
  controls.sync(msg.spec);
  byTest("tfpg-mode").hidden = msg.spec.training_loop !== "tf-playground";
  S.featureMaps = msg.feature_maps || {};
  S.hover = null;
  net.build(S.options.features, msg.network, msg.feature_maps, S.options.limits);
  const regression = msg.spec.problem === "regression";
  const acc = document.getElementById("acc-label");
  acc.dataset.i18n = regression ? "web.r2" : "web.accuracy";
  acc.textContent = t(acc.dataset.i18n);
  chart.reset();
  S.pointsDirty = true;
  hideBanner();
  panels.specChanged();
  schedule();
}

function takeQuery(query) {
  if (typeof query !== "string" || query === S.lastQuery) return;
  S.lastQuery = query;
  url.setServerQuery(query);
}

function onFrame(msg, raw) {
  S.stats.framesReceived++;
  // While playing, frames of the play loop can arrive before the answer to a `set`: only a
  // frame whose URL state differs from the one before the change shows the server took it.
  if (S.liveUndo && (!S.framesHaveQuery || (typeof msg.query === "string" && msg.query !== S.liveQuery))) {
    S.liveUndo = null;
  }
  S.lastFrameText = raw;
  if (typeof msg.query === "string") {
    S.framesHaveQuery = true;
    takeQuery(msg.query);
  }
  S.pending = msg;
  chart.push(msg.epoch, msg.metrics);
  if (msg.running !== S.running) setRunning(msg.running);
  if (!msg.running) panels.weightsChanged();
  schedule();
}

function schedule() {
  if (S.scheduled) return;
  S.scheduled = true;
  requestAnimationFrame(draw);
}

const NOT_FINITE = { inf: "∞", "-inf": "−∞", nan: "NaN" }; // the server's names of losses that diverged

function fmtMetric(v, kind) {
  if (v in NOT_FINITE) return NOT_FINITE[v];
  if (typeof v !== "number" || !Number.isFinite(v)) return "–";
  if (kind === "acc") return `${(v * 100).toFixed(1)}%`;
  return v.toFixed(3);
}

// TensorFlow Playground's epoch counter: at least six digits, commas between thousands.
function fmtEpoch(n) {
  return String(n).padStart(6, "0").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** The map of the feature or neuron under the pointer (shown as the big map), or null. */
function hoveredMap(frame) {
  const h = S.hover;
  if (!h) return null;
  if (h.feature !== undefined) return (S.featureMaps && S.featureMaps[h.feature]) || null;
  const layer = frame.neurons && frame.neurons[h.layer];
  return (layer && layer[h.index]) || null;
}
S.stats.hovering = () => (S.hover ? { ...S.hover, shown: !!(S.last && hoveredMap(S.last)) } : null); // for the browser tests

function draw() {
  S.scheduled = false;
  const f = S.pending;
  if (f) {
    S.pending = null;
    S.last = f;
    const discrete = url.flag("discretize");
    const hovered = hoveredMap(f);
    outMap.draw(hovered || f.output, discrete);
    if (!hovered) own.drawClasses(outMap.canvas, f.output); // K classes: coloured by the most likely class
    net.update(f, url.flag("gradient"), !f.running, discrete);
    if (!hovered) net.drawOutput(outMap.canvas);
    const m = f.metrics || {};
    const regression = S.spec && S.spec.problem === "regression";
    for (const set of ["train", "val", "test"]) {
      byTest(`loss-${set}`).textContent = fmtMetric(m[`${set}_loss`]);
      byTest(`acc-${set}`).textContent = regression ? fmtMetric(m[`${set}_r2`]) : fmtMetric(m[`${set}_acc`], "acc");
    }
    byTest("epoch").textContent = fmtEpoch(f.epoch);
    byTest("steps").textContent = f.steps ? t("web.steps_n", { n: f.steps.toLocaleString("en-US") }) : "";
    S.epoch = f.epoch;
    S.stats.epoch = f.epoch;
    S.stats.params = f.params;
    S.stats.framesDrawn++;
  }
  if (S.pointsDirty) {
    S.pointsDirty = false;
    drawPoints(document.getElementById("points"), S.data, {
      train: url.flag("show_train"),
      val: url.flag("show_val"),
      test: url.flag("show_test"),
    }, own.view, own.pending());
  }
  chart.draw();
}

/** While the server is out of reach, the buttons that would need it are disabled. */
function setConnected(connected) {
  S.connected = connected;
  for (const id of ["play", "step", "reset", "reinit"]) byTest(id).disabled = !connected;
}

function setRunning(running) {
  S.running = running;
  const play = byTest("play");
  play.innerHTML = running ? ICON_PAUSE : ICON_PLAY;
  play.classList.toggle("playing", running);
  const key = running ? "web.pause" : "web.play";
  play.title = t(key);
  play.setAttribute("aria-label", t(key));
}

function showBanner(text) {
  const banner = byTest("diverged-banner");
  banner.querySelector(".banner-msg").textContent = text;
  banner.hidden = false;
}

function hideBanner() {
  byTest("diverged-banner").hidden = true;
}

let toastTimer = 0;
function toast(text) {
  const el = byTest("error-toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 8000);
}

// ---- buttons and view options --------------------------------------------------------------
function wire() {
  byTest("play").addEventListener("click", () => {
    if (S.running) {
      send({ type: "pause" });
      setRunning(false);
    } else {
      hideBanner();
      send({ type: "fps", value: fps });
      send({ type: "play" });
      setRunning(true);
    }
  });
  byTest("step").addEventListener("click", () => {
    if (S.running) setRunning(false);
    send({ type: "step" });
  });
  byTest("reset").addEventListener("click", () => {
    hideBanner();
    chart.reset();
    send({ type: "reset" });
  });
  byTest("reinit").addEventListener("click", () => {
    hideBanner();
    chart.reset();
    send({ type: "reinit" });
  });
  byTest("banner-close").addEventListener("click", hideBanner);
  const linkInput = byTest("link-input");
  const loadLink = () => {
    const link = linkInput.value.trim();
    if (!link) return toast(t("web.tfpg_empty"));
    hideBanner();
    chart.reset();
    send({ type: "link", url: link });
  };
  byTest("link-load").addEventListener("click", loadLink);
  linkInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") loadLink();
  });
  byTest("link-copy").addEventListener("click", () => send({ type: "link_of" }));
  byTest("error-toast").addEventListener("click", () => (byTest("error-toast").hidden = true));

  const check = (id, name, after) => {
    const box = byTest(id);
    box.checked = url.flag(name);
    box.addEventListener("change", () => {
      url.setView(name, box.checked);
      after();
    });
  };
  const points = () => {
    S.pointsDirty = true;
    schedule();
  };
  check("show-train", "show_train", points);
  check("show-val", "show_val", points);
  check("show-test", "show_test", points);
  check("discretize", "discretize", () => {
    outMap.redraw(url.flag("discretize"));
    net.redrawMaps(url.flag("discretize"));
    if (S.last) own.drawClasses(outMap.canvas, S.last.output);
    net.drawOutput(outMap.canvas);
  });
  check("gradient-view", "gradient", () => {
    if (S.last) net.update({ params: S.last.params, grads: S.last.grads }, url.flag("gradient"), true);
  });

  byTest("lang").addEventListener("change", async (e) => {
    const next = e.target.value;
    try {
      await setLanguage(next);
    } catch {
      e.target.value = lang(); // the labels come from the server: while it is away they stay as they are
      return toast(t("web.lang_offline"));
    }
    url.setView("lang", next);
  });
  window.addEventListener("resize", () => {
    S.pointsDirty = true;
    schedule();
  });
}

/** The server's facts (live fields, view options, caps, data-set thumbnails): /api/meta. */
async function fetchMeta() {
  const res = await fetch("/api/meta", { credentials: "same-origin" });
  if (!res.ok) throw new Error(`meta: HTTP ${res.status}`);
  return res.json();
}

async function fetchOptions(language) {
  const res = await fetch(`/api/options?lang=${language}`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`options: HTTP ${res.status}`);
  return res.json();
}

/** Show every label in `language`; the session's own messages follow from the next connection. */
async function setLanguage(language) {
  const [options] = await Promise.all([fetchOptions(language), loadLang(language)]);
  S.options = options;
  applyLabels();
  byTest("link-input").placeholder = t("web.tfpg_link_hint");
  controls.setOptions(options);
  for (const el of document.querySelectorAll(".neuron-count")) el.textContent = t("web.neurons_n", { n: el.dataset.n });
  setRunning(S.running);
  if (S.spec) controls.sync(S.spec);
  byTest("lang").value = language;
  if (S.spec) send({ type: "set", changes: { lang: language } }); // the session's messages and code comments
  panels.specChanged();
  chart.invalidate(); // the legend and axis labels are in the new language
  requestAnimationFrame(() => net.layout()); // wider or narrower labels moved the neurons
  schedule();
}

/** Measure the display's refresh rate over a few animation frames and set `fps` from it. */
function measureDisplayRate() {
  const times = [];
  const tick = (now) => {
    times.push(now);
    if (times.length < 31) return requestAnimationFrame(tick);
    // a busy machine skips frames: the short intervals tell the display's own rate
    const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
    const hz = 1000 / gaps[Math.floor(gaps.length / 10)];
    const cap = (S.options && S.options.limits && S.options.limits.fps) || 120;
    fps = Math.min(cap, Math.max(75, Math.round(hz * 1.25)));
    S.stats.fps = fps;
    send({ type: "fps", value: fps });
  };
  requestAnimationFrame(tick);
}

async function main() {
  const meta = await fetchMeta();
  LIVE = new Set(meta.live_fields);
  url.setViewDefaults(meta.view_defaults);
  controls.setThumbnails(meta.thumbnails);
  const language = initialLang(url.getView("lang") || (window.__tgEmbedded && window.__tgEmbedded.lang));
  const [options] = await Promise.all([fetchOptions(language), loadLang(language)]);
  S.options = options;
  own.mount();
  applyLabels();
  byTest("link-input").placeholder = t("web.tfpg_link_hint");
  byTest("lang").value = language;
  controls.setOptions(options);
  setRunning(false);
  wire();
  sessionFile.mount(byTest("session-save"), byTest("session-open"), byTest("session-file"));
  conn = new Connection(url.token)
    .on("state", onState)
    .on("frame", onFrame)
    .on("changed", (msg) => {
      // a setting changed from elsewhere (the notebook widget's Python side): the controls follow
      S.spec = S.stats.spec = msg.spec;
      controls.sync(msg.spec);
      panels.specChanged();
    })
    .on("diverged", (msg) => {
      if (msg.relabel) { // after a language switch: the new words, for a banner still on screen
        if (!byTest("diverged-banner").hidden) showBanner(msg.message);
        return;
      }
      setRunning(false);
      showBanner(msg.message);
    })
    .on("error", (msg) => {
      toast(msg.message);
      if (S.liveUndo) {
        S.spec = S.stats.spec = S.liveUndo;
        S.liveUndo = null;
        if (S.lastQuery !== null) url.setServerQuery(S.lastQuery);
      }
      if (S.spec) controls.sync(S.spec);
      else if (!S.retried) {
        // the URL state was refused: start from the defaults (the toast says what was wrong)
        S.retried = true;
        send({ type: "init", query: "", lang: lang() });
      }
    })
    .on("tf_link", (msg) => {
      if (!msg.url) return toast(msg.message);
      const box = byTest("link-input");
      box.value = msg.url;
      box.select();
      const copied = navigator.clipboard ? navigator.clipboard.writeText(msg.url) : Promise.reject(new Error("no clipboard"));
      copied.then(() => toast(t("web.tfpg_copied")), () => toast(t("web.tfpg_copy_failed")));
    })
    .on("notice", (msg) => toast(msg.message))
    .on("saved", (msg) => sessionFile.saved(msg))
    .on("code", (msg) => panels.setCode(msg.script))
    .on("graph", (msg) => panels.setGraph(msg.dot))
    .on("close", (event) => {
      setRunning(false);
      setConnected(false);
      showBanner(t(event.code === FORBIDDEN ? "web.refused" : "web.reconnecting"));
    })
    .on("open", ({ reconnected }) => {
      setConnected(true);
      if (!reconnected) return;
      hideBanner();
      chart.reset();
      // a new session on the (maybe restarted) server, in the state the URL holds: settings,
      // initial weights and edits, and the language
      send({ type: "init", query: url.specQuery(), lang: lang() });
    });
  new GridView({ conn, meta, send, fps: () => fps }); // the grid view (grid.js)
  conn.connect();
  send({ type: "init", query: url.specQuery(), lang: language });
  measureDisplayRate();
  const tab = url.getView("tab");
  if (tab === "code" || tab === "graph") panels.show(tab);
}

main().catch((err) => {
  console.error(err);
  toast(String(err && err.message ? err.message : err));
});
