// The offline outbox: every write the tablet makes goes through here. Each item carries a
// client UUID sent as Idempotency-Key, so sending it twice (a lost answer, a reload in the
// middle of a replay) still stores it once on the server. Items leave the outbox only when
// the server has answered: 2xx removes them, any other answer moves them to `conflicts`,
// which the responder must see and dismiss — nothing is dropped silently. Except "you are not
// signed in": a 401 (the session ended, say locked idle while offline), or a 403 while the
// tablet does not know itself signed in, keeps the item, body and all, and stops the flush;
// it is sent once the responder signs in again. Items carry their responder: on a shared
// tablet only the one who queued an item sends it. Each item's body
// carries `at`, the moment it was tapped (CONTRACT.md "When a step happened"), fixed when the
// item is made, so a retry sends the very same request.

import { explain } from "./words.js";

const DB_NAME = "cr-field";
const DB_VERSION = 1;

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      db.createObjectStore("conflicts", { keyPath: "key" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function tx(store, mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const result = work(t.objectStore(store));
    t.oncomplete = () => { db.close(); resolve(result && "result" in result ? result.result : result); };
    t.onerror = () => { db.close(); reject(t.error); };
  });
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Fallback for old WebViews: RFC 4122 version 4 from getRandomValues.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const pending = () => tx("outbox", "readonly", (s) => s.getAll());
export const conflicts = () => tx("conflicts", "readonly", (s) => s.getAll());
export const dismissConflict = (key) => tx("conflicts", "readwrite", (s) => s.delete(key));

export function enqueue(item) {
  return tx("outbox", "readwrite", (s) => s.add({ ...item, queuedAt: item.body?.at || new Date().toISOString() }));
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// One request; resolves to {ok, status, body} or rejects when the network is down. A request
// the page makes on its own (`background`) does not count as use of the session (idle lock).
export async function send(item, { background = false } = {}) {
  const headers = {
    "Content-Type": "application/json",
    "Idempotency-Key": item.key,
    "X-CSRFToken": csrfToken(),
  };
  if (background) headers["X-Background"] = "1";
  const response = await fetch(item.url, {
    method: "POST",
    credentials: "same-origin",
    headers,
    body: JSON.stringify(item.body),
  });
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return { ok: response.ok, status: response.status, body };
}

// In plain words, with what to do (words.js).
export function describeError(status, body) {
  return explain(status, body);
}

// Keep a refusal until the responder has read it and dismissed it; what was sent stays with it.
export function recordConflict(item, result) {
  return tx("conflicts", "readwrite", (s) =>
    s.put({
      key: item.key, label: item.label, status: result.status, detail: describeError(result.status, result.body),
      at: new Date().toISOString(), url: item.url, body: item.body, kind: item.kind,
    }));
}

// Whether an answer means "sign in again", not "no": the item must wait, not be refused.
export function signedOutAnswer(result, { live = false } = {}) {
  return result.status === 401 || (result.status === 403 && !live);
}

let flushing = null;

// Send every queued item of `user` in order. Stops at the first network failure, server error
// (5xx) or "sign in again" and leaves the rest for the next try, so the order the responder
// acted in is kept. Resolves true when everything went, false when something waits, and
// "signed_out" when the server asked for sign-in.
export function flush(onResult, { user = null, live = () => false } = {}) {
  if (flushing) return flushing;
  flushing = (async () => {
    try {
      for (const item of await pending()) {
        if (user !== null && item.user !== undefined && item.user !== user) continue;
        let result;
        try {
          result = await send(item);
        } catch {
          return false; // offline again
        }
        if (result.status >= 500) return false;
        if (signedOutAnswer(result, { live: live() })) return "signed_out";
        if (!result.ok) await recordConflict(item, result);
        await tx("outbox", "readwrite", (s) => s.delete(item.seq));
        if (onResult) await onResult(item, result);
      }
      return true;
    } finally {
      flushing = null;
    }
  })();
  return flushing;
}
