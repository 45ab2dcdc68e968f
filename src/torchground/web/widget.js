// The notebook playground (anywidget front end): the page itself, in an iframe of the cell's
// output, talking to the kernel over the widget's own channel instead of a server.
//
// The page's modules (app.js and the rest of web/) are the same files the server serves:
// Python sends their text once (the `files` trait); here each becomes a blob: module whose
// imports point at the others' blob URLs, and index.html is written into the iframe with
// them. In the iframe, `window.__tgBridge` stands in for the WebSocket (ws.js uses it) and
// `/api/…` requests go over the same channel (the kernel answers them with the server's
// own handlers). Messages: {kind: "ws", text} both ways; {kind: "fetch", id, method, path,
// body, binary} → {kind: "fetch", id, status, body, type}, where a file the page posts (an
// uploaded CSV, a saved session: an ArrayBuffer) travels as the message's binary buffer
// (binary: true, body: null); {kind: "view", view} when a view opens and {kind: "closed",
// view} when it goes (the kernel pauses once no view shows the playground). Large modules
// the page imports on first use (vendor/: Graphviz) are not in `files`: the page's
// `import("./vendor/x.js")` asks for them then, {kind: "file", name} → {kind: "file", name, text}.

const MODULE = /(["'])\.\/([\w./-]+\.js)\1/g;
const DYNAMIC = /import\((["'])\.\/([\w./-]+\.js)\1\)/g;

/** Blob URLs of every module, each with its "./x.js" imports pointing at the others' URLs. */
function moduleUrls(files) {
  const urls = {};
  const making = new Set();
  const make = (name) => {
    if (urls[name]) return urls[name];
    if (making.has(name) || !(name in files)) return null;
    making.add(name);
    const dir = name.includes("/") ? name.slice(0, name.lastIndexOf("/") + 1) : "";
    // a module imported on first use that Python did not send: asked for then (window.__tgImport)
    const lazy = files[name].replace(DYNAMIC, (m, q, rel) => (dir + rel in files ? m : `window.__tgImport(${JSON.stringify(dir + rel)})`));
    const text = lazy.replace(MODULE, (m, q, rel) => {
      const url = make(dir + rel);
      return url ? `${q}${url}${q}` : m;
    });
    urls[name] = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
    return urls[name];
  };
  for (const name of Object.keys(files)) if (name.endsWith(".js")) make(name);
  return urls;
}

/** index.html with the stylesheet inline and app.js from its blob URL, after the bridge's set-up. */
function pageHtml(files, urls, lang) {
  const boot = `<script>
    window.__tgEmbedded = ${JSON.stringify({ lang })};
    const pending = new Map();
    const modules = new Map(); // name → the import of a module asked for on first use
    const asked = new Map(); // name → resolves with its blob URL
    let next = 0;
    window.__tgImport = (name) => {
      if (!modules.has(name)) {
        const url = new Promise((resolve) => {
          asked.set(name, resolve);
          parent.postMessage({ tg: "file", name }, "*");
        });
        modules.set(name, url.then((u) => import(u)));
      }
      return modules.get(name);
    };
    window.__tgBridge = { handlers: [], send(text) { parent.postMessage({ tg: "ws", text }, "*"); } };
    const plainFetch = window.fetch.bind(window);
    window.fetch = async (input, init = {}) => {
      const path = typeof input === "string" ? input : input.url;
      if (!path.startsWith("/api/")) return plainFetch(input, init);
      let body = init.body ?? null;
      if (body instanceof Blob) body = await body.arrayBuffer();
      else if (ArrayBuffer.isView(body)) body = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
      const id = ++next;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        parent.postMessage({ tg: "fetch", id, method: init.method || "GET", path, body }, "*");
      });
    };
    window.addEventListener("message", (event) => {
      const msg = event.data || {};
      if (msg.tg === "ws") for (const fn of window.__tgBridge.handlers) fn(msg.text);
      if (msg.tg === "file" && asked.has(msg.name)) {
        asked.get(msg.name)(msg.url);
        asked.delete(msg.name);
      }
      if (msg.tg === "fetch" && pending.has(msg.id)) {
        pending.get(msg.id)(new Response(msg.body, { status: msg.status, headers: { "content-type": msg.type } }));
        pending.delete(msg.id);
      }
    });
  </script>`;
  return files["index.html"]
    .replace(/<link rel="stylesheet"[^>]*>/, `<style>${files["style.css"]}</style>`)
    .replace(/<script type="module" src="[^"]*app\.js"><\/script>/, `${boot}<script type="module" src="${urls["app.js"]}"></script>`);
}

function render({ model, el }) {
  const files = model.get("files");
  const urls = moduleUrls(files);
  const frame = document.createElement("iframe");
  frame.style.cssText = "width: 100%; border: 0; display: block;";
  frame.style.height = `${model.get("height")}px`;
  frame.setAttribute("data-testid", "tg-widget");
  frame.srcdoc = pageHtml(files, urls, model.get("browser_lang") ? null : model.get("lang"));
  el.append(frame);

  const toPage = (msg) => frame.contentWindow && frame.contentWindow.postMessage(msg, "*");
  const fromPage = (event) => {
    if (event.source !== frame.contentWindow) return;
    const msg = event.data || {};
    if (msg.tg === "ws") model.send({ kind: "ws", text: msg.text });
    if (msg.tg === "fetch") {
      const binary = Object.prototype.toString.call(msg.body) === "[object ArrayBuffer]";
      const head = { kind: "fetch", id: msg.id, method: msg.method, path: msg.path, body: binary ? null : msg.body, binary };
      model.send(head, undefined, binary ? [msg.body] : []);
    }
    if (msg.tg === "file") model.send({ kind: "file", name: msg.name });
  };
  const fromKernel = (msg) => {
    if (msg.kind === "ws") toPage({ tg: "ws", text: msg.text });
    if (msg.kind === "fetch") toPage({ tg: "fetch", id: msg.id, status: msg.status, body: msg.body, type: msg.type });
    if (msg.kind === "file" && typeof msg.text === "string") {
      urls[`file:${msg.name}`] ??= URL.createObjectURL(new Blob([msg.text], { type: "text/javascript" }));
      toPage({ tg: "file", name: msg.name, url: urls[`file:${msg.name}`] });
    }
  };
  window.addEventListener("message", fromPage);
  model.on("msg:custom", fromKernel);
  model.on("change:height", () => (frame.style.height = `${model.get("height")}px`));
  const view = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  model.send({ kind: "view", view });
  return () => {
    window.removeEventListener("message", fromPage);
    model.off("msg:custom", fromKernel);
    model.send({ kind: "closed", view });
    for (const url of Object.values(urls)) URL.revokeObjectURL(url);
  };
}

export default { render };
