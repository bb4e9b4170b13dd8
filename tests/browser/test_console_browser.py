"""The dispatcher console in headless Chromium against a real Daphne server: what a CAD posts
and what a unit does appear without a reload, and a click assigns a unit."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from dispatch.models import Assignment, Incident
from tests import factories
from tests.browser.axe import assert_accessible

pytestmark = pytest.mark.browser


def api_post(server, key, path, body):
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def incident_body(external_id, address, latitude, longitude):
    return factories.cad_incident_body(
        external_id=external_id,
        priority=2,
        location={"address": address, "latitude": latitude, "longitude": longitude},
    )


def test_the_console_follows_the_cad_and_the_units_live_and_assigns_by_click(
    daphne, browser_page, personas, call_types, artifacts_dir
):
    factories.UnitFactory(callsign="CR-1", latitude=39.741, longitude=-104.99)
    factories.UnitFactory(callsign="CR-2", latitude=39.80, longitude=-105.05)
    _client, key = factories.api_client("cad-browser", "cad")

    page = browser_page(daphne, personas["dispatcher"])
    page.goto(f"{daphne.url}/dispatch/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#queue")).to_contain_text("No open calls.")
    # A marker on the window: if the page reloaded, it would be gone.
    page.evaluate("window.__notReloaded = true")

    # 1. The CAD posts a call: it appears in the queue.
    status, created = api_post(
        daphne, key, "/api/v1/incidents/", incident_body("CAD-1001", "1500 Larimer St", 39.74, -104.99)
    )
    assert status == 201
    row = page.locator(f'tbody.incident[data-incident="{created["id"]}"]')
    expect(row).to_contain_text("1500 Larimer St")
    expect(row).to_contain_text("Eligible")
    assert_accessible(page, "the dispatcher console with a call in the queue")

    # 2. Another call is assigned to CR-2 over the API and CR-2 goes en route: the board follows.
    _, other = api_post(
        daphne, key, "/api/v1/incidents/", incident_body("CAD-1002", "20 Federal Blvd", 39.80, -105.05)
    )
    _, assignment = api_post(daphne, key, f"/api/v1/incidents/{other['id']}/assign", {"unit": "CR-2"})
    api_post(daphne, key, f"/api/v1/assignments/{assignment['id']}/status", {"status": "en_route"})
    expect(page.locator('#units tr[data-unit="CR-2"]')).to_contain_text("En route")
    expect(page.locator('#units tr[data-unit="CR-1"]')).to_contain_text("Available")

    # 3. The dispatcher opens the first call in place and assigns the recommended unit.
    row.get_by_role("button", name="Details of WELFARE at 1500 Larimer St").click()
    expect(row.get_by_label("Unit")).to_have_value("CR-1")
    row.get_by_role("button", name="Assign").click()
    expect(page.locator("#console-flash")).to_contain_text("CR-1 sent to WELFARE at 1500 Larimer St.")
    expect(page.locator('#units tr[data-unit="CR-1"]')).to_contain_text("Dispatched")
    assigned = page.locator(f'tbody.incident[data-incident="{created["id"]}"]')
    expect(assigned).to_contain_text("CR-1 · Dispatched")
    expect(assigned).to_contain_text("Assigned to CR-1")

    assert page.evaluate("window.__notReloaded") is True
    assert_accessible(page, "the dispatcher console after an assignment")
    assignment = Assignment.objects.select_related("unit", "incident").get(incident_id=created["id"])
    assert assignment.unit.callsign == "CR-1"
    assert assignment.dispatched_by == personas["dispatcher"]
    assert Incident.objects.get(pk=created["id"]).status == Incident.Status.ASSIGNED
    page.screenshot(path=str(artifacts_dir / "console.png"), full_page=True)


def test_a_clinician_takes_a_988_call_transfers_it_and_resolves_it_by_phone(
    daphne, browser_page, call_types, artifacts_dir
):
    from django.contrib.auth.models import Group

    from dispatch.models import ClinicianTransfer
    from dispatch.roles import CLINICIAN_GROUP

    clinician = factories.UserFactory(username="clin", roles=["dispatcher"])
    clinician.groups.add(Group.objects.get_or_create(name=CLINICIAN_GROUP)[0])
    page = browser_page(daphne, clinician)
    page.goto(f"{daphne.url}/dispatch/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # Model 3: the guided intake.
    page.get_by_text("Take a call").click()
    intake = page.locator("#intake")
    intake.get_by_label("Line the call came in on").select_option("988")
    intake.get_by_label("Call type", exact=True).select_option("WELFARE")
    for fieldset in intake.locator("fieldset.screen-question").all():
        fieldset.get_by_label("No", exact=True).check()
    intake.get_by_label("Address or place").fill("77 Colfax Ave")
    intake.get_by_label("Callback phone").fill("303-555-0142")
    intake.get_by_role("button", name="Save the call").click()
    expect(intake.locator(".intake-result")).to_contain_text("Saved WELFARE at 77 Colfax Ave.")
    expect(intake.locator(".intake-result")).to_contain_text("Eligible")
    assert_accessible(page, "the console's intake form after a saved call")
    incident = Incident.objects.get(address="77 Colfax Ave")
    assert incident.source == "988" and incident.eligible

    # Model 2: transfer to the clinicians' queue, then resolve by phone.
    row = page.locator(f'tbody.incident[data-incident="{incident.pk}"]')
    row.get_by_role("button", name="Details of WELFARE at 77 Colfax Ave").click()
    row.get_by_role("button", name="Transfer to clinician").click()
    card = page.locator(f'#clinician article[data-incident="{incident.pk}"]')
    expect(card).to_contain_text("303-555-0142")
    assert_accessible(page, "the clinicians' queue with a transferred call")
    card.get_by_label("What was said on the phone").fill("Talked it through; she is safe with her sister.")
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Resolved by phone").click()
    expect(page.locator("#console-flash")).to_contain_text("resolved by phone; no team sent")
    expect(page.locator(f'tbody.incident[data-incident="{incident.pk}"]')).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "console-clinician.png"), full_page=True)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert incident.clinician_transfer.outcome == ClinicianTransfer.Outcome.RESOLVED_BY_PHONE


def test_a_row_update_fetched_before_the_dispatcher_opened_the_call_keeps_it_open(
    daphne, browser_page, personas, call_types
):
    """A live update of a call whose row was asked for just before the dispatcher opened it
    arrives without its details: the call stays open and its details come again, rather than
    the panel closing under the dispatcher's click."""
    factories.UnitFactory(callsign="CR-1", latitude=39.741, longitude=-104.99)
    factories.UnitFactory(callsign="CR-2", latitude=39.80, longitude=-105.05)
    _client, key = factories.api_client("cad-race", "cad")
    page = browser_page(daphne, personas["dispatcher"])
    page.goto(f"{daphne.url}/dispatch/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    _, created = api_post(
        daphne, key, "/api/v1/incidents/", incident_body("CAD-2001", "1500 Larimer St", 39.74, -104.99)
    )
    row = page.locator(f'tbody.incident[data-incident="{created["id"]}"]')
    expect(row).to_contain_text("1500 Larimer St")

    # The row the assign's live event asks for is held on the way, asked without its details.
    held = []
    page.route(f"**/console/incidents/{created['id']}/row/**", lambda route: held.append(route))
    api_post(daphne, key, f"/api/v1/incidents/{created['id']}/assign", {"unit": "CR-2"})
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the console did not ask for the call's row after its assignment"
    assert "details=1" not in held[0].request.url

    row.get_by_role("button", name="Details of WELFARE at 1500 Larimer St").click()
    details = row.locator("tr.details")
    expect(details).to_be_visible()
    expect(details).not_to_contain_text("Loading")

    for route in held:
        route.continue_()
    page.unroute(f"**/console/incidents/{created['id']}/row/**")
    expect(row).to_contain_text("CR-2")  # the held row, drawn
    expect(row.get_by_role("button", name="Details of WELFARE at 1500 Larimer St")).to_have_attribute(
        "aria-expanded", "true"
    )
    expect(details).to_be_visible()
    expect(details).to_contain_text("Assigned to CR-2")
    assert_accessible(page, "a call kept open across a live update of its row")
