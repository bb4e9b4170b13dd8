// The responder tablet: the call screen drawn from the tablet's state (kept in IndexedDB by
// state.js, so a reload in a dead zone still shows the call), status steps, backup, encounters,
// outcomes, end of shift. Writes go through the outbox (outbox.js), each stamped with the
// moment it was tapped, so nothing entered is lost or misdated while offline.

import * as outbox from "./outbox.js";
import { renderOutbox, renderPanel } from "./render.js";
import { FieldSocket } from "./socket.js";
import { Beeper } from "./sound.js";
import { applyOutbox, clearCachedCall, followCall, latestStep, learnClock, loadState, newer, saveState, stepMoment } from "./state.js";

const $ = (id) => document.getElementById(id);
const root = $("tablet");
const api = root.dataset.api;
const user = Number(root.dataset.user);
const TRANSITIONS = JSON.parse($("transitions").textContent);
const LABELS = JSON.parse($("status-labels").textContent);
const STEP_LABELS = { en_route: "En route", on_scene: "On scene", transporting: "Transporting", cleared: "Clear" };
// After a step, the next step's button stays off this long: a glove's second tap lands on
// the same spot, where the next step's button has just appeared.
const STEP_GUARD_MS = 900;
const LOCATION_EVERY_MS = 30_000;
const beeper = new Beeper();
const acknowledged = new Set(JSON.parse(sessionStorage.getItem("cr-acked") || "[]"));

// --- the state and the screen ----------------------------------------------------------------
let state = JSON.parse($("tablet-state").textContent);
let fresh = false; // whether `state` came from the server while this page was open
let view = state; // the state with what is waiting in the outbox applied
let locked = false; // the session ended: the lock screen is up until the next sign-in

// What waits in the outbox for this responder (a shared tablet may hold another's too).
async function mine() {
  return (await outbox.pending()).filter((item) => item.user === undefined || item.user === user);
}

async function show() {
  const waiting = await mine();
  // Signed out meanwhile (a draw begun before the session ended): the call stays off the screen.
  if (locked) return;
  view = applyOutbox(state, waiting);
  const onShift = Boolean(view.unit);
  $("start-shift").hidden = onShift;
  $("on-shift").hidden = !onShift;
  if (onShift) {
    renderPanel($("panel"), view, { labels: LABELS, fresh });
    if (view.assignment) showSteps(view.assignment);
  }
  checkAlert();
  await showOutbox();
}

async function refreshState() {
  let next;
  const sentAt = Date.now();
  try {
    const response = await fetch(root.dataset.stateUrl, { credentials: "same-origin", headers: { Accept: "application/json", "X-Background": "1" } });
    if (response.status === 401 || response.status === 403 || (response.redirected && new URL(response.url).pathname === "/signin/")) {
      await signedOut();
      return false;
    }
    if (response.redirected || !response.ok) return false;
    next = await response.json();
  } catch {
    return false; // offline: keep what is on screen
  }
  // An answer read before the session ended and arriving after: the call must not come back
  // onto the screen, nor into the kept state the lock has just cleared.
  if (locked) return false;
  learnClock(next.as_of, sentAt);
  state = await saveState(next);
  fresh = true;
  await show();
  return true;
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshState, 120);
}

// The server's answer to a write, taken into the kept state at once, so a reload straight
// after (or offline) does not show the call as it was before.
async function absorb(answer) {
  const a = state.assignment;
  if (!answer || !a || answer.id !== a.id) return;
  a.status = answer.status;
  a.steps = Object.fromEntries(Object.keys(a.steps).map((name) => [name, answer[name] ?? a.steps[name]]));
  a.acknowledged = Boolean(answer.acknowledged_at);
  a.transport_destination = answer.transport_destination || a.transport_destination;
  followCall(state.unit, answer.status);
  if (answer.status === "cleared") {
    state.missing_outcomes = [{ ...a }, ...state.missing_outcomes.filter((m) => m.id !== a.id)];
    state.assignment = null;
  }
  await saveState(state);
}

// --- status steps: one tap, one step -------------------------------------------------------------
let stepInFlight = false;
let stepGuardUntil = 0;

