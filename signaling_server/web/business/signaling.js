// The signaling websocket: hello with the business session token, typed JSON messages, and reconnection
// with exponential backoff and full jitter exactly as the kiosks do (0.5 s doubling to 15 s), so a city's
// worth of browsers coming back after a server restart spread their reconnects.

const PROTOCOL_VERSION = 1;
const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 15_000;
// Browsers cannot send websocket pings; an application ping every 10 s with no answer for two of them
// shows a dead connection (e.g. a tablet that changed networks) in 20 s instead of the TCP timeout.
const PING_MS = 10_000;
const PING_DEAD_MS = 25_000;
// A hello refused with one of these will be refused again: stop instead of retrying.
const FINAL_CODES = new Set(["unauthenticated", "version", "invalid", "forbidden"]);

export class Signaling {
  /**
   * @param {string} url  ws(s) URL of /ws
   * @param {() => string} token  the business session token, read at every (re)connection
   * @param {{onWelcome, onMessage, onDisconnect, onRefused}} handlers
   * @param {{role?: string, appVersion?: string}} who  the guest page (/g/) signs in as "guest"
   */
  constructor(url, token, handlers, { role = "business", appVersion = "business-web/1" } = {}) {
    this.url = url;
    this.token = token;
    this.handlers = handlers;
    this.role = role;
    this.appVersion = appVersion;
    this.ws = null;
    this.online = false;
    this.closing = false;
    this.delay = BACKOFF_INITIAL_MS;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.nonce = 0;
    this.lastPong = 0;
  }

  start() {
    this.closing = false;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    let welcomed = false;
    ws.addEventListener("open", () => {
      ws.send(
        JSON.stringify({
          type: "hello",
          v: PROTOCOL_VERSION,
          role: this.role,
          credentials: { kind: "session", token: this.token() },
          app_version: this.appVersion,
        }),
      );
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server sends JSON only; anything else is ignored, not fatal
      }
      if (!welcomed) {
        welcomed = this.first(message);
        return;
      }
      if (message.type === "pong") {
        this.lastPong = Date.now();
        return;
      }
      this.handlers.onMessage(message);
    });
    ws.addEventListener("close", () => this.closed(ws));
    // An "error" event is always followed by "close", which does the work; nothing to log here.
    ws.addEventListener("error", () => {});
  }

  first(message) {
    if (message.type === "welcome") {
      this.online = true;
      this.delay = BACKOFF_INITIAL_MS; // a welcomed connection resets the backoff
      this.lastPong = Date.now();
      this.pingTimer = setInterval(() => this.ping(), PING_MS);
      this.handlers.onWelcome(message);
      return true;
    }
    if (message.type === "error" && FINAL_CODES.has(message.code)) {
      this.closing = true;
      this.handlers.onRefused(message);
    }
    this.ws?.close();
    return false;
  }

  ping() {
    if (Date.now() - this.lastPong > PING_DEAD_MS) {
      this.ws?.close(); // reconnects from the close handler
      return;
    }
    this.nonce += 1;
    this.send({ type: "ping", nonce: this.nonce });
  }

  closed(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    const wasOnline = this.online;
    this.online = false;
    if (this.closing) return; // closed on purpose (the call is over): nothing to report or retry
    if (wasOnline) this.handlers.onDisconnect();
    const wait = Math.random() * this.delay; // full jitter
    this.delay = Math.min(BACKOFF_MAX_MS, this.delay * 2);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  /** Send a message now; false when offline (the caller decides whether it matters). */
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.online) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.ws?.close(1000);
  }
}

/** The websocket URL: the one the redeem answer gave, else /ws on this page's own origin. */
export function websocketUrl(given) {
  if (given) return given;
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}
