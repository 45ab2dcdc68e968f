// The settings: the top bar (learning rate, activation, regularisation, optimiser and
// its hyper-parameters, loss, output activation, init), the data panel (data sets, split,
// noise, batch size) and the layer buttons. Controls are filled from /api/options (and the
// data-set thumbnails from /api/meta) and show the spec of the last `state`; a change calls
// `set(changes)` with spec fields. Optimiser settings are sent as the text the user typed
// (`name=value;…`, the URL's form): the server reads them, the page holds no parser.

import { drawThumbnail } from "./points.js";
import { lang, t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);
const byTest = (id) => document.querySelector(`[data-testid="${id}"]`);
const nameOf = (e) => (typeof e === "string" ? e : e.name);
const summaryOf = (e) => (typeof e === "string" ? "" : e.summary || "");

function fill(select, entries, { text = nameOf, title = summaryOf } = {}) {
  const keep = select.value;
  select.replaceChildren(
    ...entries.map((e) => {
      const o = document.createElement("option");
      o.value = nameOf(e);
      o.textContent = text(e);
      const tip = title(e);
      if (tip) o.title = tip;
      return o;
    }),
  );
  if (keep) select.value = keep;
}

function ensureOption(select, value, text = value) {
  if (![...select.options].some((o) => o.value === value)) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    const other = [...select.options].find((x) => x.value === "other");
    select.insertBefore(o, other || null);
  }
  select.value = value;
}

function argText(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map((x) => (x === null ? "None" : String(x))).join(", ");
  return String(v);
}

/**
 * The optimiser settings as name → the text shown: from the server's spec (values) or
 * from a change not yet answered (the `name=value;…` text sent, split at `;` and the
 * first `=` only: reading the values is the server's job).
 */
export function argTexts(args) {
  if (typeof args === "string") {
    const out = {};
    for (const item of args.split(";")) {
      const at = item.indexOf("=");
      if (at > 0) out[item.slice(0, at).trim()] = item.slice(at + 1).trim();
    }
    return out;
  }
  return Object.fromEntries(Object.entries(args || {}).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, argText(v)]));
}

export class Controls {
  /**
   * @param {object} on  set(changes), view(name, value), regenerate(), layers(delta)
   */
  constructor(on) {
    this.on = on;
    this.options = null;
    this.spec = null;
    this.regType = "none";
    this.thumbnails = {};
    this._wire();
  }

  /** The data-set thumbnails' points, name → [[x1, x2, label], …] (/api/meta). */
  setThumbnails(thumbnails) {
    this.thumbnails = thumbnails || {};
  }

  /** (Re)fill every list from /api/options (also after a language change: summaries). */
  setOptions(options) {
    this.options = options;
    const lrText = (v) => String(v);
    const lr = byTest("lr");
    fill(lr, [...options.learning_rates.map(String), { name: "other", text: "…" }], {
      text: (e) => (typeof e === "string" ? lrText(e) : t("web.lr_other")),
      title: () => "",
    });
    fill(byTest("reg-rate"), options.regularization_rates.map(String), { title: () => "" });
    fill(byTest("activation"), options.activations);
    fill(byTest("output-activation"), options.activations);
    fill(byTest("optimizer"), options.optimizers);
    if (options.schedulers) fill(byTest("scheduler"), options.schedulers);
    fill(byTest("loss-select"), options.losses);
    fill(byTest("init"), options.inits);
    byTest("batch-size").max = String(options.limits.batch_size);
    byTest("noise").max = String(options.limits.noise);
    this._datasets(options.datasets);
    if (this.spec) this.sync(this.spec);
  }

  _datasets(datasets) {
    const box = $("#datasets");
    box.replaceChildren();
    for (const d of datasets) {
      const name = nameOf(d);
      const canvas = document.createElement("canvas");
      drawThumbnail(canvas, this.thumbnails[name], d.problem);
      const button = document.createElement("button");
      button.className = "dataset";
      button.dataset.testid = `dataset-${name}`;
      button.setAttribute("data-testid", `dataset-${name}`);
      button.title = `${name}${d.problem ? ` (${t(`web.problem_${d.problem}`)})` : ""}`;
      const label = document.createElement("span");
      label.textContent = name;
      button.append(canvas, label);
      button.addEventListener("click", () => {
        if (this.spec && this.spec.dataset !== name) this.on.set({ dataset: name });
      });
      box.append(button);
    }
  }

