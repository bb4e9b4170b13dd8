// The responder tablet: live assignment panel, status buttons, backup, encounters, outcomes.
// Writes go through the outbox (outbox.js) so nothing entered is lost while offline.

import * as outbox from "./outbox.js";
import { FieldSocket } from "./socket.js";
import { Beeper } from "./sound.js";

const root = document.getElementById("tablet");
const api = root.dataset.api;
const TRANSITIONS = JSON.parse(document.getElementById("transitions").textContent);
const LABELS = JSON.parse(document.getElementById("status-labels").textContent);
const STEP_LABELS = { en_route: "En route", on_scene: "On scene", transporting: "Transporting", cleared: "Clear" };
const LOCATION_EVERY_MS = 30_000;
const $ = (id) => document.getElementById(id);
const beeper = new Beeper();
const acknowledged = new Set(JSON.parse(sessionStorage.getItem("cr-acked") || "[]"));

// --- the panel ------------------------------------------------------------------------------
let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshPanel, 120);
}

async function refreshPanel() {
  try {
    const response = await fetch(root.dataset.panelUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } });
    if (response.redirected || !response.ok) return;
    $("panel").innerHTML = await response.text();
  } catch {
    return; // offline: keep what is on screen
  }
  await decorate();
}

function currentAssignment() {
  return $("assignment");
}

async function decorate() {
  const section = currentAssignment();
  if (section) {
    let status = section.dataset.status;
    // Steps still in the outbox have happened on scene even if the server has not heard yet.
    for (const item of await outbox.pending()) {
      if (item.kind === "status" && item.assignment === section.dataset.assignmentId) status = item.body.status;
    }
    showStatus(section, status);
  }
  checkAlert();
}

function showStatus(section, status) {
  section.dataset.status = status;
  $("assignment-status").textContent = LABELS[status] || status;
  const group = $("status-buttons");
  group.replaceChildren();
  for (const next of TRANSITIONS[status] || []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = next === "cleared" ? "big" : "primary big";
    button.dataset.statusTo = next;
    button.textContent = STEP_LABELS[next];
    button.setAttribute("aria-label", `Set status: ${STEP_LABELS[next]}`);
    group.append(button);
  }
}

// --- the new-assignment alert: stays, with sound, until acknowledged ------------------------
function checkAlert() {
  const section = currentAssignment();
  const pendingAck = section && section.dataset.acknowledged === "false" && !acknowledged.has(section.dataset.assignmentId);
  const box = $("new-alert");
  if (pendingAck) {
    $("new-alert-text").textContent = section.dataset.label;
    box.dataset.assignmentId = section.dataset.assignmentId;
    box.dataset.eventId = section.dataset.ackEventId || "";
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
    await submit({ kind: "ack", url: `${api}assignments/${assignmentId}/ack`, body: {}, label: "Acknowledge", assignment: assignmentId });
  }
}

// --- writes ---------------------------------------------------------------------------------
// Send now when the outbox is empty and the network is up; otherwise queue behind what is
// waiting. Answers {status, body} when the server answered now, or {queued: true}.
async function submit(item) {
  item = { key: outbox.newKey(), ...item };
  const waiting = (await outbox.pending()).length;
  if (!waiting && navigator.onLine) {
    let result = null;
    try {
      result = await outbox.send(item);
    } catch {
      result = null; // the network failed mid-request; the same key makes a retry safe
    }
    if (result && result.status < 500) {
      // A 400 goes back to the form that sent it; other refusals are kept until dismissed.
      if (!result.ok && result.status !== 400) {
        await outbox.recordConflict(item, result);
        await showOutbox();
      }
      refreshSoon();
      return result;
    }
  }
  await outbox.enqueue(item);
  await showOutbox();
  return { queued: true };
}

async function showOutbox() {
  const count = (await outbox.pending()).length;
  const badge = $("outbox-status");
  badge.textContent = `${count} waiting to send`;
  badge.className = count ? "badge warn" : "badge";
  const list = await outbox.conflicts();
  const box = $("conflicts");
  box.querySelectorAll("[data-conflict]").forEach((el) => el.remove());
  for (const c of list) {
    const div = document.createElement("div");
    div.className = "conflict";
    div.dataset.conflict = c.key;
    div.textContent = `${c.label}: not accepted — ${c.detail}`;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Dismiss";
    button.setAttribute("aria-label", `Dismiss: ${c.label}`);
    button.addEventListener("click", async () => { await outbox.dismissConflict(c.key); showOutbox(); });
    div.append(" ", button);
    box.append(div);
  }
}

async function flushOutbox() {
  if (!(await outbox.pending()).length) return;
  await outbox.flush(() => showOutbox());
  await showOutbox();
  refreshSoon();
}

// --- status ---------------------------------------------------------------------------------
async function setStatus(next, destination = "") {
  const section = currentAssignment();
  const id = section.dataset.assignmentId;
  const body = destination ? { status: next, destination } : { status: next };
  const label = `${STEP_LABELS[next]} (${section.dataset.label})`;
  const result = await submit({ kind: "status", url: `${api}assignments/${id}/status`, body, label, assignment: id });
  if (result.queued || result.ok) {
    showStatus(section, next);
    if (next === "cleared") openOutcome(id, section.dataset.label);
  }
}

function askDestination() {
  const dialog = $("transport-dialog");
  $("transport-destination").value = "";
  $("transport-error").textContent = "";
  dialog.returnValue = "";
  dialog.showModal();
}

$("transport-form").addEventListener("submit", (event) => {
  const dialog = $("transport-dialog");
  if (event.submitter?.value !== "go") return;
  const destination = $("transport-destination").value.trim();
  if (!destination) {
    event.preventDefault();
    $("transport-error").textContent = "Say where you are transporting to.";
    return;
  }
  dialog.close("go");
  setStatus("transporting", destination);
});

