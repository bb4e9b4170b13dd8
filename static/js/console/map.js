// The live map beside the queue (Leaflet, vendored under static/vendor/): units on shift
// coloured by status with their callsign and the age of their position, open calls by
// priority. Drawn from the rows the page already shows, so it follows the same live events.
// Each marker is an image named for a screen reader (callsign or call type, and the rest);
// a click opens its row. The keyboard works the queue and the board, which hold everything
// the map shows: markers that crowd together would be targets too small to hit. Tiles come from
// MAP_TILE_URL; without one the map is drawn on a plain background (offline, tests).
import { ageOf } from "./time.js";

export class ConsoleMap {
  constructor(element, { onIncident, onUnit }) {
    this.element = element;
    this.units = new Map();
    this.incidents = new Map();
    this.fitted = false;
    this.onIncident = onIncident;
    this.onUnit = onUnit;
    this.empty = document.getElementById("map-empty");
    const L = window.L;
    if (!element || !L) {
      this.map = null;
      if (element) element.textContent = "The map could not be loaded.";
      return;
    }
    this.L = L;
    this.map = L.map(element, { zoomControl: true, keyboard: true, worldCopyJump: true });
    const url = element.dataset.tileUrl;
    if (url) {
      L.tileLayer(url, { attribution: element.dataset.tileAttribution || "", maxZoom: 19 }).addTo(this.map);
    }
    this.map.setView([20, 0], 2);
    // The map's own focusable container needs a name too.
    element.setAttribute("aria-label", "Map of units on shift and open calls");
  }

  syncUnit(row) {
    if (!this.map) return;
    const callsign = row.dataset.unit;
    const point = pointOf(row);
    if (!point || row.dataset.onShift !== "1") return this.removeUnit(callsign);
    const status = row.dataset.status;
    const backup = row.dataset.backup;
    let entry = this.units.get(callsign);
    const look = `${status}|${backup}`;
    if (!entry || entry.look !== look) {
      entry?.marker.remove();
      const marker = this.L.marker(point, {
        icon: this.unitIcon(callsign, status, backup),
        keyboard: false,
        riseOnHover: true,
        zIndexOffset: backup === "open" ? 2000 : 1000,
      }).addTo(this.map);
      marker.getElement()?.setAttribute("role", "img");
      marker.on("click", () => this.onUnit(callsign));
      entry = { marker, look, row };
      this.units.set(callsign, entry);
    } else {
      entry.marker.setLatLng(point);
    }
    entry.row = row;
    this.label(entry);
    this.settle();
  }

  removeUnit(callsign) {
    this.units.get(callsign)?.marker.remove();
    this.units.delete(callsign);
    this.settle();
  }

  syncIncident(row) {
    if (!this.map) return;
    const id = row.dataset.incident;
    const point = pointOf(row);
    if (!point) return this.removeIncident(id);
    const priority = row.dataset.priority || "none";
    let entry = this.incidents.get(id);
    if (!entry || entry.priority !== priority) {
      entry?.marker.remove();
      const marker = this.L.marker(point, { icon: this.incidentIcon(priority), keyboard: false }).addTo(this.map);
      marker.getElement()?.setAttribute("role", "img");
      marker.on("click", () => this.onIncident(id));
      entry = { marker, priority };
      this.incidents.set(id, entry);
    } else {
      entry.marker.setLatLng(point);
    }
    const status = row.dataset.status === "assigned" ? "a team is assigned" : "no team yet";
    const what = `${priority === "none" ? "No priority" : `P${priority}`} ${row.dataset.callType} at ${row.dataset.address}`;
    entry.marker.getElement()?.setAttribute("aria-label", `${what}, ${status}`);
    entry.marker.getElement()?.setAttribute("title", what);
    this.settle();
  }

  removeIncident(id) {
    this.incidents.get(id)?.marker.remove();
    this.incidents.delete(id);
    this.settle();
  }

  syncAll() {
    this.batching = true;
    for (const row of document.querySelectorAll("#unit-rows tr[data-unit]")) this.syncUnit(row);
    for (const row of document.querySelectorAll("#queue tbody[data-incident]")) this.syncIncident(row);
    const callsigns = new Set([...document.querySelectorAll("#unit-rows tr[data-unit]")].map((r) => r.dataset.unit));
    for (const callsign of [...this.units.keys()]) if (!callsigns.has(callsign)) this.removeUnit(callsign);
    const ids = new Set([...document.querySelectorAll("#queue tbody[data-incident]")].map((r) => r.dataset.incident));
    for (const id of [...this.incidents.keys()]) if (!ids.has(id)) this.removeIncident(id);
    this.batching = false;
    this.settle();
  }

  /** Positions age between reports: say so on the markers too. */
  tick() {
    for (const entry of this.units.values()) this.label(entry);
  }

  label(entry) {
    const row = entry.row;
    const age = ageOf(row.dataset.locationAt) || "unknown";
    const element = entry.marker.getElement();
    if (!element) return;
    const ageBox = element.querySelector(".unit-marker-age");
    if (ageBox) ageBox.textContent = `${age} old`;
    // The name starts with what the marker shows (callsign, position age, BACKUP), then says
    // the rest: a screen reader hears what a sighted dispatcher reads.
    const backup = { open: " BACKUP requested", acknowledged: ", backup acknowledged" }[row.dataset.backup] || "";
    const status = row.dataset.statusLabel.toLowerCase();
    element.setAttribute("aria-label", `${row.dataset.unit} ${age} old${backup}, ${status}`);
    element.setAttribute("title", `Unit ${row.dataset.unit}: ${status}; position ${age} old${backup ? `;${backup.toLowerCase()}` : ""}`);
  }

  unitIcon(callsign, status, backup) {
    const box = document.createElement("span");
    box.className = "unit-marker-box";
    const name = document.createElement("span");
    name.className = "unit-marker-callsign";
    name.textContent = callsign;
    const age = document.createElement("span");
    age.className = "unit-marker-age";
    box.append(name, " ", age);
    if (backup === "open") {
      const flag = document.createElement("span");
      flag.className = "unit-marker-backup";
      flag.textContent = "BACKUP";
      box.append(" ", flag);
    }
    return this.L.divIcon({
      html: box,
      className: `unit-marker status-${status}${backup ? ` backup-${backup}` : ""}`,
      iconSize: null,
      iconAnchor: [0, 0],
    });
  }

  incidentIcon(priority) {
    const box = document.createElement("span");
    box.className = "incident-marker-box";
    box.textContent = priority === "none" ? "" : `P${priority}`;
    return this.L.divIcon({ html: box, className: `incident-marker pri-${priority}`, iconSize: [30, 30], iconAnchor: [15, 15] });
  }

  /** Fit the view once there is something to show; after that the dispatcher leads. */
  settle() {
    if (this.batching) return;
    const points = [...this.units.values(), ...this.incidents.values()].map((e) => e.marker.getLatLng());
    if (this.empty) this.empty.hidden = points.length > 0;
    if (this.fitted || !points.length) return;
    this.fitted = true;
    this.map.fitBounds(this.L.latLngBounds(points), { padding: [30, 30], maxZoom: 15 });
  }
}

function pointOf(row) {
  const lat = Number.parseFloat(row.dataset.lat);
  const lon = Number.parseFloat(row.dataset.lon);
  return Number.isFinite(lat) && Number.isFinite(lon) ? [lat, lon] : null;
}
