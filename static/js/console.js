// The dispatcher console, live. The server renders every row; this decides which rows to
// fetch again when a live event names them, and keeps the alert bar heard and the map drawn.
import { connectEvents } from "./live.js";
import { AlertBar } from "./console/alerts.js";
import { ConsoleMap } from "./console/map.js";
import { Queue } from "./console/queue.js";
import { setServerNow, tickTimes } from "./console/time.js";
import { UnitBoard } from "./console/units.js";
import { Updater } from "./console/updates.js";

const root = document.getElementById("console");
const statusBox = document.getElementById("live-status");
const STATE_LABELS = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Offline: reconnecting…",
  "signed-out": "Signed out: sign in again",
  forbidden: "Not allowed to watch dispatch",
};
setServerNow(root.dataset.serverNow);
// Swap 4xx answers too: a 422 carries the form with its errors, a 409 the message to show.
// Set here rather than in a <meta name="htmx-config">: htmx reads only the first such tag, and
// the base template's is for every page.
window.htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "[23]..", swap: true },
  { code: "4..", swap: true, error: true },
  { code: "...", swap: false, error: true },
];

const detailsUrl = (id) => root.dataset.detailsUrl.replace("00000000-0000-0000-0000-000000000000", id);
let updater;

const map = new ConsoleMap(document.getElementById("console-map"), {
  onIncident: (id) => queue.open(id),
  onUnit: (callsign) => {
    const row = units.row(callsign);
    row?.scrollIntoView({ block: "center", behavior: "smooth" });
    row?.classList.add("is-flashed");
    setTimeout(() => row?.classList.remove("is-flashed"), 1500);
  },
});
const queue = new Queue(root, {
  detailsUrl,
  onRowChanged: (row) => map.syncIncident(row),
  onRowRemoved: (id) => map.removeIncident(id),
  // A call that lists another as its possible duplicate changes how that one reads too.
  onDuplicatesChanged: (ids) => updater.want({ incidents: ids.filter((id) => queue.row(id)) }),
});
const units = new UnitBoard({
  onRowChanged: (row) => map.syncUnit(row),
  onRowRemoved: (callsign) => map.removeUnit(callsign),
});
const bar = new AlertBar(root, { onShowIncident: (id) => queue.open(id) });
updater = new Updater({ root, queue, units, bar, map });
map.syncAll();

// Which rows and regions each event touches (CONTRACT.md's event types).
function touched(event) {
  const data = event.data || {};
  const kind = event.type.split(".")[0];
  if (kind === "incident") {
    const inBar = document.querySelector(`#alerts [data-urgent-call="${CSS.escape(String(data.id))}"]`);
    return {
      incidents: [data.id],
      regions: ["clinician", ...(data.priority === 1 || inBar ? ["alerts"] : [])],
    };
  }
  if (kind === "assignment") return { incidents: [data.incident], units: [data.unit], regions: ["clinician"] };
  if (kind === "unit") return { units: [data.callsign] };
  if (kind === "alert" || kind === "backup") return { units: [data.unit], regions: ["alerts"] };
  return {};
}

const live = connectEvents({
  path: root.dataset.wsPath,
  lastEventId: Number(root.dataset.lastEventId || 0),
  onEvent(event) {
    root.dataset.lastEventId = String(live.lastEventId);
    updater.want(touched(event));
  },
  onState(state, info) {
    statusBox.dataset.state = state;
    statusBox.querySelector(".live-label").textContent = STATE_LABELS[state] || state;
    // After a gap, reload everything: cheap, and it covers anything the replay could not.
    if (state === "live" && info?.reconnected) updater.everything();
  },
  onResync() {
    updater.everything();
  },
});

// An action's answer names what it changed (HX-Trigger "console-changed"): the same path.
document.body.addEventListener("console-changed", (event) => updater.want(event.detail || {}, 0, { force: true }));
// Out-of-band swaps may replace the alert bar (an acknowledgement): count and sound again.
document.body.addEventListener("htmx:afterSettle", () => bar.sync());

// The side column and every row's scroll stop sit under the alert bar, whatever its height.
const sticky = document.getElementById("console-sticky");
new ResizeObserver(() => {
  document.documentElement.style.setProperty("--sticky-height", `${sticky.offsetHeight}px`);
}).observe(sticky);

setInterval(() => {
  tickTimes();
  map.tick();
}, 10_000);

// A dispatcher of several programs narrows the console to one: the choice reloads the page.
document.querySelector("[data-program-filter]")?.addEventListener("change", (event) => {
  event.target.form.requestSubmit();
});
