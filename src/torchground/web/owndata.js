// Your own data in the page: upload a CSV file (file picker, or drag-and-drop onto the data
// panel or the output picture), click points in (the class picked here) and clear them;
// with K classes the output picture is coloured by the most likely class, its strength by
// that class's probability, with a legend of the class names.
//
// Uploads go to POST /api/data (the launch token's cookie, the server's 10 MB cap); the
// server checks the file by the CLI's rules and answers the spec fields, sent back in a
// `set`. The state message's `view` says where the points lie: `box` in the network's
// (standardised) units, and for a data file `mean` and `scale` (file units = x·scale + mean).

import { drawAxes } from "./axes.js";
import { postFile } from "./upload.js";
import { t } from "./i18n.js";

/** Colours of K classes, class 0 first (the first two are the Playground's orange and blue). */
export const CLASS_COLOURS = [
  "#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];
const CLASS_RGB = CLASS_COLOURS.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
const GREY = [232, 234, 235];
const NAMES = "ABCDEFGHIJ".split("");
const PLANE = { box: [-6, 6, -6, 6], classes: 2, class_names: [] };

export class OwnData {
  /**
   * @param {object} hooks `set(changes)` sends a `set`; `toast(text)` shows a message;
   *   `redrawPoints()` asks the page to draw the points again.
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.view = PLANE;
    this.points = []; // clicked points: [x1, x2, class name] in the file's units
  }

  /** Build the controls into the data panel and the legend into the output panel. */
  mount() {
    const panel = document.querySelector(".panel.data");
    const box = document.createElement("div");
    box.className = "own-data";
    box.innerHTML = `
      <label class="classes-choice" data-testid="classes-choice" hidden>
        <span data-i18n="web.own_classes"></span>
        <select data-testid="classes">${[3, 4, 5, 6, 7, 8, 9, 10].map((k) => `<option value="${k}">${k}</option>`).join("")}</select>
      </label>
      <div class="sub" data-i18n="web.own_title"></div>
      <label class="text-button upload" data-testid="data-upload">
        <span data-i18n="web.own_upload"></span>
        <input type="file" accept=".csv,text/csv" data-testid="data-upload-input" hidden>
      </label>
      <div class="add-points" data-testid="add-points">
        <label class="check"><input type="checkbox" data-testid="add-points-toggle"> <span data-i18n="web.own_click"></span></label>
        <select data-testid="add-points-class">${NAMES.map((n) => `<option value="${n}">${n}</option>`).join("")}</select>
        <button class="text-button" data-testid="add-points-clear" data-i18n="web.own_clear"></button>
        <span class="sub" data-testid="add-points-count"></span>
      </div>
      <div class="hint" data-i18n="web.own_hint"></div>`;
    panel.appendChild(box);
    const legend = document.createElement("div");
    legend.className = "class-legend";
    legend.setAttribute("data-testid", "class-legend");
    document.querySelector(".panel.output .heat").after(legend);
    this.legend = legend;

    const input = box.querySelector("input[type=file]");
    input.addEventListener("change", () => {
      if (input.files && input.files[0]) this.uploadFile(input.files[0]);
      input.value = "";
    });
    for (const target of [panel, document.querySelector(".panel.output .heat")]) {
      target.addEventListener("dragover", (e) => {
        e.preventDefault();
        target.classList.add("drop");
      });
      target.addEventListener("dragleave", () => target.classList.remove("drop"));
      target.addEventListener("drop", (e) => {
        e.preventDefault();
        target.classList.remove("drop");
        const file = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
        if (file) this.uploadFile(file);
      });
    }
    this.classesChoice = box.querySelector("[data-testid=classes-choice]");
    this.classesSelect = box.querySelector("[data-testid=classes]");
    this.classesSelect.addEventListener("change", () => this.hooks.set({ classes: Number(this.classesSelect.value) }));
    this.toggle = box.querySelector("[data-testid=add-points-toggle]");
    this.choice = box.querySelector("[data-testid=add-points-class]");
    this.count = box.querySelector("[data-testid=add-points-count]");
    box.querySelector("[data-testid=add-points-clear]").addEventListener("click", () => this.clear());
    const canvas = document.getElementById("points");
    canvas.addEventListener("click", (e) => {
      if (!this.toggle.checked) return;
      const r = canvas.getBoundingClientRect();
      this.addPoint((e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
    });
    this.toggle.addEventListener("change", () => canvas.classList.toggle("adding", this.toggle.checked));
    this._count();
  }

  /** Take the `view` of a state message (where the points lie, the classes). */
  onState(msg) {
    this.view = msg.view || PLANE;
    const multi = msg.spec && ["blobs", "spiral-k"].includes(msg.spec.dataset); // data sets made with K classes
    this.classesChoice.hidden = !multi;
    if (multi) this.classesSelect.value = String(msg.spec.classes);
    const [x0, y0] = this.toFile([this.view.box[0], this.view.box[2]]);
    const [x1, y1] = this.toFile([this.view.box[1], this.view.box[3]]);
    const heat = document.querySelector(".heat");
    if (heat) drawAxes(heat, [x0, x1], [y0, y1]);
    this._legend();
  }

  /** A point in the network's units → the file's units. */
  toFile([a, b]) {
    const v = this.view;
    if (!v.mean) return [a, b];
    return [a * v.scale[0] + v.mean[0], b * v.scale[1] + v.mean[1]];
  }

  /** Add a clicked point at (fx, fy), fractions of the picture from its top-left corner. */
  addPoint(fx, fy) {
    const [x0, x1, y0, y1] = this.view.box;
    const [a, b] = this.toFile([x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)]);
    this.points.push([a, b, this.choice.value]);
    this._count();
    this.hooks.redrawPoints();
    const classes = new Set(this.points.map((p) => p[2]));
    if (classes.size < 2) {
      this.hooks.toast(t("web.own_need_two"));
      return;
    }
    const rows = this.points.map(([x, y, c]) => `${x},${y},${c}`);
    this.upload(["x1,x2,label", ...rows].join("\n") + "\n");
  }

  /** Forget the clicked points; the page goes back to the Playground's circle. */
  clear() {
    const had = this.points.length > 0;
    this.points = [];
    this._count();
    this.hooks.redrawPoints();
    if (had) this.hooks.set({ dataset: "circle" });
  }

  /** The clicked points, for the points canvas: [[x1, x2, class index]] in the network's units. */
  pending() {
    const v = this.view;
    const back = v.mean ? ([x, y]) => [(x - v.mean[0]) / v.scale[0], (y - v.mean[1]) / v.scale[1]] : (p) => p;
    return this.points.map(([x, y, c]) => [...back([x, y]), NAMES.indexOf(c)]);
  }

  async uploadFile(file) {
    if (file.size > 10 * 1024 * 1024) {
      this.hooks.toast(t("web.own_too_big"));
      return;
    }
    this.upload(await file.arrayBuffer());
  }

  async upload(body) {
    const answer = await postFile("/api/data", body, this.hooks.toast);
    if (answer) this.hooks.set(answer.changes);
  }

  /** Colour the output canvas by class where the frame's output map carries classes. */
  drawClasses(canvas, map) {
    if (!map || !map.classes) return false;
    const n = map.size;
    const strength = atob(map.data);
    const classes = atob(map.classes);
    const k = Math.max(2, this.view.classes || 2);
    const ctx = canvas.getContext("2d");
    canvas.width = n;
    canvas.height = n;
    const image = ctx.createImageData(n, n);
    const px = image.data;
    for (let i = 0; i < n * n; i++) {
      const p = strength.charCodeAt(i) / 255; // probability of the most likely class
      const s = Math.min(1, Math.max(0, (p - 1 / k) / (1 - 1 / k))) * 0.75;
      const c = CLASS_RGB[classes.charCodeAt(i) % CLASS_RGB.length];
      for (let j = 0; j < 3; j++) px[4 * i + j] = Math.round(GREY[j] + (c[j] - GREY[j]) * s);
      px[4 * i + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    return true;
  }

  _legend() {
    const v = this.view;
    const names = v.class_names || [];
    const many = (v.classes || 2) > 2;
    if (!names.length || (!many && names[0] === "-1")) {
      this.legend.hidden = true;
      return;
    }
    this.legend.hidden = false;
    const colours = many ? CLASS_COLOURS : [CLASS_COLOURS[0], CLASS_COLOURS[1]];
    this.legend.innerHTML = "";
    names.forEach((name, i) => {
      const item = document.createElement("span");
      item.className = "class-item";
      const dot = document.createElement("i");
      dot.style.background = colours[i];
      item.append(dot, document.createTextNode(name));
      this.legend.append(item);
    });
  }

  _count() {
    if (this.count) this.count.textContent = t("web.own_count", { n: this.points.length });
  }
}
