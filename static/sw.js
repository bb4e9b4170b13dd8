// The tablet's service worker (served at /sw.js so its scope is the whole site).
// The app shell opens with no network: pages and static files are fetched network-first and
// kept. The call itself is not the worker's: the page keeps the newest state in IndexedDB
// (static/js/field/state.js) and draws it over a cached page, so /field/state is never cached
// here (an old copy would pass for an answer). Writes are never cached either — the page's
// outbox (static/js/field/outbox.js) holds them until the network is back.
// When the session ends the personal pages (the tablet's page, with its call) leave the cache,
// whichever way the worker learns it: the sign-out form passing through it, the page telling it
// (a socket closed 4401, locked idle), or an answer it relays: a 401, or a page redirected to
// sign-in. The app's own files stay, so the next responder's sign-in needs no download.

const CACHE = "cr-field-v2";
const SHELL = [
  "/field/",
  "/manifest.webmanifest",
  "/static/css/app.css",
  "/static/css/field.css",
  "/static/js/field/app.js",
  "/static/js/field/outbox.js",
  "/static/js/field/register_worker.js",
  "/static/js/field/render.js",
  "/static/js/field/socket.js",
  "/static/js/field/sound.js",
  "/static/js/field/state.js",
  "/static/js/field/words.js",
  "/static/django_htmx/htmx-2.min.js",
  "/static/django_htmx/django-htmx.js",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
];
const CACHED_PREFIXES = ["/field/", "/static/", "/manifest.webmanifest"];
const NEVER = ["/field/api/", "/field/state", "/api/", "/ws/", "/admin/"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // One missing file (say, signed out) must not stop the worker installing.
      Promise.all(SHELL.map((url) => cache.add(new Request(url, { credentials: "same-origin" })).catch(() => null))),
    ),
  );
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

const SIGN_IN = "/signin/";
// Kept through the end of a session: the app's files, nothing about anyone.
const IMPERSONAL = ["/static/", "/manifest.webmanifest"];

async function forgetPersonal() {
  const cache = await caches.open(CACHE);
  const keys = await cache.keys();
  await Promise.all(keys.filter((request) => !IMPERSONAL.some((p) => new URL(request.url).pathname.startsWith(p)))
    .map((request) => cache.delete(request)));
}

// A page of the tablet redirected (to sign-in: a navigation sees only an opaque redirect), or
// a 401 from its API.
function endsSession(response) {
  return response.status === 401 || response.type === "opaqueredirect"
    || (response.redirected && new URL(response.url).pathname === SIGN_IN);
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "session-ended") event.waitUntil(forgetPersonal());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return;
  if (event.request.method === "POST" && url.pathname === "/signout/") {
    // A shared tablet: the next responder must not find this one's calls in the cache.
    event.waitUntil(forgetPersonal());
    return;
  }
  if (event.request.mode === "navigate" && url.pathname === SIGN_IN) {
    // Whoever reaches sign-in has no session here any more.
    event.waitUntil(forgetPersonal());
    return;
  }
  if (url.pathname.startsWith("/field/api/") || url.pathname === "/field/state") {
    // Never cached, but watched: a 401 here is the session ending while the page was open.
    if (event.request.mode !== "navigate") event.respondWith(relay(event));
    return;
  }
  if (event.request.method !== "GET") return;
  if (NEVER.some((p) => url.pathname.startsWith(p))) return;
  if (!CACHED_PREFIXES.some((p) => url.pathname.startsWith(p))) return;
  event.respondWith(networkFirst(event.request));
});

async function relay(event) {
  const response = await fetch(event.request);
  if (endsSession(response)) await forgetPersonal();
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (endsSession(response)) {
      await forgetPersonal();
      return response;
    }
    // Only real pages: a redirect to sign-in must not replace the cached app.
    if (response.ok && !response.redirected && response.type === "basic") {
      cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const cached = (await cache.match(request)) || (request.mode === "navigate" ? await cache.match("/field/") : null);
    if (cached) return cached;
    throw error;
  }
}