// --- backup ---------------------------------------------------------------------------------
let backupKind = null;
function askBackup(kind) {
  backupKind = kind;
  $("backup-kind-label").textContent = kind === "police" ? "police" : "EMS";
  $("backup-urgent").checked = false;
  $("backup-dialog").showModal();
}
$("backup-dialog").addEventListener("close", async () => {
  if ($("backup-dialog").returnValue !== "send") return;
  const urgent = $("backup-urgent").checked;
  const label = `${backupKind === "police" ? "Police" : "EMS"} backup${urgent ? " (urgent)" : ""}`;
  await submit({ kind: "backup", url: `${api}backup`, body: { kind: backupKind, urgent }, label });
});

// --- encounters -----------------------------------------------------------------------------
let position = null; // the newest {latitude, longitude} from the tablet
$("encounter-open").addEventListener("click", () => {
  $("encounter").hidden = false;
  $("encounter-error").textContent = "";
  $("encounter-call-type").focus();
});
$("encounter-cancel").addEventListener("click", () => { $("encounter").hidden = true; });
$("encounter-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const address = form.address.value.trim();
  if (!position && !address) {
    $("encounter-error").textContent = "No position from the tablet: type where you are.";
    return;
  }
  const id = outbox.newKey();
  const body = { id, call_type: form.call_type.value, address, ...(position || {}) };
  const label = `${form.call_type.value} ${address ? `at ${address}` : "here"}`;
  const result = await submit({ kind: "encounter", url: `${api}encounters`, body, label: `New encounter: ${label}`, assignment: id });
  if (result.queued || result.ok) {
    form.reset();
    $("encounter").hidden = true;
    openOutcome(id, label);
  } else if (result.status === 400) {
    $("encounter-error").textContent = outbox.describeError(result.status, result.body);
  }
});

// --- outcomes -------------------------------------------------------------------------------
function openOutcome(assignmentId, label) {
  const form = $("outcome-form");
  form.reset();
  form.assignment.value = assignmentId;
  $("outcome-label").textContent = label;
  $("o-follow-up").hidden = true;
  form.querySelectorAll("[data-error-for]").forEach((el) => { el.textContent = ""; });
  $("outcome").hidden = false;
  $("outcome").scrollIntoView({ block: "start" });
  $("o-disposition").focus();
}

function outcomeBody(form) {
  const data = new FormData(form);
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

function showErrors(form, errors) {
  form.querySelectorAll("[data-error-for]").forEach((el) => { el.textContent = ""; });
  for (const [field, messages] of Object.entries(errors || {})) {
    const target = form.querySelector(`[data-error-for="${field}"]`) || form.querySelector('[data-error-for="non_field_errors"]');
    const text = Array.isArray(messages) ? messages.join(" ") : typeof messages === "object" ? outbox.describeError(400, messages) : String(messages);
    target.textContent += `${text} `;
  }
}

$("o-follow-up-needed").addEventListener("change", (event) => { $("o-follow-up").hidden = !event.target.checked; });
$("outcome-later").addEventListener("click", () => { $("outcome").hidden = true; });
$("outcome-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = outcomeBody(form);
  if (!body.disposition) {
    showErrors(form, { disposition: ["Choose a disposition."] });
    return;
  }
  const id = form.assignment.value;
  const result = await submit({ kind: "outcome", url: `${api}assignments/${id}/outcome`, body, label: `Outcome: ${$("outcome-label").textContent}`, assignment: id });
  if (result.status === 400) {
    showErrors(form, result.body);
    return;
  }
  $("outcome").hidden = true;
  $("outcome-saved").textContent = result.queued ? "Outcome saved on the tablet; it will be sent when the network is back." : "Outcome saved.";
});

// --- location -------------------------------------------------------------------------------
let lastSent = 0;
async function reportLocation() {
  if (!position || !navigator.onLine || Date.now() - lastSent < LOCATION_EVERY_MS) return;
  lastSent = Date.now();
  try {
    await outbox.send({ key: outbox.newKey(), url: `${api}location`, body: position });
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

// --- clicks on the panel (it is replaced on every refresh, so delegate) ---------------------
document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target) return;
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

// --- live events ----------------------------------------------------------------------------
function onEvent(event) {
  if (event.type === "assignment.cancelled") {
    const label = `${event.data.incident.call_type} at ${event.data.incident.location.address}`;
    const note = document.createElement("section");
    note.className = "card cancelled";
    note.setAttribute("role", "alert");
    note.innerHTML = "<h2>Cancelled by dispatch</h2><p></p>";
    note.querySelector("p").textContent = `${label} was cancelled. Do not continue to the scene.`;
    currentAssignment()?.replaceWith(note);
    checkAlert();
  } else if (event.type === "alert.cleared" && event.data?.data?.backup_id) {
    const row = document.querySelector(`[data-backup-id="${event.data.data.backup_id}"] strong`);
    if (row) { row.textContent = "Dispatch acknowledged"; row.className = "ok"; }
  }
  refreshSoon();
}

const socket = new FieldSocket(
  {
    onEvent,
    onResync: refreshPanel,
    onMessage: (message) => { if (message.type === "shift") refreshSoon(); },
    onState: (state) => {
      const badge = $("connection");
      badge.textContent = state === "open" ? "Live" : state === "refused" ? "Signed out" : "Offline — reconnecting";
      badge.className = state === "open" ? "badge ok" : "badge no";
      if (state === "open") { flushOutbox(); refreshSoon(); }
    },
  },
  { startFrom: Number(root.dataset.lastEventId || 0) },
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
socket.connect();
decorate();
showOutbox();
