"""The tablet in headless Chromium against a real Daphne: an assignment pushed live, worked
through its statuses and outcome; writes made offline reaching the server once; a
self-initiated encounter end to end."""

import pytest

from dispatch import services as dispatch_services
from dispatch.models import Assignment, Incident, Unit
from field.models import BackupRequest, Outcome
from tests import factories
from tests.browser.axe import assert_accessible
from tests.browser.tablet import (
    LANDSCAPE,
    POSITION,
    api_post,
    assert_touch_targets_fit_a_glove,
    dispatch_a_call,
    fill_outcome,
    open_tablet,
    wait_for,
)

pytestmark = pytest.mark.browser


def test_an_assignment_is_pushed_acknowledged_worked_and_closed_with_an_outcome(
    daphne, browser_page, team, artifacts_dir
):
    page, errors = open_tablet(daphne, browser_page, team["responder"])
    assert_accessible(page, "the tablet's start-shift form")
    assert_touch_targets_fit_a_glove(page)
    page.get_by_label("Unit").select_option(label="CR-1")
    page.get_by_role("button", name="Start shift").click()
    page.wait_for_selector("#connection:has-text('Live')")
    assert Unit.objects.get(callsign="CR-1").status == "available"

    assignment = dispatch_a_call(daphne, team["cad_key"])
    alert = page.get_by_role("alertdialog", name="New assignment")
    alert.wait_for(state="visible", timeout=5000)  # pushed: no reload
    assert "WELFARE at 1437 Bannock St" in alert.inner_text()
    assert page.locator("#assignment a[href^='geo:39.74']").is_visible()
    call_back = page.locator("#assignment a[href='tel:+13035550100']")
    assert call_back.is_visible()
    # Read aloud with its purpose, and named by the words it shows (voice control says those).
    assert page.get_by_role("link", name="Call back Ana · +1 303 555 0100", exact=True).count() == 1
    assert_accessible(page, "the tablet's new-assignment alert")
    page.screenshot(path=artifacts_dir / "field-assignment-768x1024.png", full_page=True)
    page.set_viewport_size(LANDSCAPE)
    page.screenshot(path=artifacts_dir / "field-assignment-1280x800.png", full_page=True)

    page.get_by_role("button", name="Acknowledge").click()
    assert alert.is_hidden()
    wait_for(lambda: Assignment.objects.get(pk=assignment.pk).acknowledged_at)
    assert_accessible(page, "the tablet's assignment, day theme")
    assert_touch_targets_fit_a_glove(page)
    page.get_by_role("button", name="Night mode").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert_accessible(page, "the tablet's assignment, night theme")

    page.get_by_role("button", name="Set status: En route").click()
    page.get_by_role("button", name="Set status: On scene").click()
    page.get_by_role("button", name="Set status: Transporting").click()
    page.get_by_label("Destination", exact=True).fill("Denver CARES")
    page.get_by_role("button", name="Start transport").click()
    page.get_by_role("button", name="Set status: Clear").click()
    page.locator("#outcome").wait_for(state="visible")
    assert_accessible(page, "the tablet's outcome form, night theme")
    assert_touch_targets_fit_a_glove(page)
    fill_outcome(page, "Warm clothes, a ride, and a bed for the night.")
    page.wait_for_selector("#outcome-saved:has-text('Outcome saved.')")

    outcome = wait_for(lambda: Outcome.objects.filter(assignment_id=assignment.pk).first())
    assignment.refresh_from_db()
    assert assignment.status == "cleared" and assignment.transport_destination == "Denver CARES"
    assert assignment.en_route_at and assignment.on_scene_at and assignment.transporting_at
    assert (
        outcome.services_provided == ["crisis_counselling"]
        and outcome.transport_destination == "Denver CARES"
    )
    assert errors == []


def test_writes_made_offline_reach_the_server_once_when_it_comes_back(daphne, browser_page, team):
    dispatch_services.shift_start(user=team["responder"], unit_id=team["unit"].pk)
    assignment = dispatch_a_call(daphne, team["cad_key"])
    for step in ("en_route", "on_scene"):
        api_post(daphne, f"/api/v1/assignments/{assignment.pk}/status", {"status": step}, team["cad_key"])
    page, errors = open_tablet(daphne, browser_page, team["responder"])
    page.wait_for_selector("#connection:has-text('Live')")
    page.get_by_role("button", name="Night mode").click()
    page.get_by_role("alertdialog", name="New assignment").wait_for()
    assert_accessible(page, "the tablet's new-assignment alert, night theme")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    # The app shell and the current assignment open from the service worker's cache.
    assert page.reload().from_service_worker
    page.wait_for_selector("#connection:has-text('Offline')")
    assert "1437 Bannock St" in page.locator("#assignment").inner_text()
    assert_accessible(page, "the tablet offline")
    page.get_by_role("button", name="Set status: Clear").click()
    fill_outcome(page, "Written in a dead zone.")
    page.wait_for_selector("#outbox-status:has-text('2 waiting to send')")
    assert page.locator("#outcome-saved").inner_text().startswith("Outcome saved on the tablet")
    assert Assignment.objects.get(pk=assignment.pk).status == "on_scene"
    assert not Outcome.objects.exists()

    page.context.set_offline(False)
    page.wait_for_selector("#outbox-status:has-text('0 waiting to send')", timeout=15_000)
    assert Assignment.objects.get(pk=assignment.pk).status == "cleared"
    assert Outcome.objects.filter(assignment_id=assignment.pk).count() == 1
    assert page.locator("#conflicts .conflict").count() == 0
    assert errors == []


