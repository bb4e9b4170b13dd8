// Ages and times in status tick on the page between updates; the server's clock is the reference.

export function duration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

let skewMs = 0;

export function setServerNow(iso) {
  skewMs = Date.parse(iso) - Date.now() || 0;
}

export function serverNow() {
  return Date.now() + skewMs;
}

/** How long ago an ISO timestamp was, as the console writes it ("" when there is none). */
export function ageOf(iso) {
  const since = Date.parse(iso || "");
  return Number.isNaN(since) ? "" : duration((serverNow() - since) / 1000);
}

export function tickTimes(root = document) {
  for (const time of root.querySelectorAll("time[data-since]")) {
    const age = ageOf(time.getAttribute("datetime"));
    if (age && time.textContent !== age) time.textContent = age;
  }
}
