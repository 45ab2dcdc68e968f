// The WebSocket to the server: one connection is one training session (protocol v1).
// Messages are JSON both ways; `on(type, fn)` registers a handler per message type, and
// the pseudo-types "open" and "close" are told when the connection opens and closes.
//
// A connection that closes is opened again by itself, after 0.5 s, then waiting twice as long
// each time up to 5 s, so a server that stops and comes back is found again. "close" is told
// with code FORBIDDEN (4403) when the server answers but refuses this page (its token is no
// longer the server's, as after a restart with a new token); retries go on, so the page gets
// back in once the user has opened the server's new address in this browser. Messages sent
// while closed are dropped (the page re-sends its whole state on "open").

/** WebSocket close code of a refused connection (server/security.py's WS_FORBIDDEN). */
export const FORBIDDEN = 4403;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5000;
const PROBE = "/api/meta";

export class Connection {
  /** @param {string} token launch token (sent as ?token= as well as by cookie) */
  constructor(token) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    this.url = `${scheme}://${location.host}/ws${query}`;
    this.handlers = new Map();
    this.queue = [];
    this.open = false;
    this.opened = 0; // how many times the connection has opened
    this.lastCode = null;
    this.delay = FIRST_DELAY_MS;
  }

  on(type, fn) {
    this.handlers.set(type, fn);
    return this;
  }

  _tell(type, ...args) {
    const fn = this.handlers.get(type);
    if (fn) fn(...args);
  }

  connect() {
    const bridge = window.__tgBridge; // the notebook widget's channel to the kernel (widget.js)
    if (bridge) {
      bridge.handlers.push((text) => this._message(text));
      this.ws = { send: (text) => bridge.send(text) };
      this.open = true;
      this.opened += 1;
      for (const text of this.queue.splice(0)) bridge.send(text);
      this._tell("open", { reconnected: false });
      return;
    }
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.open = true;
      this.opened += 1;
      this.delay = FIRST_DELAY_MS;
      for (const text of this.queue.splice(0)) ws.send(text);
      this._tell("open", { reconnected: this.opened > 1 });
    };
    ws.onmessage = (event) => this._message(event.data);
    ws.onclose = async (event) => {
      const wasOpen = this.open;
      this.open = false;
      // A handshake the server refuses reaches the browser as a plain failure (1006): ask the
      // server over HTTP whether it still takes this page's cookie.
      const code = event.code === FORBIDDEN || (await this._refused()) ? FORBIDDEN : event.code;
      if (wasOpen || code !== this.lastCode) this._tell("close", { code });
      this.lastCode = code;
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    };
  }

  _message(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    this._tell(msg.type, msg, data);
  }

  /** True when the server answers but refuses this page (403): a new token after a restart. */
  async _refused() {
    try {
      const res = await fetch(PROBE, { credentials: "same-origin", cache: "no-store" });
      return res.status === 403;
    } catch {
      return false; // not reachable: down, not refusing
    }
  }

  send(msg) {
    const text = JSON.stringify(msg);
    if (this.open) this.ws.send(text);
    else if (this.opened === 0) this.queue.push(text); // before the first open: the page's start-up messages
  }
}
