// The tablet's live connection (CONTRACT.md): /ws/field/, `resume` from the last event id on
// every (re)connect, reconnect by itself with exponential backoff, `ack` on request.

const STORE_KEY = "cr-field-last-event-id";
const MAX_BACKOFF_MS = 30_000;

export function lastEventId() {
  return Number(localStorage.getItem(STORE_KEY) || 0);
}

function rememberEventId(id) {
  if (id > lastEventId()) localStorage.setItem(STORE_KEY, String(id));
}

export class FieldSocket {
  // handlers: onEvent(event), onResync(), onState("open" | "closed" | "refused"), onMessage(msg)
  constructor(handlers, { startFrom = 0 } = {}) {
    this.handlers = handlers;
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    // A freshly rendered page already shows everything up to startFrom.
    if (startFrom > lastEventId()) localStorage.setItem(STORE_KEY, String(startFrom));
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/field/`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      ws.send(JSON.stringify({ type: "resume", last_event_id: lastEventId() }));
      this.handlers.onState?.("open");
    };
    ws.onmessage = (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      if (typeof data.id === "number" && data.type) {
        rememberEventId(data.id);
        this.handlers.onEvent?.(data);
      } else if (data.type === "resync") {
        // Too far behind (or the server's log restarted): reload state over HTTP.
        localStorage.removeItem(STORE_KEY);
        this.handlers.onResync?.();
      } else {
        this.handlers.onMessage?.(data);
      }
    };
    ws.onclose = (event) => {
      this.ws = null;
      if (event.code === 4401 || event.code === 4403) {
        this.handlers.onState?.("refused");
        return; // signed out or not a responder: retrying will not help
      }
      this.handlers.onState?.("closed");
      if (!this.stopped) this.retry();
    };
  }

  retry() {
    // 0.5 s, 1 s, 2 s … up to 30 s, with jitter so a fleet of tablets does not reconnect in step.
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, base / 2 + Math.random() * (base / 2));
  }

  // Reconnect now (the network just came back) instead of waiting out the backoff.
  nudge() {
    if (this.ws) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.connect();
  }

  isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  ack(eventId) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "ack", event_id: eventId }));
      return true;
    }
    return false;
  }

  setLastEventId(id) {
    rememberEventId(id);
  }
}
