// The PyTorch panels: "Code" (the exported script of the current settings, with a Copy
// button) and "Graph" (the autograd graph of the live model as DOT, drawn in the page by
// Graphviz compiled to WebAssembly: vendor/viz-standalone.js, loaded on first use).

import { t } from "./i18n.js";

const byTest = (id) => document.querySelector(`[data-testid="${id}"]`);

let vizPromise = null;
function viz() {
  if (!vizPromise) vizPromise = import("./vendor/viz-standalone.js").then((m) => m.instance());
  return vizPromise;
}

export class Panels {
  /** @param {(msg: object) => void} send  sends a protocol message */
  constructor(send, onTab) {
    this.send = send;
    this.onTab = onTab;
    this.tab = "";
    this.codeStale = true;
    this.graphStale = true;
    byTest("code-tab").addEventListener("click", () => this.show(this.tab === "code" ? "" : "code"));
    byTest("graph-tab").addEventListener("click", () => this.show(this.tab === "graph" ? "" : "graph"));
    byTest("graph-refresh").addEventListener("click", () => this.send({ type: "graph" }));
    byTest("copy-code").addEventListener("click", () => this.copy());
  }

  /** Open a tab ("code", "graph" or "" for none) and ask for its content if stale. */
  show(tab) {
    this.tab = tab;
    document.getElementById("code-panel").hidden = tab !== "code";
    document.getElementById("graph-panel").hidden = tab !== "graph";
    byTest("code-tab").classList.toggle("active", tab === "code");
    byTest("graph-tab").classList.toggle("active", tab === "graph");
    byTest("code-tab").setAttribute("aria-selected", String(tab === "code"));
    byTest("graph-tab").setAttribute("aria-selected", String(tab === "graph"));
    this.onTab(tab);
    this.refresh();
  }

  /** The settings changed: the script is stale. */
  specChanged() {
    this.codeStale = true;
    this.graphStale = true;
    this.refresh();
  }

  /** The weights changed (step, edit, pause): the graph's values are stale. */
  weightsChanged() {
    this.graphStale = true;
    if (this.tab === "graph") this.refresh();
  }

  refresh() {
    if (this.tab === "code" && this.codeStale) {
      this.codeStale = false;
      this.send({ type: "code" });
    }
    if (this.tab === "graph" && this.graphStale) {
      this.graphStale = false;
      this.send({ type: "graph" });
    }
  }

  setCode(script) {
    byTest("code-text").textContent = script;
  }

  async setGraph(dot) {
    const box = document.getElementById("graph-box");
    try {
      const v = await viz();
      // Graphviz sizes boxes from its built-in font metrics, which know Courier but not the
      // generic "monospace": lay out with Courier's, draw with a monospace font (style.css).
      const svg = v.renderSVGElement(dot.replace(/fontname\s*=\s*"?monospace"?/gi, 'fontname="Courier"'));
      svg.setAttribute("data-testid", "graph-svg");
      box.replaceChildren(svg);
    } catch (err) {
      const pre = document.createElement("pre");
      pre.className = "code";
      pre.textContent = `${t("web.graph_failed")}\n${err && err.message ? err.message : err}\n\n${dot}`;
      box.replaceChildren(pre);
    }
  }

  async copy() {
    const text = byTest("code-text").textContent;
    const button = byTest("copy-code");
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const range = document.createRange();
      range.selectNodeContents(byTest("code-text"));
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      document.execCommand("copy");
    }
    button.textContent = t("web.copied");
    setTimeout(() => (button.textContent = t("web.copy")), 1500);
  }
}
