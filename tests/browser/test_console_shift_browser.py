"""The console through a real shift, at a dispatcher's 1440×900 screen, in headless Chromium
against a real Daphne: a backup request seen and heard while scrolled away, the live map, an
intake placed by its address with the nearest unit, a duplicate flagged and linked, a form
error that leaves the page whole under DEBUG=1, and ten calls in view at once."""

import json
import re
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Incident, Shift
from field import services as field_services
from tests import factories
from tests.browser.axe import assert_accessible
from tests.test_geocoding import point

pytestmark = pytest.mark.browser

SCREEN = {"width": 1440, "height": 900}


def api_post(server, key, path, body):
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def open_console(browser_page, server, user):
    page = browser_page(server, user, viewport=SCREEN)
    page.goto(f"{server.url}/dispatch/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.evaluate("window.__notReloaded = true")
    return page


def calls(n, **extra):
    """`n` open calls, a minute apart, none of them urgent (priority 2 to 5)."""
    now = timezone.now()
    return [
        factories.incident(
            address=f"{100 + i} Main St",
            latitude=39.70 + i / 200,  # 550 m apart: none is another's possible duplicate
            longitude=-104.95,
            priority=2 + i % 4,
            received_at=now - timedelta(minutes=n - i),
            **extra,
        )
        for i in range(n)
    ]


def on_shift(callsign, responder, **position):
    unit = factories.UnitFactory(callsign=callsign, location_at=timezone.now(), **position)
    Shift.objects.create(unit=unit, user=responder, started_at=timezone.now())
    return unit


def test_a_backup_request_shows_in_view_sounds_and_changes_the_title_while_scrolled_to_the_bottom(
    daphne, browser_page, personas, call_types, artifacts_dir
):
    calls(40)
    unit = on_shift("CR-1", personas["responder"], latitude=39.74, longitude=-104.99)
    page = open_console(browser_page, daphne, personas["dispatcher"])
    assert page.title() == "Dispatch · Community response"
    # A click anywhere lets the page make sound (browsers hold it back until then).
    page.locator("h1").click()
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("window.scrollY") > 600

    field_services.backup_request(user=personas["responder"], unit_id=unit.pk, kind="police", urgent=True)

    bar = page.locator("#alerts")
    expect(bar).to_contain_text("CR-1 requests URGENT Police backup.")
    expect(bar).to_be_in_viewport()
    expect(page).to_have_title("(1) Dispatch · Community response")
    expect(page.locator("#console")).to_have_attribute("data-last-sound", "urgent")
    expect(page.locator("#alert-announce")).to_contain_text("CR-1 requests URGENT Police backup.")
    # The unit's row and its marker say so too.
    expect(page.locator('#units tr[data-unit="CR-1"]')).to_contain_text("Backup requested: police, urgent")
    marker = page.locator(".leaflet-marker-icon.unit-marker", has_text="CR-1")
    expect(marker).to_have_attribute(
        "aria-label", re.compile(r"^CR-1 \d+ s old BACKUP requested, available$")
    )
    assert_accessible(page, "the console scrolled down, with an urgent backup request in the bar")
    page.screenshot(path=str(artifacts_dir / "console-backup.png"))

    bar.get_by_role("button", name="Acknowledge").click()
    expect(bar).to_contain_text("No open alerts.")
    expect(page).to_have_title("Dispatch · Community response")
    expect(page.locator('#units tr[data-unit="CR-1"]')).not_to_contain_text("Backup requested")

    # Muted, the next alert is shown but not heard.
    page.locator("#sound-toggle").click()
    expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
    field_services.backup_request(user=personas["responder"], unit_id=unit.pk, kind="ems", urgent=False)
    expect(bar).to_contain_text("CR-1 requests EMS backup.")
    expect(page.locator("#console")).to_have_attribute("data-last-sound", "muted")
    # The choice is the dispatcher's: it outlasts a reload.
    page.reload()
    expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__notReloaded") is None


def test_the_map_shows_a_marker_per_unit_on_shift_and_moves_it_with_the_unit(
    daphne, browser_page, personas, call_types, artifacts_dir
):
    responders = [factories.UserFactory(roles=["responder"]) for _ in range(3)]
    cr1 = on_shift("CR-1", responders[0], latitude=39.74, longitude=-104.99)
    on_shift("CR-2", responders[1], latitude=39.75, longitude=-105.00)
    on_shift("CR-3", responders[2], latitude=39.73, longitude=-104.98)
    factories.UnitFactory(callsign="CR-9", status="off_duty", latitude=39.74, longitude=-104.97)
    factories.incident(priority=2, address="1550 Court Pl", latitude=39.7431, longitude=-104.9878)
    page = open_console(browser_page, daphne, personas["dispatcher"])

    markers = page.locator(".leaflet-marker-icon.unit-marker")
    expect(markers).to_have_count(3)
    expect(page.locator(".unit-marker", has_text="CR-9")).to_have_count(0)
    expect(page.get_by_role("img", name="P2 WELFARE at 1550 Court Pl, no team yet")).to_be_visible()
    cr1_marker = page.locator(".unit-marker", has_text="CR-1")
    expect(cr1_marker).to_have_attribute("aria-label", re.compile(r"^CR-1 \d+ s old, available$"))
    before = cr1_marker.bounding_box()
    assert_accessible(page, "the console's map with three units and a call")

    services.unit_report_location(unit_id=cr1.pk, latitude=39.7350, longitude=-104.9700)

    page.wait_for_function(
        """([x, y]) => {
             const markers = [...document.querySelectorAll('.unit-marker')];
             const marker = markers.find((m) => m.textContent.includes('CR-1'));
             const box = marker?.getBoundingClientRect();
             return box && (Math.abs(box.x - x) > 5 || Math.abs(box.y - y) > 5);
           }""",
        arg=[before["x"], before["y"]],
        timeout=10_000,
    )
    # A unit dispatched changes colour on the map as on the board.
    services.assignment_create(incident_id=Incident.objects.get().pk, callsign="CR-1", actor=None)
    expect(page.locator(".leaflet-marker-icon.unit-marker.status-dispatched")).to_have_count(1)
    expect(page.get_by_role("img", name="P2 WELFARE at 1550 Court Pl, a team is assigned")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "console-map.png"))


