// The dispatcher console, live: when an event says something changed, re-fetch the
// server-rendered region it touches. The server renders; this only decides when.
import { connectEvents } from "./live.js";

const root = document.getElementById("console");
const statusBox = document.getElementById("live-status");

// Which regions each kind of event may change (see dispatch/console_views.py REGIONS).
const REGIONS_FOR = {
  incident: ["queue", "clinician"],
  assignment: ["queue", "units", "clinician"],
  unit: ["units", "queue", "clinician"],
  alert: ["alerts"],
  backup: ["alerts", "units"],
};
const ALL_REGIONS = ["queue", "units", "alerts", "clinician"];
const STATE_LABELS = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Offline: reconnecting…",
  "signed-out": "Signed out: sign in again",
  forbidden: "Not allowed to watch dispatch",
};

const stale = new Set();
let flushTimer = null;

function regionUrl(name) {
  return root.dataset.regionUrl.replace("REGION", name);
}

// Someone typing or choosing in a region keeps it until they leave it: a refresh must not
// wipe a half-written override reason or move the unit they picked.
function inUse(region) {
  const active = document.activeElement;
  return Boolean(active && region.contains(active) && active.matches("input, textarea, select, button"));
}

function refresh(names, delay = 100) {
  names.forEach((name) => stale.add(name));
  if (!flushTimer) flushTimer = setTimeout(flush, delay);
}

function flush() {
  flushTimer = null;
  for (const name of [...stale]) {
    const region = document.getElementById(name);
    if (!region) {
      stale.delete(name);
      continue;
    }
    if (inUse(region)) {
      region.dataset.stale = "true";
      continue;
    }
    stale.delete(name);
    delete region.dataset.stale;
    window.htmx.ajax("GET", regionUrl(name), { target: `#${name}`, swap: "outerHTML" });
  }
}

// The check above runs when a refresh is asked for; the person may have started typing while
// it was on its way. Look again when it arrives, and keep their work if so.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  const isRefresh = event.detail.requestConfig?.verb === "get" && ALL_REGIONS.includes(target?.id);
  if (isRefresh && inUse(target)) {
    event.detail.shouldSwap = false;
    stale.add(target.id);
    target.dataset.stale = "true";
  }
});

document.addEventListener("focusout", () => {
  if (stale.size) refresh([], 400);
});
document.body.addEventListener("htmx:afterSettle", () => {
  if (stale.size) refresh([], 400);
});

function showState(state) {
  statusBox.dataset.state = state;
  statusBox.querySelector(".live-label").textContent = STATE_LABELS[state] || state;
}

const live = connectEvents({
  path: root.dataset.wsPath,
  lastEventId: Number(root.dataset.lastEventId || 0),
  onEvent(event) {
    root.dataset.lastEventId = String(live.lastEventId);
    refresh(REGIONS_FOR[event.type.split(".")[0]] || []);
  },
  onState(state, info) {
    showState(state);
    // After a gap, reload everything: cheap, and it covers anything the replay could not.
    if (state === "live" && info?.reconnected) refresh(ALL_REGIONS);
  },
  onResync() {
    refresh(ALL_REGIONS);
  },
});

// Ages and times in status tick on the page; the server's clock is the reference.
const skewMs = Date.parse(root.dataset.serverNow) - Date.now() || 0;

export function duration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function tick() {
  const now = Date.now() + skewMs;
  for (const time of document.querySelectorAll("time[data-since]")) {
    const since = Date.parse(time.getAttribute("datetime"));
    if (!Number.isNaN(since)) time.textContent = duration((now - since) / 1000);
  }
}
setInterval(tick, 10_000);
