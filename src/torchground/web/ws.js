// The WebSocket to the server: one connection is one training session (protocol v1).
// Messages are JSON both ways; `on(type, fn)` registers a handler per message type.

export class Connection {
  /** @param {string} token launch token (sent as ?token= as well as by cookie) */
  constructor(token) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    this.url = `${scheme}://${location.host}/ws${query}`;
    this.handlers = new Map();
    this.queue = [];
    this.open = false;
    this.closed = false;
  }

  on(type, fn) {
    this.handlers.set(type, fn);
    return this;
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.open = true;
      for (const text of this.queue.splice(0)) ws.send(text);
    };
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      const fn = this.handlers.get(msg.type);
      if (fn) fn(msg, event.data);
    };
    ws.onclose = (event) => {
      this.open = false;
      this.closed = true;
      const fn = this.handlers.get("close");
      if (fn) fn(event);
    };
  }

  send(msg) {
    const text = JSON.stringify(msg);
    if (this.open) this.ws.send(text);
    else if (!this.closed) this.queue.push(text);
  }
}
