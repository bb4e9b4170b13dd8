// The live part of the tablet's screen, drawn from its state (state.js applyOutbox): the same
// drawing whether the state came from the server a moment ago or from IndexedDB in a dead zone.
// Text only ever goes in as text, never as markup.

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clock(iso, { seconds = false } = {}) {
  const parts = { hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) };
  return iso ? new Date(iso).toLocaleTimeString([], parts) : "";
}

const SCREENING = [
  ["weapons", "Weapons"],
  ["violence", "Threat of violence"],
  ["medical_emergency", "Medical emergency"],
  ["police_only", "Police-only need"],
];

function answer(value) {
  return value === true ? "YES" : value === false ? "no" : "not asked";
}

function unitBar(view, fresh) {
  const unit = view.unit;
  return h("section", { class: "unitbar card", "aria-label": "Your unit" },
    h("div", {},
      h("strong", { class: "callsign" }, unit.callsign), " ",
      h("span", { id: "unit-status", class: `badge status-${unit.status}`, dataset: { status: unit.status } }, unit.status_label), " ",
      h("span", { class: "muted" }, unit.partners.length ? `with ${unit.partners.join(", ")}` : "No partner on shift yet")),
    h("span", { class: "muted", id: "state-age" }, fresh ? `Updated ${clock(view.as_of)}` : `Kept on the tablet since ${clock(view.as_of)}`));
}

function assignmentCard(a, labels) {
  const i = a.incident;
  const geo = `geo:${i.latitude ?? 0},${i.longitude ?? 0}?q=${encodeURIComponent(i.address)}`;
  const caller = i.caller_tel
    ? h("a", { class: "button", href: `tel:${i.caller_tel}` }, `Call back ${i.caller_name || "the caller"} · ${i.caller_phone}`)
    : i.caller_name || "No callback number";
  return h("section", {
    id: "assignment", class: "card assignment", "aria-labelledby": "assignment-h",
    dataset: { assignmentId: a.id, status: a.status, acknowledged: String(Boolean(a.acknowledged)), ackEventId: a.ack_event_id ?? "", label: a.label },
  },
  h("div", { class: "row-between" },
    h("h1", { id: "assignment-h" }, i.call_type, i.call_type_name ? h("span", { class: "muted" }, ` ${i.call_type_name}`) : null),
    h("span", { class: "badge priority" }, i.priority ? `Priority ${i.priority}` : "No priority")),
  h("p", { class: "status-line" }, "Status: ", h("strong", { id: "assignment-status" }, labels[a.status] || a.status), " ",
    i.source === "self_initiated" ? h("span", { class: "badge" }, "Self-initiated") : null,
    i.source === "police_referral" ? h("span", { class: "badge" }, "Police referral") : null,
    a.transport_destination ? h("span", { class: "muted" }, ` to ${a.transport_destination}`) : null,
    a.local ? h("span", { class: "muted" }, " (not yet sent)") : null),
  h("div", { id: "status-buttons", class: "actions", role: "group", "aria-label": "Change status" }),
  h("dl", { class: "facts" },
    h("dt", {}, "Address"),
    h("dd", {}, h("a", { class: "button", href: geo, "aria-label": `Open ${i.address} in maps` }, i.address),
      i.location_details ? h("div", {}, i.location_details) : null),
    h("dt", {}, "Caller"), h("dd", { id: "caller" }, caller),
    h("dt", {}, "Tandem"), h("dd", {}, i.tandem?.length ? i.tandem.map((t) => h("span", { class: "badge" }, t.toUpperCase())) : "None"),
    h("dt", {}, "Screening"),
    h("dd", {}, h("ul", { class: "screening" }, SCREENING.map(([key, label]) => h("li", {}, `${label}: ${answer(i.screening?.[key])}`)))),
    h("dt", {}, "Narrative"), h("dd", { class: "narrative" }, i.narrative || "None given")),
  h("h2", {}, "Premise history ", h("span", { class: "muted" }, "(last 90 days)")),
  a.premise_history?.length
    ? h("table", { id: "premise-history" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Call type"), h("th", { scope: "col" }, "Outcome"))),
      h("tbody", {}, a.premise_history.map((r) => h("tr", {}, h("td", {}, r.date), h("td", {}, r.call_type), h("td", {}, r.outcome)))))
    : h("p", { id: "premise-history", class: "muted" }, "No earlier contacts at this address."));
}

export function renderPanel(container, view, { labels, fresh }) {
  const parts = [unitBar(view, fresh)];
  if (view.cancelled && !view.assignment) {
    parts.push(h("section", { class: "card cancelled", role: "alert", id: "cancelled-note", dataset: { assignmentId: view.cancelled.id } },
      h("h2", {}, "Cancelled by dispatch"),
      h("p", {}, `${view.cancelled.label} was cancelled at ${clock(view.cancelled.cancelled_at)}. Do not continue to the scene.`)));
  }
  parts.push(view.assignment
    ? assignmentCard(view.assignment, labels)
    : h("section", { class: "card idle", id: "no-assignment" }, h("h1", {}, "No assignment"), h("p", { class: "muted" }, "New calls appear here with a sound.")));
  if (view.backups?.length) {
    parts.push(h("section", { class: "card", "aria-labelledby": "backups-h" }, h("h2", { id: "backups-h" }, "Backup requests"),
      h("ul", { class: "backups" }, view.backups.map((b) => h("li", { dataset: { backupId: b.id } },
        `${b.kind_label}${b.urgent ? " (urgent)" : ""} at ${clock(b.requested_at)} — `,
        b.waiting ? h("strong", { class: "warn" }, "Waiting to send")
          : b.acknowledged ? h("strong", { class: "ok" }, "Dispatch acknowledged") : h("strong", { class: "warn" }, "Waiting for dispatch"))))));
  }
  if (view.missing_outcomes?.length) {
    parts.push(h("section", { class: "card", "aria-labelledby": "missing-h" }, h("h2", { id: "missing-h" }, "Outcome still needed"),
      h("ul", { class: "missing" }, view.missing_outcomes.map((a) => h("li", {},
        h("button", { type: "button", class: "big", dataset: { outcomeFor: a.id, label: a.label } },
          `Record outcome: ${a.label}${a.steps?.cleared_at ? ` (${clock(a.steps.cleared_at)})` : ""}`))))));
  }
  container.replaceChildren(...parts);
}

// "What is waiting": the outbox item by item, oldest first, with when each was tapped.
export function renderOutbox(list, items) {
  list.replaceChildren(...items.map((item) => h("li", { dataset: { outboxKey: item.key } },
    h("span", {}, item.label || item.kind), " ", h("span", { class: "muted" }, `tapped ${clock(item.body?.at || item.queuedAt, { seconds: true })}`))));
}
