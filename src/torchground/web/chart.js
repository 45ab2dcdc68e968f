// The small loss chart: training, validation and test loss per epoch on one canvas.
// Values are appended as frames arrive (every epoch); drawing happens once per animation
// frame at most, and long runs are drawn with a stride so a draw stays cheap.

const SERIES = [
  { key: "train_loss", colour: "#9a9a9a", width: 1.5 },
  { key: "val_loss", colour: "#f59322", width: 1.5 },
  { key: "test_loss", colour: "#222222", width: 1.5 },
];

export class LossChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.reset();
  }

  reset() {
    this.epochs = [];
    this.values = SERIES.map(() => []);
    this.max = 0;
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
      if (ok && v > this.max) this.max = v;
    });
    this.dirty = true;
  }

  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 200;
    const h = canvas.clientHeight || 60;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const n = this.epochs.length;
    if (n < 2 || !(this.max > 0)) return;
    const stride = Math.max(1, Math.floor(n / (w * 2)));
    const sx = (w - 2) / (n - 1);
    const sy = (h - 4) / this.max;
    SERIES.forEach((s, i) => {
      const vals = this.values[i];
      ctx.beginPath();
      let pen = false;
      for (let j = 0; j < n; j += stride) {
        const v = vals[j];
        if (!(v === v)) {
          pen = false;
          continue;
        }
        const x = 1 + j * sx;
        const y = h - 2 - v * sy;
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = s.width;
      ctx.stroke();
    });
  }
}