def test_an_intake_with_a_known_address_gets_coordinates_and_a_recommended_unit_with_a_distance(
    daphne, browser_page, personas, call_types, artifacts_dir
):
    point("1550 Court Pl", 39.7431, -104.9878)
    point("1500 Larimer St", 39.748869, -104.998285)
    on_shift("CR-1", personas["responder"], latitude=39.7392, longitude=-104.9903)
    page = open_console(browser_page, daphne, personas["dispatcher"])

    page.get_by_text("Take a call").click()
    intake = page.locator("#intake")
    intake.get_by_label("Line the call came in on").select_option("988")
    intake.get_by_label("Call type", exact=True).select_option("WELFARE")
    for fieldset in intake.locator("fieldset.screen-question").all():
        fieldset.get_by_label("No", exact=True).check()
    address = intake.get_by_label("Address or place")
    address.press_sequentially("1550 Cou", delay=30)
    expect(page.locator('#address-suggestions option[value="1550 Court Pl"]')).to_have_count(1)
    assert_accessible(page, "the intake form with address suggestions")
    address.fill("1550 Court Pl")
    intake.get_by_role("button", name="Save the call").click()

    result = intake.locator(".intake-result")
    expect(result).to_contain_text("Found the address: placed on the map.")
    expect(result).to_contain_text("Recommended unit: CR-1, 0.5 km away.")
    incident = Incident.objects.get()
    assert (incident.latitude, incident.longitude, incident.geocoded) == (39.7431, -104.9878, True)
    row = page.locator(f'tbody.incident[data-incident="{incident.pk}"]')
    expect(row).to_contain_text("1550 Court Pl")
    expect(row).not_to_contain_text("not on map")
    expect(page.get_by_role("img", name="No priority WELFARE at 1550 Court Pl, no team yet")).to_be_visible()
    row.get_by_role("button", name="Details of WELFARE at 1550 Court Pl").click()
    expect(row).to_contain_text("Recommended: CR-1, 0.5 km away.")
    expect(row.get_by_label("Unit")).to_have_value("CR-1")
    assert_accessible(page, "the console after an intake placed by its address")
    page.screenshot(path=str(artifacts_dir / "console-intake.png"))


