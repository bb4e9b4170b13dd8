// What the page re-fetches after a change: the rows of the calls and units a live event (or an
// action's answer) names, and now and then a whole region. Requests for the same thing close
// together travel once; a row someone is typing in waits until they leave it; an answer that
// arrives after a newer one for the same row is dropped.
import { fetchFragment, inUse, parseFragment } from "./fragments.js";

// Past this many rows at once, one request for the whole region is cheaper.
const WHOLE_QUEUE_AFTER = 25;
const WHOLE_BOARD_AFTER = 12;
const REGIONS = ["queue", "units", "alerts", "clinician"];

export class Updater {
  constructor({ root, queue, units, bar, map }) {
    this.root = root;
    this.queue = queue;
    this.units = units;
    this.bar = bar;
    this.map = map;
    this.incidents = new Set();
    // Rows an action of this dispatcher changed: what they typed there has been sent.
    this.forced = new Set();
    this.unitNames = new Set();
    this.regions = new Set();
    this.timer = null;
    this.latest = new Map();
    this.sequence = 0;
    document.addEventListener("focusout", () => {
      if (this.pending()) this.soon(400);
    });
  }

  pending() {
    return this.incidents.size + this.unitNames.size + this.regions.size > 0;
  }

  want({ incidents = [], units = [], regions = [] } = {}, delay = 100, { force = false } = {}) {
    incidents.filter(Boolean).forEach((id) => {
      this.incidents.add(String(id));
      if (force) this.forced.add(String(id));
    });
    units.filter(Boolean).forEach((callsign) => this.unitNames.add(String(callsign)));
    regions.filter((name) => REGIONS.includes(name)).forEach((name) => this.regions.add(name));
    this.soon(delay);
  }

  everything() {
    this.want({ regions: REGIONS });
  }

  soon(delay) {
    if (!this.timer) this.timer = setTimeout(() => this.flush(), delay);
  }

  async flush() {
    this.timer = null;
    if (this.incidents.size > WHOLE_QUEUE_AFTER) this.regions.add("queue");
    if (this.unitNames.size > WHOLE_BOARD_AFTER) this.regions.add("units");
    if (this.regions.has("queue")) this.incidents.clear();
    if (this.regions.has("units")) this.unitNames.clear();
    const jobs = [];
    for (const name of [...this.regions]) {
      const region = document.getElementById(name);
      if (inUse(region)) continue;
      this.regions.delete(name);
      jobs.push(this.region(name));
    }
    for (const id of [...this.incidents]) {
      const force = this.forced.delete(id);
      if (!force && inUse(this.queue.row(id))) continue;
      this.incidents.delete(id);
      jobs.push(this.incidentRow(id, force));
    }
    for (const callsign of [...this.unitNames]) {
      this.unitNames.delete(callsign);
      jobs.push(this.unitRow(callsign));
    }
    markStale(this.queue, this.incidents);
    await Promise.all(jobs);
  }

  /** Fetch `url`; null when a newer request for `key` was made meanwhile (or it failed). */
  async latestOf(key, url) {
    const mine = ++this.sequence;
    this.latest.set(key, mine);
    const html = await fetchFragment(url);
    if (this.latest.get(key) !== mine) return null;
    this.latest.delete(key);
    return html;
  }

  async incidentRow(id, force = false) {
    const details = this.queue.isExpanded(id) ? "?details=1" : "";
    const html = await this.latestOf(`incident:${id}`, this.url("rowUrl", id) + details);
    if (html === null) return;
    if (!force && inUse(this.queue.row(id))) {
      this.want({ incidents: [id] }, 400);
      return;
    }
    this.queue.upsert(parseFragment(html));
  }

  async unitRow(callsign) {
    const url = this.root.dataset.unitUrl.replace("CALLSIGN", encodeURIComponent(callsign));
    const html = await this.latestOf(`unit:${callsign}`, url);
    if (html === null) return;
    if (!this.units.upsert(parseFragment(html))) this.want({ regions: ["units"] });
  }

  async region(name) {
    const html = await this.latestOf(`region:${name}`, this.root.dataset.regionUrl.replace("REGION", name));
    if (html === null) return;
    const current = document.getElementById(name);
    if (!current) return;
    if (inUse(current)) {
      this.want({ regions: [name] }, 400);
      return;
    }
    const fresh = parseFragment(html);
    current.replaceWith(fresh);
    window.htmx?.process(fresh);
    if (name === "queue") this.queue.replaced();
    if (name === "units") this.units.replaced();
    if (name === "alerts") this.bar.sync();
    if (name === "queue" || name === "units") this.map.syncAll();
  }

  url(which, id) {
    return this.root.dataset[which].replace("00000000-0000-0000-0000-000000000000", id);
  }
}

function markStale(queue, waiting) {
  for (const row of queue.rows()) {
    if (waiting.has(row.dataset.incident)) row.dataset.stale = "true";
    else delete row.dataset.stale;
  }
}
