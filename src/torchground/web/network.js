// The network picture: input features, hidden neurons and the output node, each with its
// heat map, joined by SVG links coloured by sign and thickened by size (or by the last
// gradient in gradient view). The DOM and the SVG are built once per network shape;
// frames only change canvases and link attributes. Links and biases open an inline
// editor on click and show a card with their value on hover; +/− buttons change a layer's
// width. Hovering a feature or a neuron asks the page to show its map as the big map (as
// TensorFlow Playground does). The links are laid out again whenever a column changes size
// (a language's wider labels, the window, the layer count).

import { HeatMap, cssColour } from "./heatmap.js";
import { t } from "./i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function fmt(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4).replace(/\.?0+$/, "") || "0" : v.toExponential(3);
}

export class NetworkView {
  /**
   * @param {HTMLElement} root  container of the network columns
   * @param {object} on  callbacks: toggleFeature(name), edit(param, index, value), neurons(layer, delta),
   *     hover(target): target {feature: name} or {layer, index} (0-based hidden layer) while the
   *     pointer is on a map, null when it leaves
   */
  constructor(root, on) {
    this.root = root;
    this.on = on;
    this.links = [];
    this.biases = [];
    this.neuronMaps = [];
    this.featureMaps = new Map();
    this.params = null;
    this.grads = null;
    this.gradientView = false;
    this.editor = this._makeEditor();
    this.card = el("div", { class: "link-card", "data-testid": "link-card", hidden: "" });
    document.body.append(this.card);
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(root);
  }

  _hover(node, target) {
    node.addEventListener("pointerenter", () => this.on.hover && this.on.hover(target));
    node.addEventListener("pointerleave", () => this.on.hover && this.on.hover(null));
  }

  /** Build the picture for `network` ({features, widths}) with every feature of `all`. */
  build(all, network, featureMaps, limits) {
    const root = this.root;
    root.replaceChildren();
    this.resize.disconnect();
    this.resize.observe(root);
    this.svg = document.createElementNS(SVG_NS, "svg");
    this.svg.classList.add("links");
    root.append(this.svg);
    this.links = [];
    this.biases = [];
    this.neuronMaps = [];
    this.featureMaps = new Map();
    const active = network.features;
    const hidden = network.widths.slice(0, -1);
    root.classList.toggle("deep", hidden.length >= 4); // closer columns, so deep networks fit beside the output

    // input features: every one, the active ones lit and linked
    const fcol = el("div", { class: "col features" }, [el("div", { class: "col-head", "data-i18n": "web.features", text: t("web.features") })]);
    const sources = [];
    for (const f of all) {
      const name = typeof f === "string" ? f : f.name;
      const label = typeof f === "string" ? f : f.label || f.name;
      const canvas = el("canvas", { class: "map" });
      const node = el("div", { class: "node feature" + (active.includes(name) ? " active" : ""), "data-testid": `feature-${name}`, title: t("web.feature_toggle"), "data-i18n-title": "web.feature_toggle" }, [
        canvas,
        el("span", { class: "feature-label", text: label }),
      ]);
      node.addEventListener("click", () => this.on.toggleFeature(name));
      this._hover(node, { feature: name });
      const map = new HeatMap(canvas);
      if (featureMaps && featureMaps[name]) map.draw(featureMaps[name]);
      this.featureMaps.set(name, map);
      fcol.append(node);
      if (active.includes(name)) sources[active.indexOf(name)] = node;
    }
    root.append(fcol);
    this.resize.observe(fcol);

    // hidden layers
    let prev = sources;
    hidden.forEach((width, li) => {
      const layer = li + 1;
      const plus = el("button", { class: "mini", "data-testid": `add-neuron-${layer}`, "data-i18n-aria": "web.add_neuron", text: "+" });
      const minus = el("button", { class: "mini", "data-testid": `remove-neuron-${layer}`, "data-i18n-aria": "web.remove_neuron", text: "−" });
      plus.setAttribute("aria-label", t("web.add_neuron"));
      minus.setAttribute("aria-label", t("web.remove_neuron"));
      plus.disabled = width >= limits.neurons;
      minus.disabled = width <= 1;
      plus.addEventListener("click", () => this.on.neurons(layer, +1));
      minus.addEventListener("click", () => this.on.neurons(layer, -1));
      const count = el("div", { class: "neuron-count", text: t("web.neurons_n", { n: width }) });
      count.dataset.n = width;
      const col = el("div", { class: "col layer" }, [el("div", { class: "col-head buttons" }, [plus, minus]), count]);
      const maps = [];
      const nodes = [];
      for (let i = 0; i < width; i++) {
        const canvas = el("canvas", { class: "map" });
        const node = el("div", { class: "node neuron", "data-testid": `neuron-${layer}-${i}` }, [canvas]);
        node.append(this._bias(`layer${layer}.bias`, i));
        this._hover(node, { layer: li, index: i });
        col.append(node);
        maps.push(new HeatMap(canvas));
        nodes.push(node);
      }
      this._linkLayer(`layer${layer}.weight`, prev, nodes);
      this.neuronMaps.push(maps);
      root.append(col);
      this.resize.observe(col);
      prev = nodes;
    });

    // the output node
    this.outCanvas = el("canvas", { class: "map", width: 100, height: 100 });
    const out = el("div", { class: "node output", "data-testid": "output-node" }, [this.outCanvas]);
    out.append(this._bias("layer_out.bias", 0));
    root.append(el("div", { class: "col out" }, [el("div", { class: "col-head", "data-i18n": "web.output", text: t("web.output") }), out]));
    this._linkLayer("layer_out.weight", prev, [out]);
    this.layout();
    requestAnimationFrame(() => this.layout());
    if (this.params) this.update({ params: this.params, grads: this.grads }, this.gradientView, false);
  }