function showSteps(a) {
  const group = $("status-buttons");
  const held = stepInFlight || Date.now() < stepGuardUntil;
  group.replaceChildren(...(TRANSITIONS[a.status] || []).map((next) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = next === "cleared" ? "big" : "primary big";
    button.dataset.statusTo = next;
    button.textContent = STEP_LABELS[next];
    button.setAttribute("aria-label", `Set status: ${STEP_LABELS[next]}`);
    button.disabled = held;
    return button;
  }));
  if (held && !stepInFlight) setTimeout(releaseSteps, stepGuardUntil - Date.now());
}

function releaseSteps() {
  if (stepInFlight || Date.now() < stepGuardUntil) return;
  document.querySelectorAll("[data-status-to]").forEach((b) => { b.disabled = false; });
}

async function setStatus(next, destination = "") {
  const a = view.assignment;
  // A second tap for a step already taken (or in flight) does nothing.
  if (!a || stepInFlight || !(TRANSITIONS[a.status] || []).includes(next)) return;
  stepInFlight = true;
  stepGuardUntil = Date.now() + STEP_GUARD_MS;
  document.querySelectorAll("[data-status-to]").forEach((b) => { b.disabled = true; });
  const body = { status: next, at: stepMoment(latestStep(a)), ...(destination ? { destination } : {}) };
  try {
    const result = await submit({ kind: "status", url: `${api}assignments/${a.id}/status`, body, label: `${STEP_LABELS[next]} (${a.label})`, assignment: a.id });
    if (result.ok) await absorb(result.body);
    if (next === "cleared" && (result.queued || result.ok)) openOutcome(a.id);
  } finally {
    stepInFlight = false;
    await show();
  }
}

function askDestination() {
  const dialog = $("transport-dialog");
  if (dialog.open) return;
  $("transport-destination").value = "";
  $("transport-error").textContent = "";
  dialog.returnValue = "";
  dialog.showModal();
}

$("transport-form").addEventListener("submit", (event) => {
  if (event.submitter?.value !== "go") return;
  const destination = $("transport-destination").value.trim();
  if (!destination) {
    event.preventDefault();
    $("transport-error").textContent = "Say where you are transporting to.";
    return;
  }
  $("transport-dialog").close("go");
  setStatus("transporting", destination);
});

// --- the new-assignment alert: stays, with sound, until acknowledged ------------------------
function checkAlert() {
  const a = view.assignment;
  const box = $("new-alert");
  if (a && !a.acknowledged && !acknowledged.has(a.id)) {
    $("new-alert-text").textContent = a.label;
    box.dataset.assignmentId = a.id;
    box.dataset.eventId = a.ack_event_id || "";
    if (box.hidden) {
      box.hidden = false;
      $("ack-button").focus();
    }
    beeper.start();
  } else {
    box.hidden = true;
    beeper.stop();
  }
}

async function acknowledge() {
  const box = $("new-alert");
  const assignmentId = box.dataset.assignmentId;
  const eventId = Number(box.dataset.eventId || 0);
  acknowledged.add(assignmentId);
  sessionStorage.setItem("cr-acked", JSON.stringify([...acknowledged]));
  box.hidden = true;
  beeper.stop();
  if (!(eventId && socket.ack(eventId))) {
    const at = stepMoment(view.assignment?.steps?.dispatched_at);
    await submit({ kind: "ack", url: `${api}assignments/${assignmentId}/ack`, body: { at }, label: "Acknowledge", assignment: assignmentId });
  }
  await show();
}

// --- writes ---------------------------------------------------------------------------------
// Send now when the outbox is empty and the network is up; otherwise queue behind what is
// waiting. Answers {ok, status, body} when the server answered now, or {queued: true}.
async function submit(item) {
  item = { key: outbox.newKey(), user, ...item };
  const waiting = (await mine()).length;
  if (!waiting && navigator.onLine) {
    let result = null;
    try {
      result = await outbox.send(item);
    } catch {
      result = null; // the network failed mid-request; the same key makes a retry safe
    }
    if (result && outbox.signedOutAnswer(result, { live: socket.isOpen() })) {
      await outbox.enqueue(item);
      await signedOut();
      return { queued: true };
    }
    if (result && result.status < 500) {
      // A 400 goes back to the form that sent it; other refusals are kept until dismissed.
      if (!result.ok && result.status !== 400) await outbox.recordConflict(item, result);
      refreshSoon();
      return result;
    }
  }
  await outbox.enqueue(item);
  return { queued: true };
}