def test_a_conflict_from_the_outbox_is_shown_not_dropped(daphne, browser_page, team):
    dispatch_services.shift_start(user=team["responder"], unit_id=team["unit"].pk)
    assignment = dispatch_a_call(daphne, team["cad_key"])
    page, _errors = open_tablet(daphne, browser_page, team["responder"])
    page.wait_for_selector("#connection:has-text('Live')")
    page.get_by_role("button", name="Acknowledge").click()
    page.context.set_offline(True)
    page.get_by_role("button", name="Set status: En route").click()
    page.wait_for_selector("#outbox-status:has-text('1 waiting to send')")
    # Dispatch cancels the call while the tablet is out of coverage.
    cancel = factories.cad_incident_body(
        location={"address": "1437 Bannock St", "latitude": 39.74, "longitude": -104.99}, cancelled=True
    )
    api_post(daphne, "/api/v1/incidents/", cancel, team["cad_key"])
    page.context.set_offline(False)
    conflict = page.locator("#conflicts .conflict")
    conflict.wait_for(timeout=15_000)
    assert "not accepted" in conflict.inner_text() and "cancelled" in conflict.inner_text().lower()
    assert_accessible(page, "the tablet with a conflict and a cancelled call")
    assert Assignment.objects.get(pk=assignment.pk).status == "cancelled"
    page.reload()
    page.locator("#conflicts .conflict").wait_for()  # kept until the responder dismisses it
    page.get_by_role("button", name="Dismiss: En route").click()
    page.locator("#conflicts .conflict").wait_for(state="detached")


def test_a_self_initiated_encounter_end_to_end(daphne, browser_page, team):
    dispatch_services.shift_start(user=team["responder"], unit_id=team["unit"].pk)
    page, errors = open_tablet(daphne, browser_page, team["responder"], viewport=LANDSCAPE)
    page.wait_for_selector("#connection:has-text('Live')")
    page.get_by_role("button", name="New encounter").click()
    assert_accessible(page, "the tablet's new-encounter form, landscape")
    page.get_by_label("Call type").select_option("WELFARE")
    page.get_by_label("Address or landmark (optional)").fill("Civic Center Park")
    page.get_by_role("button", name="Start encounter").click()
    page.locator("#outcome").wait_for(state="visible")
    page.wait_for_selector("#assignment-status:has-text('On scene')")
    assert_accessible(page, "the tablet's outcome form, day theme, landscape")
    incident = Incident.objects.get(source="self_initiated")
    assert (incident.latitude, incident.longitude) == (POSITION["latitude"], POSITION["longitude"])
    assert Unit.objects.get(callsign="CR-1").status == "on_scene"
    fill_outcome(page, "Offered water and a shelter list.")
    page.wait_for_selector("#outcome-saved:has-text('Outcome saved.')")
    outcome = Outcome.objects.get()
    assert outcome.self_initiated and outcome.assignment.incident_id == incident.pk
    assert outcome.assignment.status == "cleared"
    wait_for(lambda: Unit.objects.get(callsign="CR-1").status == "available")
    assert errors == []


def test_backup_is_requested_with_a_confirm_and_the_tablet_sees_dispatch_acknowledge(
    daphne, browser_page, team, personas
):
    dispatch_services.shift_start(user=team["responder"], unit_id=team["unit"].pk)
    page, errors = open_tablet(daphne, browser_page, team["responder"])
    page.wait_for_selector("#connection:has-text('Live')")
    page.get_by_role("button", name="Police backup").click()
    assert_accessible(page, "the tablet's backup dialog")
    page.get_by_role("button", name="Urgent: send now").click()
    page.wait_for_selector("[data-backup-id] :text('Waiting for dispatch')")
    backup = BackupRequest.objects.get()
    assert backup.kind == "police" and backup.urgent
    # A dispatcher acknowledges on the console; the tablet hears it through its socket.
    dispatch_services.alert_acknowledge(alert_id=backup.alert_id, actor=personas["dispatcher"])
    page.wait_for_selector(f"[data-backup-id='{backup.pk}'] :text('Dispatch acknowledged')")
    assert_accessible(page, "the tablet's backup requests")
    assert errors == []