  _bias(param, index) {
    const b = el("div", { class: "bias", "data-testid": `bias-${param}-${index}` });
    b.addEventListener("click", (event) => {
      event.stopPropagation();
      this._edit(param, [index], b, event);
    });
    b.addEventListener("pointerenter", () => this._title(b, param, [index]));
    this.biases.push({ param, index, el: b, last: "" });
    return b;
  }

  _linkLayer(param, from, to) {
    to.forEach((target, row) => {
      from.forEach((source, col) => {
        const path = document.createElementNS(SVG_NS, "path");
        path.classList.add("link");
        const hit = document.createElementNS(SVG_NS, "path");
        hit.classList.add("link-hit");
        hit.setAttribute("data-testid", `link-${param}-${row}-${col}`);
        const title = document.createElementNS(SVG_NS, "title");
        hit.append(title);
        const link = { param, row, col, source, target, path, hit, title, colour: "", width: "" };
        hit.addEventListener("click", (event) => this._edit(param, [row, col], hit, event));
        hit.addEventListener("pointerenter", (event) => {
          this._title(link, param, [row, col]);
          this._showCard(param, [row, col], event);
        });
        hit.addEventListener("pointermove", (event) => this._placeCard(event));
        hit.addEventListener("pointerleave", () => (this.card.hidden = true));
        this.svg.append(path, hit);
        this.links.push(link);
      });
    });
  }

  /** Place the links between the nodes' current boxes. */
  layout() {
    if (!this.svg) return;
    // the links' own size must not hold the network wide (or tall) once its columns shrink
    this.svg.setAttribute("width", 0);
    this.svg.setAttribute("height", 0);
    const box = this.root.getBoundingClientRect();
    this.svg.setAttribute("width", this.root.scrollWidth);
    this.svg.setAttribute("height", this.root.scrollHeight);
    const anchors = new Map();
    const at = (node, side) => {
      let r = anchors.get(node);
      if (!r) anchors.set(node, (r = node.getBoundingClientRect()));
      return [(side ? r.left : r.right) - box.left + this.root.scrollLeft, r.top + r.height / 2 - box.top + this.root.scrollTop];
    };
    for (const link of this.links) {
      const [x0, y0] = at(link.source, 0);
      const [x1, y1] = at(link.target, 1);
      const xm = (x0 + x1) / 2;
      const d = `M${x0.toFixed(1)},${y0.toFixed(1)}C${xm.toFixed(1)},${y0.toFixed(1)} ${xm.toFixed(1)},${y1.toFixed(1)} ${x1.toFixed(1)},${y1.toFixed(1)}`;
      link.path.setAttribute("d", d);
      link.hit.setAttribute("d", d);
    }
  }

  value(param, index, grads = false) {
    const table = grads ? this.grads : this.params;
    let v = table && table[param];
    for (const i of index) v = v == null ? undefined : v[i];
    return typeof v === "number" ? v : v === null ? NaN : undefined;
  }

  _title(target, param, index) {
    const w = this.value(param, index);
    const g = this.value(param, index, true);
    const name = `${param}[${index.join(", ")}]`;
    let text = `${name} = ${w === undefined ? "?" : fmt(w)}`;
    if (g !== undefined && !Number.isNaN(g)) text += `\n${t("web.gradient")}: ${fmt(g)}`;
    if (target.title instanceof SVGElement || target.title instanceof Element) target.title.textContent = text;
    else target.title = text;
  }

  /** The hover card of a link: its weight, its last gradient (gradient view) and how to edit it. */
  _showCard(param, index, event) {
    const w = this.value(param, index);
    const rows = [[`${param}[${index.join(", ")}]`, ""], [t("web.card_weight"), w === undefined ? "?" : fmt(w)]];
    const g = this.value(param, index, true);
    if (this.gradientView && g !== undefined && !Number.isNaN(g)) rows.push([t("web.gradient"), fmt(g)]);
    this.card.replaceChildren(
      ...rows.map(([k, v]) => el("div", { class: "card-row" }, [el("span", { text: k }), el("b", { text: v })])),
      el("div", { class: "card-hint", text: t("web.card_hint") }),
    );
    this.card.hidden = false;
    this._placeCard(event);
  }

