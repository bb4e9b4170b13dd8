// The tablet's service worker, registered from the root so its scope covers the site. The
// worker's URL comes from the page (json_script): the Content-Security-Policy allows no inline
// script, so this lives here rather than in the template.
const url = JSON.parse(document.getElementById("service-worker-url")?.textContent ?? "null");
if (url && "serviceWorker" in navigator) navigator.serviceWorker.register(url, { scope: "/" });