  _wire() {
    const set = (changes) => this.on.set(changes);
    const lr = byTest("lr");
    const custom = byTest("lr-custom");
    lr.addEventListener("change", () => {
      if (lr.value === "other") {
        custom.hidden = false;
        custom.value = this.spec ? String(this.spec.lr) : "";
        custom.focus();
        custom.select();
        return;
      }
      custom.hidden = true;
      set({ lr: Number(lr.value) });
    });
    const applyCustom = () => {
      const v = Number(custom.value.trim());
      if (!(v > 0) || !Number.isFinite(v)) {
        custom.classList.add("bad");
        return;
      }
      custom.classList.remove("bad");
      custom.hidden = true;
      ensureOption(lr, String(v));
      set({ lr: v });
    };
    custom.addEventListener("keydown", (e) => {
      if (e.key === "Enter") applyCustom();
      if (e.key === "Escape") {
        custom.hidden = true;
        if (this.spec) this.sync(this.spec);
      }
    });
    custom.addEventListener("change", applyCustom);

    byTest("activation").addEventListener("change", (e) => set({ activation: e.target.value }));
    byTest("output-activation").addEventListener("change", (e) => set({ output_activation: e.target.value }));
    byTest("init").addEventListener("change", (e) => set({ init: e.target.value }));
    byTest("loss-select").addEventListener("change", (e) => set({ loss: e.target.value }));
    byTest("optimizer").addEventListener("change", (e) => set({ optimizer: e.target.value, optimizer_args: {} }));
    // The learning-rate schedule with its default settings ("none": a constant rate).
    byTest("scheduler").addEventListener("change", (e) => set({ scheduler: e.target.value, scheduler_args: {} }));

    const reg = byTest("regularization");
    const rate = byTest("reg-rate");
    const applyReg = () => {
      this.regType = reg.value;
      const r = Number(rate.value) || 0;
      set({ l1: reg.value === "l1" ? r : 0, l2: reg.value === "l2" ? r : 0 });
    };
    reg.addEventListener("change", applyReg);
    rate.addEventListener("change", applyReg);

    // data panel: sliders show their value while dragged and send on release
    const ratio = byTest("ratio");
    const val = byTest("val-share");
    const split = () => {
      const train = Number(ratio.value);
      const v = Math.min(Number(val.value), 100 - train);
      return { train_pct: train, val_pct: v, test_pct: 100 - train - v };
    };
    const showSplit = () => {
      const s = split();
      $("#ratio-value").textContent = s.train_pct;
      $("#val-value").textContent = s.val_pct;
      $("#test-value").textContent = s.test_pct;
    };
    ratio.addEventListener("input", showSplit);
    val.addEventListener("input", showSplit);
    ratio.addEventListener("change", () => set(split()));
    val.addEventListener("change", () => set(split()));

    const noise = byTest("noise");
    noise.addEventListener("input", () => ($("#noise-value").textContent = noise.value));
    noise.addEventListener("change", () => set({ noise: Number(noise.value) }));

    const batch = byTest("batch-size");
    const full = byTest("batch-full");
    batch.addEventListener("input", () => ($("#batch-value").textContent = batch.value));
    batch.addEventListener("change", () => {
      full.checked = false;
      set({ batch_size: Number(batch.value) });
    });
    full.addEventListener("change", () => set({ batch_size: full.checked ? "full" : Number(batch.value) }));

    byTest("regenerate").addEventListener("click", () => this.on.regenerate());
    byTest("add-layer").addEventListener("click", () => this.on.layers(+1));
    byTest("remove-layer").addEventListener("click", () => this.on.layers(-1));
  }

