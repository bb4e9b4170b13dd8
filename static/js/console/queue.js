// The queue: one row per call, in the server's order, opened in place for its details, and
// filtered on the page. Rows arrive one by one from live events (see updates.js).
import { activate, fetchFragment, focusKeeper } from "./fragments.js";

const FILTER_KEY = "console.queue.filters";
// What each filter asks of a row (the data attributes the server renders on it).
const FILTERS = {
  "needs-screening": (row) => row.dataset.needsScreening === "1",
  transferred: (row) => row.dataset.transferred === "1",
  eligible: (row) => row.dataset.eligible === "1",
};

export class Queue {
  constructor(root, { detailsUrl, onRowChanged, onRowRemoved, onDuplicatesChanged }) {
    this.root = root;
    this.detailsUrl = detailsUrl;
    this.onRowChanged = onRowChanged;
    this.onRowRemoved = onRowRemoved;
    this.onDuplicatesChanged = onDuplicatesChanged;
    this.expanded = new Set();
    this.filters = document.getElementById("queue-filters");
    this.shown = document.getElementById("queue-shown");
    this.count = document.getElementById("queue-count");
    for (const id of readFilters()) {
      const box = this.filters.querySelector(`input[value="${CSS.escape(id)}"]`);
      if (box) box.checked = true;
    }
    this.filters.addEventListener("change", () => {
      saveFilters(this.activeFilters());
      this.refreshView();
    });
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-expand]");
      if (button && this.section?.contains(button)) this.toggle(button.closest("tbody[data-incident]"));
    });
    for (const row of this.rows()) if (row.querySelector("[data-expand][aria-expanded=true]")) this.expanded.add(row.dataset.incident);
    this.refreshView();
  }

  get section() {
    return document.getElementById("queue");
  }

  get table() {
    return this.section.querySelector("table.queue-table");
  }

  rows() {
    return [...this.table.querySelectorAll("tbody[data-incident]")];
  }

  row(id) {
    return document.getElementById(`incident-${id}`);
  }

  isExpanded(id) {
    return this.expanded.has(id);
  }

  activeFilters() {
    return [...this.filters.querySelectorAll("input:checked")].map((box) => box.value);
  }

  /** Put in, replace or take out one call's row (a fragment from the server). */
  upsert(incoming) {
    const id = incoming.dataset.incident;
    const current = this.row(id);
    if (incoming.dataset.gone) {
      if (current) {
        const listed = current.dataset.duplicates;
        current.remove();
        this.expanded.delete(id);
        this.onRowRemoved(id);
        if (listed) this.onDuplicatesChanged(listed.split(" "));
      }
      this.refreshView();
      return;
    }
    const before = current?.dataset.duplicates || "";
    // A row fetched before the dispatcher opened it comes without its details: it stays open
    // and its details are fetched again, rather than closing under the dispatcher's click.
    const keepOpen = this.expanded.has(id);
    const withDetails = Boolean(incoming.querySelector(".details-body").children.length);
    this.setExpanded(incoming, keepOpen);
    const restoreFocus = focusKeeper(current, "[data-expand]");
    if (current && current.dataset.sort === incoming.dataset.sort) {
      current.replaceWith(incoming);
    } else {
      current?.remove();
      this.insertSorted(incoming);
      if (!current) incoming.classList.add("is-new");
    }
    restoreFocus(incoming);
    activate(incoming);
    if (keepOpen && !withDetails) this.open(id, { scroll: false });
    this.onRowChanged(incoming);
    const after = incoming.dataset.duplicates || "";
    if (after !== before) this.onDuplicatesChanged([...before.split(" "), ...after.split(" ")].filter(Boolean));
    this.refreshView();
  }

  insertSorted(row) {
    const next = this.rows().find((other) => other.dataset.sort > row.dataset.sort);
    if (next) next.before(row);
    else this.table.append(row);
  }

  /** The whole queue came again (after a reconnect): keep what the dispatcher had open. */
  replaced() {
    for (const row of this.rows()) {
      if (this.expanded.has(row.dataset.incident)) this.open(row.dataset.incident, { scroll: false });
      this.onRowChanged(row);
    }
    this.refreshView();
  }

  toggle(row) {
    if (!row) return;
    if (this.expanded.has(row.dataset.incident)) this.close(row.dataset.incident);
    else this.open(row.dataset.incident, { scroll: false });
  }

  async open(id, { scroll = true } = {}) {
    const row = this.row(id);
    if (!row) return false;
    this.expanded.add(id);
    this.setExpanded(row, true);
    if (scroll) {
      row.hidden = false;
      row.scrollIntoView({ block: "start", behavior: "smooth" });
      row.querySelector("[data-expand]").focus({ preventScroll: true });
    }
    const body = row.querySelector(".details-body");
    if (!body.children.length) {
      body.textContent = "Loading…";
      const html = await fetchFragment(this.detailsUrl(id));
      const still = this.row(id);
      if (still && this.expanded.has(id)) {
        const target = still.querySelector(".details-body");
        if (html === null) target.textContent = "Could not load the details: try again.";
        else {
          target.innerHTML = html;
          activate(target);
        }
      }
    }
    return true;
  }

  close(id) {
    this.expanded.delete(id);
    const row = this.row(id);
    if (row) this.setExpanded(row, false);
  }

  setExpanded(row, open) {
    row.querySelector("[data-expand]").setAttribute("aria-expanded", String(open));
    row.querySelector("tr.details").hidden = !open;
    row.classList.toggle("is-open", open);
  }

  /** Filters, counts and the empty line, as the rows now stand. */
  refreshView() {
    const rows = this.rows();
    const active = this.activeFilters();
    let visible = 0;
    for (const row of rows) {
      const show = active.every((name) => FILTERS[name](row));
      row.hidden = !show;
      if (show) visible += 1;
    }
    for (const [name, test] of Object.entries(FILTERS)) {
      const badge = this.filters.querySelector(`[data-filter-count="${name}"]`);
      if (badge) badge.textContent = String(rows.filter(test).length);
    }
    this.count.textContent = String(rows.length);
    this.section.querySelector(".queue-empty").hidden = rows.length > 0;
    this.shown.textContent = active.length ? `Showing ${visible} of ${rows.length} calls.` : "";
  }
}

function readFilters() {
  try {
    return JSON.parse(sessionStorage.getItem(FILTER_KEY) || "[]");
  } catch {
    return [];
  }
}

function saveFilters(filters) {
  try {
    sessionStorage.setItem(FILTER_KEY, JSON.stringify(filters));
  } catch {
    // Not kept across reloads, that is all.
  }
}