async function showOutbox() {
  // Read first, then draw in one go: two of these may overlap, and each draws it whole.
  const [items, refusals] = await Promise.all([mine(), outbox.conflicts()]);
  const badge = $("outbox-status");
  badge.textContent = `${items.length} waiting to send`;
  badge.className = items.length ? "badge warn" : "badge";
  renderOutbox($("outbox-list"), items);
  $("conflicts").replaceChildren(...refusals.map((c) => {
    const div = document.createElement("div");
    div.className = "conflict";
    div.dataset.conflict = c.key;
    div.textContent = `${c.label}: not accepted. ${c.detail}`;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Dismiss";
    button.setAttribute("aria-label", `Dismiss: ${c.label}`);
    button.addEventListener("click", async () => { await outbox.dismissConflict(c.key); showOutbox(); });
    div.append(" ", button);
    return div;
  }));
}

async function flushOutbox() {
  if (!(await mine()).length) return;
  const sent = await outbox.flush(async (item, result) => {
    if (result.ok && (item.kind === "status" || item.kind === "ack")) await absorb(result.body);
    await showOutbox();
  }, { user, live: () => socket.isOpen() });
  if (sent === "signed_out") {
    await signedOut();
    return;
  }
  await show();
  refreshSoon();
}

// --- backup: one tap from anywhere (the bar is fixed), then urgent or not ------------------------
let backupKind = null;
function askBackup(kind) {
  const dialog = $("backup-dialog");
  if (dialog.open) return;
  backupKind = kind;
  $("backup-kind-label").textContent = kind === "police" ? "police" : "EMS";
  dialog.returnValue = "";
  dialog.showModal();
}
$("backup-dialog").addEventListener("close", async () => {
  const choice = $("backup-dialog").returnValue;
  if (choice !== "urgent" && choice !== "send") return;
  const urgent = choice === "urgent";
  const label = `${backupKind === "police" ? "Police" : "EMS"} backup${urgent ? " (urgent)" : ""}`;
  const bar = document.querySelectorAll("[data-backup]");
  bar.forEach((b) => { b.disabled = true; });
  try {
    await submit({ kind: "backup", url: `${api}backup`, body: { kind: backupKind, urgent, at: stepMoment(null) }, label, assignment: view.assignment?.id });
  } finally {
    bar.forEach((b) => { b.disabled = false; });
    await show();
  }
});

// --- encounters -----------------------------------------------------------------------------
let position = null; // the newest {latitude, longitude} from the tablet
$("encounter-open").addEventListener("click", () => {
  $("encounter").hidden = false;
  $("encounter-error").textContent = "";
  $("encounter").scrollIntoView({ block: "start" });
  $("encounter-call-type").focus();
});
$("encounter-cancel").addEventListener("click", () => { $("encounter").hidden = true; });
$("encounter-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const start = $("encounter-start");
  if (start.disabled) return;
  const address = form.address.value.trim();
  if (!position && !address) {
    $("encounter-error").textContent = "No position from the tablet: type where you are.";
    form.address.focus();
    return;
  }
  const id = outbox.newKey();
  const body = { id, call_type: form.call_type.value, address, ...(position || {}), at: stepMoment(null) };
  const label = `${form.call_type.value} ${address ? `at ${address}` : "here"}`;
  start.disabled = true;
  try {
    const result = await submit({ kind: "encounter", url: `${api}encounters`, body, label: `New encounter: ${label}`, callLabel: label, assignment: id });
    if (result.queued || result.ok) {
      form.reset();
      $("encounter").hidden = true;
      await show();
      openOutcome(id, label);
    } else if (result.status === 400) {
      $("encounter-error").textContent = outbox.describeError(result.status, result.body);
    }
  } finally {
    start.disabled = false;
  }
});

// --- outcomes -------------------------------------------------------------------------------
const outcomeForm = $("outcome-form");
const ERROR_TARGET = {
  disposition: "o-disposition",
  transport_destination: "o-destination",
  people_contacted: "o-people",
  follow_up: "o-fu-type",
  person: "o-name",
};