def test_a_duplicate_is_flagged_and_linked_to_its_original(daphne, browser_page, personas, call_types):
    _client, key = factories.api_client("cad-dup", "cad")
    page = open_console(browser_page, daphne, personas["dispatcher"])
    location = {"address": "1550 Court Pl", "latitude": 39.7431, "longitude": -104.9878}
    _, original = api_post(
        daphne, key, "/api/v1/incidents/", factories.cad_incident_body(external_id="CAD-1", location=location)
    )
    near = {"address": "1560 Court Place", "latitude": 39.7435, "longitude": -104.9880}
    _, duplicate = api_post(
        daphne,
        key,
        "/api/v1/incidents/",
        factories.cad_incident_body(external_id="CAD-2", call_type="TRESPASS", location=near),
    )
    assert duplicate["possible_duplicates"] == [original["id"]]

    row = page.locator(f'tbody.incident[data-incident="{duplicate["id"]}"]')
    expect(row).to_contain_text("Possible duplicate")
    expect(page.locator(f'tbody.incident[data-incident="{original["id"]}"]')).to_contain_text(
        "Has a duplicate"
    )
    row.get_by_role("button", name="Details of TRESPASS at 1560 Court Place").click()
    expect(row.locator(".duplicates")).to_contain_text("WELFARE at 1550 Court Pl")
    assert_accessible(page, "a call's details with a possible duplicate")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Link as duplicate of WELFARE at 1550 Court Pl").click()

    expect(page.locator("#console-flash")).to_contain_text(
        "Closed TRESPASS at 1560 Court Place as a duplicate of WELFARE at 1550 Court Pl."
    )
    expect(row).to_have_count(0)
    expect(page.locator(f'tbody.incident[data-incident="{original["id"]}"]')).not_to_contain_text(
        "Has a duplicate"
    )
    closed = Incident.objects.get(pk=duplicate["id"])
    assert closed.status == Incident.Status.CLOSED and str(closed.duplicate_of_id) == original["id"]
    assert page.evaluate("window.__notReloaded") is True


def test_an_ineligible_assign_without_a_reason_shows_its_error_with_the_page_intact_under_debug(
    daphne_factory, browser_page, personas, call_types, artifacts_dir
):
    server = daphne_factory(DEBUG="1")
    incident = factories.incident(call_type="ASSAULT", address="1900 Larimer St")
    on_shift("CR-1", personas["responder"], latitude=39.75, longitude=-104.99)
    services.alert_raise(kind="backup", message="CR-5 requests EMS backup.")
    page = open_console(browser_page, server, personas["dispatcher"])
    # DEBUG=1 serves django-htmx's debug script, which replaces the document on an htmx 400.
    expect(page.locator('script[src*="django-htmx"]')).to_have_count(1)

    row = page.locator(f'tbody.incident[data-incident="{incident.pk}"]')
    row.get_by_role("button", name="Details of ASSAULT at 1900 Larimer St").click()
    row.get_by_role("button", name="Assign").click()

    expect(row.locator(".error")).to_contain_text("Give a reason to send a team anyway.")
    expect(row.get_by_label("Reason to send a team anyway")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#console-flash")).to_contain_text("Not assigned")
    # The page is whole: the bar, the board, the map and the styles are still there.
    expect(page.locator("h1")).to_have_text("Dispatch console")
    expect(page.locator("#alerts")).to_contain_text("CR-5 requests EMS backup.")
    expect(page.locator('#units tr[data-unit="CR-1"]')).to_be_visible()
    expect(page.locator("#console-map .leaflet-marker-icon").first).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('.console-sticky')).position") == "sticky"
    assert page.evaluate("window.__notReloaded") is True
    assert_accessible(page, "the console showing a form error under DEBUG=1")
    page.screenshot(path=str(artifacts_dir / "console-debug-error.png"))

    # With the reason, the same form sends the team.
    row.get_by_label("Reason to send a team anyway").fill("Caller is the victim; the knife is put away")
    row.get_by_role("button", name="Assign").click()
    expect(page.locator("#console-flash")).to_contain_text("CR-1 sent to ASSAULT at 1900 Larimer St.")
    expect(row).to_contain_text("CR-1 · Dispatched")


def test_ten_calls_are_in_view_at_1440_by_900(daphne, browser_page, personas, call_types, artifacts_dir):
    calls(16)
    calls(2, call_type="ASSAULT")
    on_shift("CR-1", personas["responder"], latitude=39.74, longitude=-104.99)
    services.alert_raise(kind="backup", message="CR-1 requests URGENT police backup.", urgent=True)
    page = open_console(browser_page, daphne, personas["dispatcher"])
    expect(page.locator("#alerts")).to_contain_text("URGENT police backup")

    visible = page.evaluate(
        """() => [...document.querySelectorAll('#queue tbody.incident tr.summary')].filter((row) => {
             const box = row.getBoundingClientRect();
             return box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0;
           }).length"""
    )
    assert visible >= 10, f"{visible} calls in view"
    # Filters narrow the queue in place.
    page.get_by_label("Eligible").check()
    expect(page.locator("#queue-shown")).to_have_text("Showing 16 of 18 calls.")
    expect(page.locator("#queue tbody.incident.is-ineligible").first).to_be_hidden()
    assert_accessible(page, "the console with eighteen calls and an urgent alert")
    page.screenshot(path=str(artifacts_dir / "console-1440x900.png"))
