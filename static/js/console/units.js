// The unit board: one row per unit, in callsign order, replaced one by one as units change.
import { activate, focusKeeper } from "./fragments.js";

export class UnitBoard {
  constructor({ onRowChanged, onRowRemoved }) {
    this.onRowChanged = onRowChanged;
    this.onRowRemoved = onRowRemoved;
  }

  get body() {
    return document.getElementById("unit-rows");
  }

  rows() {
    return [...(this.body?.querySelectorAll("tr[data-unit]") || [])];
  }

  row(callsign) {
    return this.body?.querySelector(`tr[data-unit="${CSS.escape(callsign)}"]`);
  }

  /** Put in, replace or take out one unit's row; false when the board must come whole. */
  upsert(incoming) {
    if (!this.body) return false;
    const callsign = incoming.dataset.unit;
    const current = this.row(callsign);
    if (incoming.dataset.gone) {
      current?.remove();
      this.onRowRemoved(callsign);
      return true;
    }
    if (current) {
      const restoreFocus = focusKeeper(current, "th");
      current.replaceWith(incoming);
      restoreFocus(incoming);
    } else {
      const next = this.rows().find((other) => other.dataset.unit.localeCompare(callsign) > 0);
      if (next) next.before(incoming);
      else this.body.append(incoming);
    }
    activate(incoming);
    this.onRowChanged(incoming);
    return true;
  }

  replaced() {
    for (const row of this.rows()) this.onRowChanged(row);
  }
}