function callFor(id) {
  return [view.assignment, ...(view.missing_outcomes || []), state.assignment].find((a) => a && a.id === id) || null;
}

function showTransport() {
  $("o-transport").hidden = !outcomeForm.disposition.value.startsWith("transported_");
}

function openOutcome(assignmentId, label) {
  const call = callFor(assignmentId);
  outcomeForm.reset();
  outcomeForm.assignment.value = assignmentId;
  $("outcome-label").textContent = label || call?.label || "";
  // Defaults from the call: the backup asked for on it is what the involvement was.
  outcomeForm.police_involvement.value = call?.backup?.police ? "backup_requested" : "none";
  outcomeForm.ems_involvement.value = call?.backup?.ems ? "backup_requested" : "none";
  const asked = call?.requested_follow_ups || [];
  $("o-asked").hidden = !asked.length;
  $("o-asked").textContent = asked.length
    ? `Already asked for on this call: ${asked.join(", ")}. Choosing it again adds to that follow-up; it does not make a second one.`
    : "";
  $("o-follow-up").hidden = true;
  $("o-person").open = false;
  showTransport();
  showErrors({});
  $("outcome").hidden = false;
  $("outcome").scrollIntoView({ block: "start" });
  $("o-disposition").focus({ preventScroll: true });
}

function outcomeBody(data) {
  const person = {
    name: data.get("person.name").trim(),
    alias: data.get("person.alias").trim(),
    date_of_birth: data.get("person.date_of_birth") || null,
    phone: data.get("person.phone").trim(),
  };
  const body = {
    disposition: data.get("disposition"),
    services_provided: data.getAll("services_provided"),
    people_contacted: Number.parseInt(data.get("people_contacted"), 10),
    transport_destination: data.get("transport_destination").trim(),
    police_involvement: data.get("police_involvement"),
    ems_involvement: data.get("ems_involvement"),
    narrative: data.get("narrative"),
    follow_up_needed: data.has("follow_up_needed"),
  };
  if (Number.isNaN(body.people_contacted)) body.people_contacted = null;
  if (person.name || person.alias || person.date_of_birth || person.phone) body.person = person;
  if (body.follow_up_needed) {
    body.follow_up = {
      service_type: data.get("follow_up.service_type"),
      consent: data.has("follow_up.consent"),
      notes: data.get("follow_up.notes"),
    };
  }
  return body;
}

function checkOutcome(body) {
  const errors = {};
  if (!body.disposition) errors.disposition = ["Choose what happened."];
  if (body.disposition?.startsWith("transported_") && !body.transport_destination) {
    errors.transport_destination = ["Say where the person was transported."];
  }
  if (body.people_contacted === null) errors.people_contacted = ["Give the number of people contacted (0 if none)."];
  if (body.follow_up_needed && !body.follow_up.service_type) {
    errors.follow_up = ["Choose the service the person needs, or untick Follow-up needed."];
  }
  return errors;
}

// Each error beside its field; the first one scrolled into view and focused, so a responder
// who tapped Save at the bottom sees what is missing.
function showErrors(errors) {
  outcomeForm.querySelectorAll("[data-error-for]").forEach((el) => { el.textContent = ""; });
  outcomeForm.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  let first = null;
  for (const [field, messages] of Object.entries(errors || {})) {
    const target = outcomeForm.querySelector(`[data-error-for="${field}"]`) || outcomeForm.querySelector('[data-error-for="non_field_errors"]');
    target.textContent += `${Array.isArray(messages) && messages.every((m) => typeof m === "string") ? messages.join(" ") : outbox.describeError(400, { [field]: messages })} `;
    if (field === "person") $("o-person").open = true;
    if (field === "follow_up") $("o-follow-up").hidden = false;
    if (field === "transport_destination") $("o-transport").hidden = false;
    const control = $(ERROR_TARGET[field]) || target;
    if (ERROR_TARGET[field]) control.setAttribute("aria-invalid", "true");
    first ||= control;
  }
  if (first) {
    first.scrollIntoView({ block: "center" });
    if (first.focus) first.focus({ preventScroll: true });
  }
}

