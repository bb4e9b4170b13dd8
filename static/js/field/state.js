// What the tablet keeps to work with no network, across reloads and restarts: the newest
// state the server gave it (field.selectors.tablet_state: the unit, the current call with its
// address, caller, narrative, screening and premise history, the calls still missing an
// outcome, the backup requests). It lives in its own IndexedDB database, one record, so that
// ending or locking the session can delete it in one call: clearCachedCall(). The outbox
// (outbox.js) is kept apart: what is waiting to send must survive a sign-out.

const DB_NAME = "cr-field-call";
const STORE = "call";
const KEY = "current";
const OFFSET_KEY = "cr-field-clock-offset";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function tx(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const request = work(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); resolve(request?.result); };
    t.onerror = () => { db.close(); reject(t.error); };
  });
}

// Whether state `a` is newer than `b` (ISO moments, compared as moments, not as text).
export function newer(a, b) {
  return Boolean(a) && (!b || Date.parse(a.as_of) > Date.parse(b.as_of));
}

// Keep `state` if it is newer than what is kept (a page from the worker's cache is older).
export async function saveState(state) {
  const kept = await loadState(state.user);
  if (newer(kept, state)) return kept;
  await tx("readwrite", (s) => s.put(state, KEY));
  return state;
}

// The kept state of `user`, or null; another responder's is never shown (a shared tablet).
export async function loadState(user) {
  try {
    const kept = await tx("readonly", (s) => s.get(KEY));
    return kept && kept.user === user ? kept : null;
  } catch {
    return null; // private mode, storage evicted: the page's own state still stands
  }
}

// The hook for the end of a session (sign-out, a locked tablet): the call leaves the tablet.
export function clearCachedCall() {
  return tx("readwrite", (s) => s.delete(KEY));
}

// --- the server's clock ------------------------------------------------------------------------
// A step's `at` is the moment it was tapped, on the server's clock: a tablet whose clock is off
// by a minute would otherwise move every step by a minute, or be refused for `at` ahead.
// The server read its `as_of` somewhere between the request leaving and the answer arriving, so
// the offset is taken at the midpoint, good to half the round trip. An answer held up on the way
// (a weak signal; a request that left before a dead zone and came back long after) says little
// about the clock: it never replaces a closer estimate, or every step tapped after it would be
// stamped early by the time the answer spent on the way. A kept estimate loosens as it ages
// (CLOCK_LOOSENS: the tablet's clock may have been set since), so a later answer can correct it.
const CLOSE_ENOUGH_MS = 1_000;
const CLOCK_LOOSENS = 0.01; // ms of doubt per ms since the estimate was taken

function keptClock() {
  try {
    const kept = JSON.parse(localStorage.getItem(OFFSET_KEY));
    if (Number.isFinite(kept)) return { offset: kept, error: Infinity, at: 0 }; // kept before errors were
    return kept && Number.isFinite(kept.offset) ? kept : null;
  } catch {
    return null;
  }
}

export function learnClock(serverIso, sentAt, receivedAt = Date.now()) {
  const server = Date.parse(serverIso);
  const error = (receivedAt - sentAt) / 2;
  if (!Number.isFinite(server) || !(error >= 0)) return;
  const kept = keptClock();
  const keptError = kept ? kept.error + Math.abs(receivedAt - kept.at) * CLOCK_LOOSENS : Infinity;
  if (error > Math.max(keptError, CLOSE_ENOUGH_MS)) return;
  localStorage.setItem(OFFSET_KEY, JSON.stringify({ offset: server - (sentAt + error), error, at: receivedAt }));
}

export function serverNow() {
  return new Date(Date.now() + (keptClock()?.offset || 0));
}

// Not before `earliest` (an ISO moment: the assignment's previous step), which the server
// refuses; a step tapped within the clock's error of the previous one is given its moment.
export function stepMoment(earliest) {
  const now = serverNow();
  const floor = earliest ? new Date(earliest) : null;
  return (floor && floor > now ? floor : now).toISOString();
}

// --- the screen: the kept state with what is still waiting in the outbox -------------------------
const STEP_FIELD = { en_route: "en_route_at", on_scene: "on_scene_at", transporting: "transporting_at", cleared: "cleared_at" };

// The unit's status while its call is in each state (Assignment.UNIT_STATUS on the server).
const UNIT_STATUS = {
  dispatched: ["dispatched", "Dispatched"],
  en_route: ["en_route", "En route"],
  on_scene: ["on_scene", "On scene"],
  transporting: ["transporting", "Transporting"],
  cleared: ["available", "Available"],
};

export function followCall(unit, status) {
  if (unit && UNIT_STATUS[status]) [unit.status, unit.status_label] = UNIT_STATUS[status];
}

export function latestStep(assignment, { beforeCleared = false } = {}) {
  const names = ["dispatched_at", "en_route_at", "on_scene_at", "transporting_at", ...(beforeCleared ? [] : ["cleared_at"])];
  const moments = names.map((n) => assignment.steps?.[n]).filter(Boolean);
  return moments.sort((a, b) => Date.parse(a) - Date.parse(b)).pop() || null;
}

// What the responder did offline has happened on scene, even if the server has not heard yet:
// steps move the call on, an encounter becomes the call, a cleared call waits for its outcome,
// a saved outcome takes the call off the list, a backup request shows as waiting to send.
export function applyOutbox(state, items) {
  const view = structuredClone(state);
  view.pending = {};
  for (const item of items) {
    if (item.kind === "encounter" && !view.assignment && !(view.missing_outcomes || []).some((a) => a.id === item.assignment)) {
      view.assignment = {
        id: item.assignment,
        label: item.callLabel,
        status: "on_scene",
        acknowledged: true,
        steps: { dispatched_at: item.body.at, acknowledged_at: item.body.at, on_scene_at: item.body.at },
        backup: {},
        requested_follow_ups: [],
        source: "self_initiated",
        incident: { call_type: item.body.call_type, address: item.body.address || "Where you are", source: "self_initiated", screening: {}, tandem: [] },
        premise_history: [],
        local: true,
      };
      followCall(view.unit, "on_scene");
    } else if (item.kind === "status" && view.assignment?.id === item.assignment) {
      view.assignment.status = item.body.status;
      view.assignment.steps = { ...view.assignment.steps, [STEP_FIELD[item.body.status]]: item.body.at };
      if (item.body.destination) view.assignment.transport_destination = item.body.destination;
      followCall(view.unit, item.body.status);
      if (item.body.status === "cleared") {
        view.missing_outcomes = [{ ...view.assignment }, ...(view.missing_outcomes || [])];
        view.assignment = null;
      }
    } else if (item.kind === "ack" && view.assignment?.id === item.assignment) {
      view.assignment.acknowledged = true;
    } else if (item.kind === "backup") {
      view.backups = [{ id: item.key, kind: item.body.kind, kind_label: item.body.kind === "police" ? "Police" : "EMS", urgent: item.body.urgent, requested_at: item.body.at, waiting: true }, ...(view.backups || [])];
      const call = [view.assignment, ...(view.missing_outcomes || [])].find((a) => a && a.id === item.assignment);
      if (call) call.backup = { ...call.backup, [item.body.kind]: true };
    } else if (item.kind === "outcome") {
      view.pending[item.assignment] = true;
      view.missing_outcomes = (view.missing_outcomes || []).filter((a) => a.id !== item.assignment);
      if (view.assignment?.id === item.assignment) view.assignment = null;
    }
  }
  return view;
}
