"""What the tablet's browser tests share: a call dispatched through the CAD API, the tablet
opened as a responder would, and the checks every tablet screen must pass (a touch target of
at least 48 px, and axe-core with no serious or critical violation)."""

import json
import time
import urllib.request

from dispatch.models import Assignment
from tests import factories
from tests.browser.axe import assert_accessible

PORTRAIT = {"width": 768, "height": 1024}
LANDSCAPE = {"width": 1280, "height": 800}
VIEWPORTS = [PORTRAIT, LANDSCAPE]
VIEWPORT_IDS = ["768x1024", "1280x800"]
POSITION = {"latitude": 39.7392, "longitude": -104.9903}


def api_post(server, path, body, key):
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def dispatch_a_call(server, cad_key, external_id="CAD-1", **extra):
    fields = {
        "priority": 2,
        "location": {"address": "1437 Bannock St", "latitude": 39.74, "longitude": -104.99},
        "caller": {"name": "Ana", "phone": "+1 303 555 0100"},
        "narrative": "Man sitting outside the library, not dressed for the cold.",
        "tandem": ["ems"],
        **extra,
    }
    incident = api_post(
        server, "/api/v1/incidents/", factories.cad_incident_body(external_id=external_id, **fields), cad_key
    )
    api_post(server, f"/api/v1/incidents/{incident['id']}/assign", {"unit": "CR-1"}, cad_key)
    return Assignment.objects.get(incident_id=incident["id"])


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the server")


def open_tablet(server, browser_page, user, viewport=PORTRAIT, *, clock=False, path="/field/", **options):
    """The tablet signed in as `user`; with `clock`, Playwright's clock (page.clock) runs the
    page's time, so a test can let 20 s pass in no time."""
    page = browser_page(
        server, user, viewport=viewport, geolocation=POSITION, permissions=["geolocation"], **options
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if clock:
        page.clock.install()
    page.goto(f"{server.url}{path}")
    return page, errors


def fill_outcome(page, narrative, disposition="resolved_on_scene"):
    form = page.locator("#outcome")
    form.get_by_label("Disposition").select_option(disposition)
    form.get_by_label("Crisis counselling").check()
    form.get_by_label("Narrative").fill(narrative)
    form.get_by_role("button", name="Save outcome").click()


def in_view(page, locator) -> bool:
    """Whole inside the viewport, and the element a finger on its centre would touch."""
    return locator.evaluate(
        """(el) => {
          const r = el.getBoundingClientRect();
          const inside = r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return inside && (hit === el || el.contains(hit));
        }"""
    )


# Gloved hands: every control a screen offers is at least 48 px each way. A checkbox or radio
# counts by its label, which takes the tap; hidden and off-screen controls (the skip link until
# it has focus) take none, nor do controls behind an open modal dialog.
SMALL_TARGETS = """(minimum) => {
  const open = document.querySelector("dialog[open]");
  const small = [];
  for (const el of document.querySelectorAll("a[href], button, select, input, textarea, summary")) {
    if (open && !open.contains(el)) continue;  // behind a modal dialog: not reachable
    if (el.closest("[hidden], dialog:not([open]), details:not([open]) > :not(summary)")) continue;
    const box = (el.matches("input[type=checkbox], input[type=radio]") && el.closest("label")) || el;
    const r = box.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= 0 || r.bottom <= 0) continue;  // not shown, or the skip link
    if (r.width < minimum || r.height < minimum) {
      const name = (el.textContent || el.value || "").trim().slice(0, 30);
      const size = `${Math.round(r.width)}x${Math.round(r.height)}`;
      small.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${name}" ${size}`);
    }
  }
  return small;
}"""


def assert_touch_targets_fit_a_glove(page, minimum=48, label="the tablet"):
    small = page.evaluate(SMALL_TARGETS, minimum)
    assert not small, f"Controls smaller than {minimum} px on {label}:\n" + "\n".join(small)


def check_screen(page, label):
    """Every touch target at least 48 px, and no serious or critical axe violation."""
    assert_touch_targets_fit_a_glove(page, label=label)
    assert_accessible(page, label)


def night(page, on=True):
    """Night mode as the toggle sets it (the start-shift screen has no toggle of its own)."""
    page.evaluate("(on) => { document.documentElement.dataset.theme = on ? 'dark' : 'light'; }", on)