$("o-disposition").addEventListener("change", showTransport);
$("o-follow-up-needed").addEventListener("change", (event) => { $("o-follow-up").hidden = !event.target.checked; });
$("outcome-later").addEventListener("click", () => { $("outcome").hidden = true; });
outcomeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const save = $("outcome-save");
  if (save.disabled) return;
  const body = outcomeBody(new FormData(outcomeForm));
  const errors = checkOutcome(body);
  if (Object.keys(errors).length) {
    showErrors(errors);
    return;
  }
  const id = outcomeForm.assignment.value;
  const call = callFor(id);
  body.at = stepMoment(call ? latestStep(call, { beforeCleared: true }) : null);
  save.disabled = true;
  try {
    const result = await submit({ kind: "outcome", url: `${api}assignments/${id}/outcome`, body, label: `Outcome: ${$("outcome-label").textContent}`, assignment: id });
    if (result.status === 400) {
      showErrors(result.body);
      return;
    }
    if (result.ok) {
      state.missing_outcomes = (state.missing_outcomes || []).filter((a) => a.id !== id);
      if (state.assignment?.id === id) state.assignment = null;
      await saveState(state);
    }
    $("outcome").hidden = true;
    $("outcome-saved").textContent = result.queued
      ? "Outcome saved on the tablet; it will be sent when the network is back."
      : result.ok ? "Outcome saved." : "";
    await show();
  } finally {
    save.disabled = false;
  }
});

// --- end of shift: confirmed, and refused by the server while the unit is on a call alone ------
$("end-shift-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const dialog = $("end-shift-dialog");
  if (dialog.open) return;
  const unit = view.unit?.callsign || "The unit";
  $("end-shift-note").textContent = view.assignment
    ? view.unit?.partners?.length
      ? `${unit} is on a call. Your partner stays on the unit and keeps it.`
      : `${unit} is on a call and nobody else is on the unit: clear the call (or ask dispatch to take it back) before you end the shift.`
    : `${unit} goes off duty if nobody else is on it.`;
  dialog.returnValue = "";
  dialog.showModal();
});
$("end-shift-dialog").addEventListener("close", () => {
  if ($("end-shift-dialog").returnValue !== "end") return;
  if (!navigator.onLine) {
    $("outcome-saved").textContent = "Ending a shift needs the network. Try again when the tablet shows Live.";
    return;
  }
  $("end-shift").disabled = true;
  $("end-shift-form").submit();
});

// --- alerts: the browser allows sound only after a touch -----------------------------------------
function showAlertsState() {
  $("alerts-unlock").hidden = beeper.unlocked || !view.unit;
  $("alerts-status").textContent = beeper.unlocked ? "Alerts on: sound and vibration." : "";
}
$("alerts-on").addEventListener("click", async () => {
  await beeper.unlock({ test: true });
  showAlertsState();
  if (!beeper.unlocked) $("alerts-status").textContent = "This tablet has no sound output: watch the screen for new calls.";
});
// Whatever the responder taps first unlocks the sound too. On click, not on pointerdown: the
// prompt folding away between the finger going down and up would move the button under it.
document.addEventListener("click", () => { beeper.unlock({ test: false }).then(showAlertsState); }, { capture: true, once: true });

// --- location -------------------------------------------------------------------------------
let lastSent = 0;
async function reportLocation() {
  if (!position || !view.unit || !navigator.onLine || Date.now() - lastSent < LOCATION_EVERY_MS) return;
  lastSent = Date.now();
  try {
    await outbox.send({ key: outbox.newKey(), url: `${api}location`, body: position }, { background: true });
  } catch {
    lastSent = 0; // try again with the next position
  }
}
if ("geolocation" in navigator) {
  navigator.geolocation.watchPosition(
    (p) => { position = { latitude: p.coords.latitude, longitude: p.coords.longitude }; reportLocation(); },
    () => {},
    { enableHighAccuracy: true, maximumAge: 15_000 },
  );
  setInterval(reportLocation, LOCATION_EVERY_MS);
}