  /** Beside the pointer, on the side where the card stays inside the window. */
  _placeCard(event) {
    if (this.card.hidden || !event) return;
    const { offsetWidth: w, offsetHeight: h } = this.card;
    let x = event.clientX + 14;
    let y = event.clientY + 14;
    if (x + w > window.innerWidth - 4) x = Math.max(4, event.clientX - 14 - w);
    if (y + h > window.innerHeight - 4) y = Math.max(4, event.clientY - 14 - h);
    this.card.style.left = `${Math.round(x + window.scrollX)}px`;
    this.card.style.top = `${Math.round(y + window.scrollY)}px`;
  }

  /** Draw the frame's neuron maps, the output node and the link and bias styles. */
  update(frame, gradientView, titles, discrete = false) {
    this.params = frame.params || this.params;
    this.grads = frame.grads === undefined ? this.grads : frame.grads;
    this.gradientView = gradientView;
    if (frame.neurons) {
      frame.neurons.forEach((layer, l) => layer.forEach((map, i) => {
        const hm = this.neuronMaps[l] && this.neuronMaps[l][i];
        if (hm) hm.draw(map, discrete);
      }));
    }
    const useGrad = gradientView && this.grads;
    let scale = 1;
    if (useGrad) {
      let max = 0;
      for (const link of this.links) {
        const g = Math.abs(this.value(link.param, [link.row, link.col], true) || 0);
        if (g > max) max = g;
      }
      scale = max > 0 ? 1 / max : 1;
    }
    for (const link of this.links) {
      const raw = this.value(link.param, [link.row, link.col], useGrad);
      const v = raw === undefined ? 0 : raw * scale;
      const colour = cssColour(v);
      const a = Math.abs(v) || 0;
      const width = (useGrad ? 1 + 5 * Math.min(a, 1) : 1 + 9 * Math.min(a / 5, 1)).toFixed(1);
      if (colour !== link.colour) link.path.style.stroke = link.colour = colour;
      if (width !== link.width) link.path.style.strokeWidth = link.width = width;
      if (titles) this._title(link, link.param, [link.row, link.col]);
    }
    for (const b of this.biases) {
      const v = this.value(b.param, [b.index], useGrad);
      const colour = cssColour(v === undefined ? 0 : v * scale);
      if (colour !== b.last) b.el.style.background = b.last = colour;
      if (titles) this._title(b.el, b.param, [b.index]);
    }
  }

  /** Redraw every neuron's map from its kept values, discretized or not. */
  redrawMaps(discrete) {
    for (const layer of this.neuronMaps) for (const hm of layer) hm.redraw(discrete);
  }

  /** Copy the big output map into the output node. */
  drawOutput(source) {
    const ctx = this.outCanvas && this.outCanvas.getContext("2d");
    if (ctx && source.width) ctx.drawImage(source, 0, 0, this.outCanvas.width, this.outCanvas.height);
  }

  _makeEditor() {
    const input = el("input", { type: "text", inputmode: "decimal", "data-testid": "edit-input", autocomplete: "off", spellcheck: "false" });
    const label = el("label", { class: "edit-label" });
    const pop = el("div", { class: "edit-pop", hidden: "" }, [label, input]);
    document.body.append(pop);
    const close = () => {
      pop.hidden = true;
      this.editing = null;
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
      if (event.key !== "Enter") return;
      const value = Number(input.value.trim());
      if (!this.editing || input.value.trim() === "" || !Number.isFinite(value)) {
        input.classList.add("bad");
        return;
      }
      const { param, index } = this.editing;
      close();
      this.on.edit(param, index, value);
    });
    input.addEventListener("blur", () => {
      const was = this.editing;
      setTimeout(() => this.editing === was && close(), 150); // a click elsewhere closes it; a new edit does not
    });
    return { pop, input, label };
  }

  _edit(param, index, anchor, event) {
    const { pop, input, label } = this.editor;
    this.card.hidden = true;
    const w = this.value(param, index);
    this.editing = { param, index };
    label.textContent = `${param}[${index.join(", ")}]`;
    input.value = w === undefined || Number.isNaN(w) ? "" : fmt(w);
    input.classList.remove("bad");
    let x = event && event.clientX;
    let y = event && event.clientY;
    if (!x && !y) {
      const r = anchor.getBoundingClientRect();
      x = r.left + r.width / 2;
      y = r.top + r.height / 2;
    }
    pop.hidden = false;
    // beside the pointer, on the side where the editor stays inside the window
    const { offsetWidth: pw, offsetHeight: ph } = pop;
    x = x + 8 + pw > window.innerWidth - 4 ? Math.max(4, x - 8 - pw) : x + 8;
    y = y + 8 + ph > window.innerHeight - 4 ? Math.max(4, y - 8 - ph) : y + 8;
    pop.style.left = `${Math.round(x + window.scrollX)}px`;
    pop.style.top = `${Math.round(y + window.scrollY)}px`;
    input.focus();
    input.select();
  }
}
