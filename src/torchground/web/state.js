// The page's URL state: the spec part (spec fields and `edits`, in the
// CLI's text forms, as the server writes them), then the page's view options; the token is read once and never written back.
// The server's `query` (in every `state` message) is the authority for the spec part; the
// page adds what it changes without a rebuild (live settings, weight edits) and writes the
// URL with history.replaceState after every change. Which parameters are view options, and
// their defaults, the page learns from the server (/api/meta, `view_defaults`): until
// `setViewDefaults` is called every parameter but the token counts as the spec part.

function parse(text) {
  const out = new Map();
  for (const [k, v] of new URLSearchParams(text)) out.set(k, v);
  return out;
}

// URLSearchParams writes "," as %2C and ":" as %3A; the query reads better with them kept.
function encode(v) {
  return encodeURIComponent(v).replace(/%2C/gi, ",").replace(/%3A/gi, ":").replace(/%3B/gi, ";");
}

function join(map) {
  return [...map].map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&");
}

export class UrlState {
  constructor(search = location.search) {
    const all = parse(search);
    this.token = all.get("token") || "";
    all.delete("token");
    this.defaults = {}; // view option → its text when left out (from the server)
    this.view = new Map();
    this.spec = all; // spec fields + edits
  }

  /** Take the view options and their defaults (/api/meta); move them out of the spec part. */
  setViewDefaults(defaults) {
    this.defaults = { ...defaults };
    for (const name of Object.keys(this.defaults)) {
      if (this.spec.has(name)) this.view.set(name, this.spec.get(name));
      this.spec.delete(name);
    }
  }

  /** The spec part as a query string (for `init`). */
  specQuery() {
    return join(this.spec);
  }

  /** Take the server's canonical query as the spec part. */
  setServerQuery(query) {
    const q = parse(query || "");
    q.delete("token");
    for (const name of Object.keys(this.defaults)) q.delete(name);
    this.spec = q;
    this.write();
  }

  /** Set spec fields changed without a rebuild (lr, l1, l2, weight_decay, optimizer_args). */
  setFields(changes) {
    for (const [k, v] of Object.entries(changes)) {
      const text = fieldText(k, v);
      if (text === null) this.spec.delete(k);
      else this.spec.set(k, text);
    }
    this.write();
  }

  /** Record one weight edit `param:row[:col]:value` (a later edit of the same weight replaces it). */
  addEdit(param, index, value) {
    const key = [param, ...index].join(":");
    const kept = (this.spec.get("edits") || "")
      .split(";")
      .filter((e) => e && e.slice(0, e.lastIndexOf(":")) !== key);
    kept.push(`${key}:${value}`);
    this.spec.set("edits", kept.join(";"));
    this.write();
  }

  getView(name) {
    return this.view.has(name) ? this.view.get(name) : this.defaults[name] ?? "";
  }

  flag(name) {
    return this.getView(name) === "1";
  }

  setView(name, value) {
    const text = typeof value === "boolean" ? (value ? "1" : "0") : String(value);
    if (text === (this.defaults[name] ?? "")) this.view.delete(name);
    else this.view.set(name, text);
    this.write();
  }

  /** The address bar's query: the state, never the token (the server's cookie lets this
   * browser back in, and a link a user shares must not carry it). */
  toString() {
    const parts = [];
    const spec = join(this.spec);
    if (spec) parts.push(spec);
    const view = join(this.view);
    if (view) parts.push(view);
    return parts.length ? `?${parts.join("&")}` : "";
  }

  write() {
    const url = `${location.pathname}${this.toString()}${location.hash}`;
    if (url === `${location.pathname}${location.search}${location.hash}`) return;
    try {
      history.replaceState(null, "", url);
    } catch {
      // embedded (the notebook widget's about:srcdoc page): no address bar to keep the state in
    }
  }
}

/** A spec value in its CLI text form (null: leave the field out). */
export function fieldText(name, value) {
  if (value === null || value === undefined) return null;
  if (name === "optimizer_args") {
    if (typeof value === "string") return value || null; // already in its text form
    const items = Object.entries(value).filter(([, v]) => v !== null && v !== undefined);
    if (!items.length) return null;
    return items.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`).join(";");
  }
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}