// --- clicks on the panel (it is drawn again on every change, so delegate) ------------------------
document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target || target.disabled) return;
  if (target.dataset.statusTo) {
    if (target.dataset.statusTo === "transporting") askDestination();
    else setStatus(target.dataset.statusTo);
  } else if (target.dataset.outcomeFor) {
    openOutcome(target.dataset.outcomeFor, target.dataset.label);
  } else if (target.dataset.backup) {
    askBackup(target.dataset.backup);
  } else if (target.id === "ack-button") {
    acknowledge();
  } else if (target.id === "theme-toggle") {
    const dark = document.documentElement.dataset.theme !== "dark";
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    localStorage.setItem("cr-theme", dark ? "dark" : "light");
    target.setAttribute("aria-pressed", String(dark));
  }
});

// --- the session ends (signed out elsewhere, locked idle, deactivated) ------------------------------
// The call leaves the screen and the tablet (the kept state, the worker's cache); what waits in
// the outbox stays and goes once the responder signs in again. A tablet locked idle on shift
// still hears, with no detail, that a new assignment came: it sounds and asks for sign-in.
async function signedOut() {
  if (locked) return;
  locked = true;
  beeper.stop();
  $("lock-screen").hidden = false;
  for (const id of ["start-shift", "on-shift"]) {
    $(id).hidden = true;
    $(id).inert = true;
  }
  $("panel").replaceChildren();
  $("new-alert").hidden = true;
  const waiting = (await mine()).length;
  $("lock-waiting").textContent = waiting
    ? `${waiting} ${waiting === 1 ? "change is" : "changes are"} kept on this tablet and will be sent when you sign in.`
    : "";
  await clearCachedCall().catch(() => null);
  navigator.serviceWorker?.controller?.postMessage({ type: "session-ended" });
}

function listenWhileLocked(token) {
  if (!token) return;
  signedOut();
  $("lock-heading").textContent = "Signed out after being idle";
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let attempt = 0;
  const open = () => {
    const ws = new WebSocket(`${scheme}://${location.host}/ws/field/nudge/?token=${encodeURIComponent(token)}`);
    ws.onopen = () => { attempt = 0; };
    ws.onmessage = (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      if (data.type !== "nudge") return;
      $("lock-nudge").hidden = false;
      beeper.start();
    };
    ws.onclose = (event) => {
      if (event.code === 4401) return; // the shift ended or the token ran out
      attempt += 1;
      setTimeout(open, Math.min(30_000, 500 * 2 ** attempt));
    };
  };
  open();
}

// --- live events ----------------------------------------------------------------------------
async function onEvent(event) {
  if (event.type === "assignment.cancelled" && state.assignment?.id === event.data.id) {
    const incident = event.data.incident;
    state.cancelled = { id: event.data.id, label: `${incident.call_type} at ${incident.location.address}`, cancelled_at: event.data.cancelled_at };
    state.assignment = null;
    await saveState(state);
    await show();
  }
  refreshSoon();
}

const socket = new FieldSocket(
  {
    onEvent,
    onResync: refreshState,
    onMessage: (message) => {
      if (message.type === "shift") refreshSoon();
      if (message.type === "locked") listenWhileLocked(message.nudge);
    },
    onState: (connection) => {
      if (connection === "refused") signedOut();
      const badge = $("connection");
      badge.textContent = connection === "open" ? "Live" : connection === "refused" ? "Signed out" : "Offline — reconnecting";
      badge.className = connection === "open" ? "badge ok" : "badge no";
      if (connection === "open") { flushOutbox(); refreshSoon(); }
    },
  },
  { startFrom: Number(state.last_event_id || 0) },
);

window.addEventListener("online", () => {
  if (socket.isOpen()) socket.handlers.onState("open");
  socket.nudge();
  flushOutbox();
});
window.addEventListener("offline", () => {
  const badge = $("connection");
  badge.textContent = "Offline — changes stay on the tablet";
  badge.className = "badge no";
});
setInterval(() => { if (navigator.onLine) flushOutbox(); }, 5_000);
if (localStorage.getItem("cr-theme") === "dark") {
  document.documentElement.dataset.theme = "dark";
  $("theme-toggle").setAttribute("aria-pressed", "true");
}

// The page may come from the service worker's cache, drawn when it was last fetched: the
// state kept in IndexedDB is newer then, and is what the screen shows until the server answers.
const kept = await loadState(user);
state = newer(kept, state) ? kept : await saveState(state).catch(() => state);
await show();
showAlertsState();
socket.connect();
refreshState();
