// The loss chart: training, validation and test loss per epoch on one canvas, with a y range
// fitted to the values shown (so a fall from 0.50 to 0.44 fills the chart), a legend of the
// series present, and the axes' labels and end values. Values are appended as frames arrive
// (every epoch); drawing happens once per animation frame at most, and long runs are drawn
// with a stride so a draw stays cheap.

import { t } from "./i18n.js";

const SERIES = [
  { key: "train_loss", label: "web.chart_train", colour: "#777777", dash: [] },
  { key: "val_loss", label: "web.chart_val", colour: "#f59322", dash: [5, 3] },
  { key: "test_loss", label: "web.chart_test", colour: "#0877bd", dash: [2, 2] },
];
const FONT = "10px system-ui, sans-serif";
const LEFT = 38; // room for the y values
const BOTTOM = 14; // room for the x values
const TOP = 14; // room for the legend

/** A short number for an axis: 3 significant digits, no trailing zeros. */
export function tick(v) {
  if (!Number.isFinite(v)) return "–";
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** Indices 0, stride, 2·stride, … and always the last one, n − 1. */
function* strided(n, stride) {
  for (let j = 0; j < n - 1; j += stride) yield j;
  if (n) yield n - 1;
}

/** The y range drawn for values in [lo, hi]: a tenth of the span as margin, never empty. */
export function fitRange(lo, hi) {
  if (!(hi >= lo)) return [0, 1];
  const span = hi - lo || Math.abs(hi) || 1;
  return [Math.max(lo >= 0 ? 0 : -Infinity, lo - span * 0.1), hi + span * 0.1];
}

export class LossChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.drawn = { legend: [], axes: [] }; // the labels last drawn (read by the browser tests)
    this.reset();
    // a new size (window, layout) needs a new bitmap: drawn again at once, never stretched
    new ResizeObserver(() => {
      this.dirty = true;
      this.draw();
    }).observe(canvas);
  }

  reset() {
    this.epochs = [];
    this.values = SERIES.map(() => []);
    this.lo = Infinity;
    this.hi = -Infinity;
    this.dirty = true;
  }

  /** Add one epoch's metrics (epochs that go back start a new chart). */
  push(epoch, metrics) {
    const last = this.epochs.length ? this.epochs[this.epochs.length - 1] : -1;
    if (epoch <= last) {
      if (epoch === last) return;
      this.reset();
    }
    if (!metrics) return;
    this.epochs.push(epoch);
    SERIES.forEach((s, i) => {
      const v = metrics[s.key];
      const ok = typeof v === "number" && Number.isFinite(v);
      this.values[i].push(ok ? v : NaN);
      if (ok) {
        this.lo = Math.min(this.lo, v);
        this.hi = Math.max(this.hi, v);
      }
    });
    this.dirty = true;
  }

  /** Redraw on the next draw (the language changed: the legend's labels did too). */
  invalidate() {
    this.dirty = true;
  }

  /** The y range drawn, [low, high] (for tests and the page's readers). */
  range() {
    return fitRange(this.lo, this.hi);
  }

  /** For the browser tests: range, epochs, the labels drawn, and the bitmap against the size on screen. */
  state() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    return { range: this.range(), epochs: this.epochs.length, ...this.drawn, bitmap: [c.width, c.height],
      css: [Math.round(c.clientWidth * dpr), Math.round(c.clientHeight * dpr)] };
  }

  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 200;
    const h = canvas.clientHeight || 90;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = FONT;
    const n = this.epochs.length;
    const present = SERIES.map((s, i) => this.values[i].some((v) => v === v));
    this.drawn = { legend: this._legend(w, present), axes: [] };
    if (n < 1 || !(this.hi >= this.lo)) return;
    const [lo, hi] = this.range();
    const plotW = w - LEFT - 4;
    const plotH = h - TOP - BOTTOM;
    const x0 = this.epochs[0];
    const x1 = this.epochs[n - 1];
    const sx = n > 1 ? plotW / (x1 - x0 || 1) : 0;
    const sy = plotH / (hi - lo);
    this._axes(w, h, lo, hi, x0, x1);
    this.drawn.axes = [t("web.chart_loss"), t("web.chart_epoch")];
    const stride = Math.max(1, Math.floor(n / (plotW * 2)));
    SERIES.forEach((s, i) => {
      if (!present[i]) return;
      const vals = this.values[i];
      ctx.beginPath();
      let pen = false;
      for (const j of strided(n, stride)) {
        const v = vals[j];
        if (!(v === v)) {
          pen = false;
          continue;
        }
        const x = LEFT + (this.epochs[j] - x0) * sx;
        const y = TOP + (hi - v) * sy;
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.setLineDash(s.dash);
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    });
    ctx.setLineDash([]);
  }

  /** Draw the legend of the series present; returns its labels. */
  _legend(w, present) {
    const { ctx } = this;
    const labels = [];
    let x = LEFT;
    ctx.textBaseline = "middle";
    SERIES.forEach((s, i) => {
      if (!present[i]) return;
      ctx.beginPath();
      ctx.setLineDash(s.dash);
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = 2;
      ctx.moveTo(x, 6);
      ctx.lineTo(x + 16, 6);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#444";
      const label = t(s.label);
      ctx.fillText(label, x + 20, 6);
      x += 28 + ctx.measureText(label).width;
      labels.push(label);
    });
    return labels;
  }

  _axes(w, h, lo, hi, x0, x1) {
    const { ctx } = this;
    ctx.strokeStyle = "#ccc";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(LEFT, TOP);
    ctx.lineTo(LEFT, h - BOTTOM);
    ctx.lineTo(w - 4, h - BOTTOM);
    ctx.stroke();
    ctx.fillStyle = "#666";
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    ctx.fillText(tick(hi), LEFT - 3, TOP);
    ctx.textBaseline = "bottom";
    ctx.fillText(tick(lo), LEFT - 3, h - BOTTOM);
    ctx.save();
    ctx.translate(8, TOP + (h - TOP - BOTTOM) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(t("web.chart_loss"), 0, 0);
    ctx.restore();
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.fillText(String(x0), LEFT, h - BOTTOM + 2);
    ctx.textAlign = "right";
    ctx.fillText(String(x1), w - 4, h - BOTTOM + 2);
    ctx.textAlign = "center";
    ctx.fillText(t("web.chart_epoch"), LEFT + (w - LEFT) / 2, h - BOTTOM + 2);
    ctx.textAlign = "left";
  }
}
