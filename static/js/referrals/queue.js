// The case manager's queue: listen on /ws/followups/ and ask htmx to re-read the queue
// whenever a follow-up changes. The socket carries ids only; the page reads over HTTP.
const queue = document.getElementById("followup-queue");
const status = document.getElementById("live-status");

function setStatus(text) {
  if (status) status.textContent = text;
}

function refresh() {
  if (queue && window.htmx) window.htmx.trigger(queue, "followups-changed");
}

let delay = 1000;

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/followups/`);
  socket.addEventListener("open", () => {
    delay = 1000;
    setStatus("Live");
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === "followup.changed") refresh();
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401 || event.code === 4403) {
      setStatus("Not live: sign in again");
      return;
    }
    setStatus("Reconnecting…");
    // Something may have changed while the socket was down.
    refresh();
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  });
}

if (queue) connect();