  /** Show `spec` in every control. */
  sync(spec) {
    this.spec = spec;
    if (!this.options) return;
    const lr = byTest("lr");
    const known = [...lr.options].find((o) => o.value !== "other" && Number(o.value) === spec.lr);
    if (known) lr.value = known.value;
    else ensureOption(lr, String(spec.lr));
    byTest("lr-custom").hidden = true;
    byTest("activation").value = spec.activation;
    byTest("output-activation").value = spec.output_activation;
    byTest("init").value = spec.init;
    byTest("loss-select").value = spec.loss;
    byTest("optimizer").value = spec.optimizer;
    byTest("scheduler").value = spec.scheduler || "none";

    const rate = spec.l1 > 0 ? spec.l1 : spec.l2 > 0 ? spec.l2 : null;
    if (rate !== null) {
      this.regType = spec.l1 > 0 ? "l1" : "l2";
      const r = byTest("reg-rate");
      const known2 = [...r.options].find((o) => Number(o.value) === rate);
      if (known2) r.value = known2.value;
      else ensureOption(r, String(rate));
    } else if (this.regType !== "none" && Number(byTest("reg-rate").value) !== 0) {
      this.regType = "none";
    }
    byTest("regularization").value = this.regType;

    for (const b of document.querySelectorAll(".dataset")) {
      b.classList.toggle("selected", b.getAttribute("data-testid") === `dataset-${spec.dataset}`);
    }
    byTest("ratio").value = spec.train_pct;
    byTest("val-share").value = spec.val_pct;
    $("#ratio-value").textContent = spec.train_pct;
    $("#val-value").textContent = spec.val_pct;
    $("#test-value").textContent = spec.test_pct;
    byTest("noise").value = spec.noise;
    $("#noise-value").textContent = spec.noise;
    const full = spec.batch_size === "full";
    byTest("batch-full").checked = full;
    if (!full) byTest("batch-size").value = spec.batch_size;
    $("#batch-value").textContent = full ? t("web.full_batch") : spec.batch_size;

    const hidden = spec.hidden || [];
    const limits = this.options.limits;
    byTest("add-layer").disabled = hidden.length >= limits.layers;
    byTest("remove-layer").disabled = hidden.length === 0;
    const label = $("#layers-label");
    label.textContent = t("web.hidden_layers_n", { n: hidden.length });
    label.dataset.n = hidden.length;
    this._optArgs(spec);
  }

  /** Inputs for weight decay and the optimiser's own hyper-parameters. */
  _optArgs(spec) {
    const box = $("#opt-args");
    const entry = this.options.optimizers.find((o) => nameOf(o) === spec.optimizer);
    const params = (entry && entry.params) || {};
    const key = JSON.stringify([lang(), spec.optimizer, spec.weight_decay, spec.optimizer_args, Object.keys(params)]); // rebuilt in a new language too
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren();
    const title = document.createElement("span");
    title.className = "opt-title";
    title.textContent = t("web.optimizer_args", { name: spec.optimizer });
    box.append(title);
    const field = (name, value, placeholder, onChange) => {
      const label = document.createElement("label");
      label.className = "opt-arg";
      const span = document.createElement("span");
      span.textContent = name;
      const input = document.createElement("input");
      input.type = "text";
      input.value = value;
      input.placeholder = placeholder;
      input.setAttribute("data-testid", `opt-${name}`);
      input.addEventListener("change", () => onChange(input.value));
      label.append(span, input);
      box.append(label);
    };
    if (!entry || entry.weight_decay !== false) {  // rprop and lbfgs take no weight decay
      field("weight_decay", argText(spec.weight_decay), "0", (text) => {
        const v = text.trim() === "" ? 0 : Number(text);
        this.on.set({ weight_decay: v });
      });
    }
    const texts = argTexts(spec.optimizer_args);
    for (const [name, def] of Object.entries(params)) {
      const current = name in texts ? texts[name] : "";
      // A default pair holding None (Adafactor's eps) cannot be typed back: show it as "default".
      const shown = Array.isArray(def) && def.includes(null) ? t("web.default") : argText(def) || "None";
      field(name, current, shown, (text) => {
        const args = { ...texts };
        if (text.trim() === "") delete args[name];
        else args[name] = text.trim();
        this.on.set({ optimizer_args: Object.entries(args).map(([k, v]) => `${k}=${v}`).join(";") });
      });
    }
  }
}
