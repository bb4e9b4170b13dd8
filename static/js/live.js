// A client for the server's event stream (CONTRACT.md "Live events over WebSocket").
// It resumes from the last event id it saw on every (re)connect, reconnects with capped,
// jittered backoff, and reports its state so the page can show whether it is live.
// Reusable: the console uses it; any page with a signed-in session may.

const MAX_DELAY_MS = 30_000;
const BASE_DELAY_MS = 500;

/**
 * @param {object} options
 * @param {string} options.path            e.g. "/ws/dispatch/"
 * @param {number} [options.lastEventId]   resume from here on the first connect
 * @param {(event: object) => void} [options.onEvent]   each event {id, type, at, data}
 * @param {(state: string, info?: object) => void} [options.onState]
 *        "connecting" | "live" | "offline" | "signed-out" | "forbidden"; info.reconnected on a later "live"
 * @param {() => void} [options.onResync]  the server cannot replay the gap: reload state over HTTP
 */
export function connectEvents({ path, lastEventId = 0, onEvent, onState, onResync }) {
  let last = Number(lastEventId) || 0;
  let socket = null;
  let attempt = 0;
  let timer = null;
  let stopped = false;
  let everLive = false;

  const socketUrl = () => `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;

  function open() {
    clearTimeout(timer);
    timer = null;
    if (stopped || socket) return;
    onState?.("connecting");
    const ws = new WebSocket(socketUrl());
    socket = ws;
    ws.addEventListener("open", () => {
      attempt = 0;
      ws.send(JSON.stringify({ type: "resume", last_event_id: last }));
      onState?.("live", { reconnected: everLive });
      everLive = true;
    });
    ws.addEventListener("message", (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data.type === "resync") {
        onResync?.();
        return;
      }
      if (typeof data.id !== "number") return; // errors and other control messages
      // The server sends each event once per connection; ids may come slightly out of order
      // when its catch-up fills a gap, so remember the highest, and hand every one on.
      last = Math.max(last, data.id);
      onEvent?.(data);
    });
    ws.addEventListener("close", (closing) => {
      if (socket === ws) socket = null;
      if (stopped) return;
      if (closing.code === 4401) return onState?.("signed-out");
      if (closing.code === 4403) return onState?.("forbidden");
      onState?.("offline");
      const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      timer = setTimeout(open, delay);
    });
  }

  // Back online or back to the tab: try at once rather than wait out the backoff.
  const retryNow = () => {
    if (!socket && !stopped) open();
  };
  window.addEventListener("online", retryNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") retryNow();
  });

  open();
  return {
    get lastEventId() {
      return last;
    },
    close() {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    },
  };
}
