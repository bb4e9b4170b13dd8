"""The tablet in real field conditions (issue 12), in headless Chromium against a real Daphne,
at 768x1024 and 1280x800: steps tapped offline keep their time; a reload or a restart in a
dead zone still shows the call; a double tap stores one step and shows no error; backup is in
view in every state of the call; the outcome form shows its errors and takes its defaults
from the call; end shift is confirmed and refused mid-call; an outreach referral is worked
offline end to end; alerts are turned on at shift start; every screen passes axe-core and
has targets of at least 48 px, day and night."""

import json

import pytest

from dispatch import services as dispatch_services
from dispatch.models import Assignment, Event, Shift
from field.models import BackupRequest, Outcome
from referrals import selectors as referral_selectors
from referrals.models import FollowUp, PoliceReferral
from referrals.services import ReferralData, referral_file
from tests import factories
from tests.browser.tablet import (
    LANDSCAPE,
    PORTRAIT,
    VIEWPORT_IDS,
    VIEWPORTS,
    api_post,
    check_screen,
    dispatch_a_call,
    fill_outcome,
    in_view,
    night,
    open_tablet,
    wait_for,
)

pytestmark = pytest.mark.browser

LONG_NARRATIVE = (
    "Caller reports a man in his fifties sitting on the bench by the north entrance for three hours, "
    "talking to himself, not dressed for the cold, refusing help from the library staff. He has a "
    "large backpack and a shopping cart. No weapons seen. Staff say he has been here before and was "
    "calm then. He asked for water twice and for someone to call his sister, but could not give a "
    "number. He seems confused about the date. The caller will wait by the desk inside and can let "
    "the team in by the side door. Please approach from Bannock St; the park side is fenced off. "
    "A security guard is on duty until 10 pm."
)


def on_shift(team):
    dispatch_services.shift_start(user=team["responder"], unit_id=team["unit"].pk)


def live_tablet(daphne, browser_page, team, viewport=PORTRAIT, **options):
    page, errors = open_tablet(daphne, browser_page, team["responder"], viewport=viewport, **options)
    page.wait_for_selector("#connection:has-text('Live')")
    return page, errors


def step(page, name):
    page.get_by_role("button", name=f"Set status: {name}").click()


def updates(assignment, status):
    return Event.objects.filter(type="assignment.updated", data__id=str(assignment.pk), data__status=status)


# --- Steps tapped offline keep their time ------------------------------------------------------
def test_steps_tapped_offline_20_s_apart_are_stored_20_s_apart(daphne, browser_page, team):
    on_shift(team)
    assignment = dispatch_a_call(daphne, team["cad_key"])
    page, errors = live_tablet(daphne, browser_page, team, clock=True)
    page.get_by_role("button", name="Acknowledge").click()

    page.context.set_offline(True)
    step(page, "En route")
    page.clock.fast_forward("00:20")
    step(page, "On scene")
    page.clock.fast_forward("00:20")
    step(page, "Clear")
    fill_outcome(page, "Written in a dead zone.")
    # What is waiting, item by item, each with when it was tapped.
    page.get_by_text("4 waiting to send").click()
    items = page.locator("#outbox-list li")
    assert items.count() == 4
    assert [items.nth(i).inner_text().split(" (")[0] for i in range(3)] == ["En route", "On scene", "Clear"]
    assert items.nth(3).inner_text().startswith("Outcome: WELFARE at 1437 Bannock St")
    assert all("tapped" in items.nth(i).inner_text() for i in range(4))
    assert Assignment.objects.get(pk=assignment.pk).status == "dispatched"

    page.context.set_offline(False)
    page.wait_for_selector("#outbox-status:has-text('0 waiting to send')", timeout=15_000)
    assignment.refresh_from_db()
    assert assignment.status == "cleared"
    assert (assignment.on_scene_at - assignment.en_route_at).total_seconds() == pytest.approx(20, abs=1.5)
    assert (assignment.cleared_at - assignment.on_scene_at).total_seconds() == pytest.approx(20, abs=1.5)
    # Received together at the replay, kept beside the tapped times.
    assert {"en_route_at", "on_scene_at", "cleared_at"} <= set(assignment.step_receipts)
    assert Outcome.objects.get(assignment=assignment).recorded_at >= assignment.on_scene_at
    assert page.locator("#conflicts .conflict").count() == 0
    assert errors == []


# The tablet's state as it keeps it (IndexedDB, static/js/field/state.js): when it was read.
KEPT_AS_OF = """() => new Promise((resolve) => {
  const open = indexedDB.open("cr-field-call");
  open.onsuccess = () => {
    const get = open.result.transaction("call").objectStore("call").get("current");
    get.onsuccess = () => { open.result.close(); resolve(get.result ? get.result.as_of : null); };
  };
})"""


def test_an_answer_held_up_in_transit_does_not_shift_the_steps_tapped_after_it(daphne, browser_page, team):
    """The state the tablet asks for leaves before the dead zone and comes back 20 s later
    (a weak signal): its `as_of` was read 20 s before it arrived, which must not be taken for
    the server's clock now, or the steps tapped after it are stamped 20 s early."""
    on_shift(team)
    assignment = dispatch_a_call(daphne, team["cad_key"])
    # No service worker: the page's own requests go to the network, where the test holds one.
    page, errors = live_tablet(daphne, browser_page, team, clock=True, service_workers="block")
    page.get_by_role("button", name="Acknowledge").click()
    wait_for(lambda: Assignment.objects.get(pk=assignment.pk).acknowledged_at)

    held = []  # the answer, fetched from the server now and handed to the page later
    # Only that one: a later ask (the live events of the steps below) goes to the network, not
    # into a fetch still pending when the test's context closes (raised in the next test).
    page.route("**/field/state", lambda route: held.append((route, route.fetch())), times=1)
    # Back online, by the page's lights: it asks for its state again.
    page.evaluate("dispatchEvent(new Event('online'))")
    wait_for(lambda: held or page.wait_for_timeout(20))
    page.context.set_offline(True)
    step(page, "En route")
    page.clock.fast_forward("00:20")
    route, answer = held[0]
    as_of = answer.json()["as_of"]
    route.fulfill(response=answer)
    page.wait_for_function(f"async () => (await ({KEPT_AS_OF})()) === {json.dumps(as_of)}")
    step(page, "On scene")
    page.wait_for_selector("#outbox-status:has-text('2 waiting to send')")

    page.context.set_offline(False)
    page.wait_for_selector("#outbox-status:has-text('0 waiting to send')", timeout=15_000)
    assignment.refresh_from_db()
    assert assignment.status == "on_scene"
    assert (assignment.on_scene_at - assignment.en_route_at).total_seconds() == pytest.approx(20, abs=1.5)
    assert page.locator("#conflicts .conflict").count() == 0
    assert errors == []


def settled_after_step(page, assignment, field):
    """Wait until the tablet has drawn the state it asks for after a step (refreshSoon): until
    then a redraw of the panel above the outcome form may still move the form under the test."""
    received = wait_for(lambda: Assignment.objects.get(pk=assignment.pk).step_receipts.get(field))
    page.wait_for_function(
        f"async () => Date.parse(await ({KEPT_AS_OF})()) >= Date.parse({json.dumps(received)})"
    )
    # The draw follows the save in the same task chain; one frame later it is on screen.
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => setTimeout(done)))")


# --- A reload or a restart offline still shows the call -----------------------------------------
def test_a_reload_or_restart_offline_still_shows_the_calls_address_and_callback(daphne, browser_page, team):
    on_shift(team)
    page, errors = live_tablet(daphne, browser_page, team)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    # The page was loaded before the call existed: the call reaches the tablet live.
    assignment = dispatch_a_call(daphne, team["cad_key"], narrative=LONG_NARRATIVE)
    page.get_by_role("button", name="Acknowledge").click()
    wait_for(lambda: Assignment.objects.get(pk=assignment.pk).acknowledged_at)

    page.context.set_offline(True)
    assert page.reload().from_service_worker
    for viewport in (PORTRAIT, LANDSCAPE):
        page.set_viewport_size(viewport)
        call = page.locator("#assignment")
        assert "1437 Bannock St" in call.inner_text() and LONG_NARRATIVE[:60] in call.inner_text()
        assert page.get_by_role("link", name="Call back Ana · +1 303 555 0100").is_visible()
        assert call.locator("a[href='tel:+13035550100']").is_visible()
    assert "Kept on the tablet since" in page.locator("#state-age").inner_text()

    # A restart: the app closed and opened again, still in the dead zone.
    context = page.context
    page.close()
    restarted = context.new_page()
    restarted.on("pageerror", lambda exc: errors.append(str(exc)))
    assert restarted.goto(f"{daphne.url}/field/").from_service_worker
    assert "1437 Bannock St" in restarted.locator("#assignment").inner_text()
    step(restarted, "En route")
    restarted.wait_for_selector("#outbox-status:has-text('1 waiting to send')")
    assert restarted.locator("#assignment-status").inner_text() == "En route"
    context.set_offline(False)
    restarted.wait_for_selector("#outbox-status:has-text('0 waiting to send')", timeout=15_000)
    assert Assignment.objects.get(pk=assignment.pk).status == "en_route"
    assert errors == []


# --- Double taps are harmless ------------------------------------------------------------------
def test_a_double_tap_stores_one_step_and_shows_no_error(daphne, browser_page, team):
    on_shift(team)
    assignment = dispatch_a_call(daphne, team["cad_key"])
    page, errors = live_tablet(daphne, browser_page, team, viewport=LANDSCAPE)
    page.get_by_role("button", name="Acknowledge").click()

    page.get_by_role("button", name="Set status: En route").dblclick()
    page.wait_for_selector("#assignment-status:has-text('En route')")
    page.wait_for_timeout(1200)  # past the guard: a late second tap would have landed by now
    assignment.refresh_from_db()
    assert assignment.status == "en_route" and assignment.on_scene_at is None
    assert updates(assignment, "en_route").count() == 1

    # A step the call has already reached elsewhere (dispatch, the partner) is answered as done.
    page.context.set_offline(True)
    step(page, "On scene")
    path = f"/api/v1/assignments/{assignment.pk}/status"
    api_post(daphne, path, {"status": "on_scene"}, team["cad_key"])
    page.context.set_offline(False)
    page.wait_for_selector("#outbox-status:has-text('0 waiting to send')", timeout=15_000)
    page.wait_for_selector("#assignment-status:has-text('On scene')")
    assert updates(assignment, "on_scene").count() == 1
    assert page.locator("#conflicts .conflict").count() == 0
    assert errors == []


# --- Backup: one tap from every state, in both orientations -------------------------------------
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_backup_is_in_view_in_every_state_of_the_call_with_a_long_narrative(
    daphne, browser_page, team, viewport, artifacts_dir
):
    on_shift(team)
    dispatch_a_call(daphne, team["cad_key"], narrative=LONG_NARRATIVE)
    assert len(LONG_NARRATIVE) >= 600
    page, errors = live_tablet(daphne, browser_page, team, viewport=viewport)

    def backup_in_view(state):
        for where in ("top", "bottom"):
            page.evaluate("(where) => scrollTo(0, where === 'top' ? 0 : document.body.scrollHeight)", where)
            for kind in ("Police backup", "EMS backup"):
                assert in_view(page, page.get_by_role("button", name=kind)), (state, where, kind)

    page.get_by_role("alertdialog", name="New assignment").wait_for()
    backup_in_view("new assignment alert")
    page.get_by_role("button", name="Acknowledge").click()
    backup_in_view("dispatched")
    for name in ("En route", "On scene"):
        step(page, name)
        page.wait_for_selector(f"#assignment-status:has-text('{name}')")
        backup_in_view(name)
    step(page, "Transporting")
    page.get_by_label("Destination", exact=True).fill("Denver CARES")
    page.get_by_role("button", name="Start transport").click()
    page.wait_for_selector("#assignment-status:has-text('Transporting')")
    backup_in_view("transporting")
    step(page, "Clear")
    page.locator("#outcome").wait_for(state="visible")
    backup_in_view("outcome form")
    name = f"field-outcome-{viewport['width']}x{viewport['height']}.png"
    page.screenshot(path=artifacts_dir / name, full_page=True)

    # One tap opens the confirm; one more sends it.
    page.get_by_role("button", name="Police backup").click()
    page.get_by_role("button", name="Not urgent: send").click()
    backup = wait_for(lambda: BackupRequest.objects.first())
    assert backup.kind == "police" and not backup.urgent
    assert backup.assignment_id is None  # asked for after the call was cleared: tied to no call
    assert errors == []


# --- The outcome form --------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_the_outcome_forms_errors_are_in_view_and_focused(daphne, browser_page, team, viewport):
    on_shift(team)
    assignment = dispatch_a_call(daphne, team["cad_key"])
    for name in ("en_route", "on_scene"):
        api_post(daphne, f"/api/v1/assignments/{assignment.pk}/status", {"status": name}, team["cad_key"])
    page, errors = live_tablet(daphne, browser_page, team, viewport=viewport)
    page.get_by_role("button", name="Acknowledge").click()
    step(page, "Clear")
    form = page.locator("#outcome")
    form.wait_for(state="visible")
    settled_after_step(page, assignment, "cleared_at")
    save = form.get_by_role("button", name="Save outcome")
    save.scroll_into_view_if_needed()
    save.click()  # no disposition: the tablet says so where the responder looks
    error = page.locator("#o-disposition-error")
    assert error.inner_text() == "Choose what happened."
    assert in_view(page, error) or error.evaluate("e => e.getBoundingClientRect().bottom <= innerHeight")
    assert page.evaluate("document.activeElement.id") == "o-disposition"
    assert in_view(page, page.locator("#o-disposition"))

    # A refusal from the server is shown the same way: a person named, nobody contacted.
    form.get_by_label("Disposition").select_option("resolved_on_scene")
    form.get_by_text("Add the person contacted (optional)").click()
    form.get_by_label("Name").fill("Sam")
    form.get_by_label("People contacted").fill("0")
    save.scroll_into_view_if_needed()
    save.click()
    people_error = page.locator("#o-people-error")
    people_error.wait_for()
    assert "at least one person" in people_error.inner_text()
    assert page.evaluate("document.activeElement.id") == "o-people"
    assert in_view(page, page.locator("#o-people"))
    assert not Outcome.objects.exists()

    form.get_by_label("People contacted").fill("1")
    save.click()
    page.wait_for_selector("#outcome-saved:has-text('Outcome saved.')")
    assert Outcome.objects.get().person.name == "Sam"
    assert errors == []


def test_the_outcome_takes_its_defaults_from_the_call_and_has_no_default_follow_up(
    daphne, browser_page, team
):
    on_shift(team)
    assignment = dispatch_a_call(daphne, team["cad_key"])
    for name in ("en_route", "on_scene"):
        api_post(daphne, f"/api/v1/assignments/{assignment.pk}/status", {"status": name}, team["cad_key"])
    page, errors = live_tablet(daphne, browser_page, team)
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_role("button", name="Police backup").click()
    page.get_by_role("button", name="Urgent: send now").click()
    page.wait_for_selector("[data-backup-id] :text('Waiting for dispatch')")
    step(page, "Clear")
    form = page.locator("#outcome")
    form.wait_for(state="visible")
    assert form.get_by_role("radio", name="Backup requested").first.is_checked()  # police
    assert form.locator("input[name=ems_involvement][value=none]").is_checked()
    # Sections open as needed: no person fields, no follow-up, no destination on the way.
    assert not page.locator("#o-name").is_visible() and not page.locator("#o-fu-type").is_visible()
    assert not page.locator("#o-destination").is_visible()
    form.get_by_label("Follow-up needed").check()
    assert page.locator("#o-fu-type").input_value() == ""  # no service chosen for the team
    form.get_by_label("Disposition").select_option("transported_shelter")
    assert page.locator("#o-destination").is_visible()
    form.get_by_label("Disposition").select_option("resolved_on_scene")
    form.get_by_role("button", name="Save outcome").click()
    assert "Choose the service" in page.locator("#o-fu-error").inner_text()
    assert page.evaluate("document.activeElement.id") == "o-fu-type"
    form.get_by_label("Follow-up needed").uncheck()
    form.get_by_role("button", name="Save outcome").click()
    page.wait_for_selector("#outcome-saved:has-text('Outcome saved.')")
    outcome = Outcome.objects.get()
    assert outcome.police_involvement == "backup_requested" and outcome.follow_up is None
    assert errors == []


# --- End shift ---------------------------------------------------------------------------------
def test_end_shift_is_confirmed_and_refused_mid_call_unless_the_partner_stays(daphne, browser_page, team):
    on_shift(team)
    dispatch_a_call(daphne, team["cad_key"])
    page, errors = live_tablet(daphne, browser_page, team, viewport=LANDSCAPE)
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_role("button", name="End shift").click()
    dialog = page.get_by_role("dialog", name="End your shift?")
    assert "nobody else is on the unit" in dialog.inner_text()
    dialog.get_by_role("button", name="Keep working").click()
    assert Shift.objects.get(user=team["responder"]).ended_at is None

    page.get_by_role("button", name="End shift").click()
    dialog.get_by_role("button", name="End shift").click()
    page.wait_for_selector(".messages :text('still on a call')")
    assert "clear the call" in page.locator(".messages").inner_text()
    assert Shift.objects.get(user=team["responder"]).ended_at is None

    partner = factories.UserFactory(username="partner", roles=["responder"])
    dispatch_services.shift_start(user=partner, unit_id=team["unit"].pk)
    page.reload()
    page.get_by_role("button", name="End shift").click()
    assert "Your partner stays on the unit" in dialog.inner_text()
    dialog.get_by_role("button", name="End shift").click()
    page.wait_for_selector(".messages :text('Shift ended.')")
    assert Shift.objects.get(user=team["responder"]).ended_at is not None
    assert Assignment.objects.get().status == "dispatched"  # the partner keeps the call
    assert page.get_by_role("heading", name="Start your shift").is_visible()
    assert errors == []


# --- Outreach, like an assignment, offline ------------------------------------------------------
def test_an_outreach_referral_is_worked_offline_end_to_end_with_one_outcome_and_follow_up(
    daphne, browser_page, team, personas
):
    referral = referral_file(
        actor=personas["police_officer"],
        data=ReferralData(
            urgency="later",
            call_type_code="WELFARE",
            address="16th St Mall at Arapahoe",
            latitude=39.747,
            longitude=-104.992,
            situation="Woman asleep in a doorway, cold night.",
            officer_name="Ofc. Lee",
            officer_callback="303-555-0111",
            consent_to_contact=True,
            service_needed="housing",
        ),
    )
    on_shift(team)
    page, errors = open_tablet(daphne, browser_page, team["responder"], path="/referrals/outreach/")
    for dark in (False, True):
        night(page, dark)
        check_screen(page, f"outreach queue, {'night' if dark else 'day'}")
    page.get_by_role("button", name="Claim").click()
    page.wait_for_selector("#connection:has-text('Live')")
    assert "16th St Mall at Arapahoe" in page.locator("#assignment").inner_text()
    assert page.get_by_role("alertdialog", name="New assignment").is_hidden()  # the team chose it
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    assert page.reload().from_service_worker
    assert "16th St Mall at Arapahoe" in page.locator("#assignment").inner_text()
    for name in ("En route", "On scene", "Clear"):
        step(page, name)
    form = page.locator("#outcome")
    form.wait_for(state="visible")
    assert "Housing / shelter" in page.locator("#o-asked").inner_text()
    form.get_by_label("Disposition").select_option("referred")
    form.get_by_label("Follow-up needed").check()
    form.get_by_label("Service type").select_option("housing")
    form.get_by_label("The person consents to be contacted").check()
    form.get_by_label("Notes for the case manager").fill("Mornings are best.")
    form.get_by_role("button", name="Save outcome").click()
    page.wait_for_selector("#outbox-status:has-text('4 waiting to send')")

    page.context.set_offline(False)
    page.wait_for_selector("#outbox-status:has-text('0 waiting to send')", timeout=15_000)
    referral.refresh_from_db()
    outcome = Outcome.objects.get()
    assert outcome.assignment.incident == referral.incident and outcome.disposition == "referred"
    assert outcome.assignment.en_route_at and outcome.assignment.on_scene_at
    follow_up = FollowUp.objects.get()  # the officer's, not a second one
    assert outcome.follow_up == follow_up and "Mornings are best." in follow_up.notes
    assert referral.state == PoliceReferral.State.FINISHED
    assert referral_selectors.referral_officer_status(referral) == "closed"
    assert page.locator("#conflicts .conflict").count() == 0
    assert errors == []


# --- Alerts at shift start; accessibility, day and night ----------------------------------------
def test_alerts_are_turned_on_at_shift_start_and_every_screen_passes_axe_day_and_night(
    daphne, browser_page, team
):
    page, errors = open_tablet(daphne, browser_page, team["responder"])

    def both_themes(label):
        for dark in (False, True):
            night(page, dark)
            check_screen(page, f"{label}, {'night' if dark else 'day'}")
        night(page, False)

    both_themes("start shift")
    page.get_by_label("Unit").select_option(label="CR-1")
    page.get_by_role("button", name="Start shift").click()
    page.wait_for_selector("#connection:has-text('Live')")
    both_themes("no assignment, alerts off")
    # The browser keeps sound off until a touch: one tap at shift start turns it on, with a test tone.
    prompt = page.get_by_role("button", name="Tap to turn on alerts")
    prompt.click()
    page.wait_for_selector("#alerts-status:has-text('Alerts on')")
    assert prompt.is_hidden()
    assignment = dispatch_a_call(daphne, team["cad_key"], narrative=LONG_NARRATIVE)
    page.get_by_role("alertdialog", name="New assignment").wait_for()
    both_themes("new assignment alert")
    page.get_by_role("button", name="Acknowledge").click()
    for name in ("en_route", "on_scene"):
        api_post(daphne, f"/api/v1/assignments/{assignment.pk}/status", {"status": name}, team["cad_key"])
    page.wait_for_selector("#assignment-status:has-text('On scene')")
    page.get_by_role("button", name="Police backup").click()
    both_themes("backup confirm")
    page.get_by_role("button", name="Urgent: send now").click()
    page.wait_for_selector("[data-backup-id]")
    both_themes("call on scene with a backup request")
    page.get_by_role("button", name="End shift").click()
    both_themes("end shift confirm")
    page.get_by_role("button", name="Keep working").click()
    page.context.set_offline(True)
    step(page, "Clear")
    page.locator("#outcome").wait_for(state="visible")
    page.get_by_role("button", name="Save outcome").click()
    page.get_by_text("Add the person contacted (optional)").click()
    page.get_by_label("Follow-up needed").check()
    page.get_by_text("1 waiting to send").click()
    both_themes("outcome form with an error, offline, outbox open")
    page.get_by_role("button", name="Later").click()
    page.context.set_offline(False)
    page.wait_for_selector("#outbox-status:has-text('0 waiting to send')", timeout=15_000)
    page.get_by_role("button", name="New encounter").click()
    both_themes("new encounter")
    assert errors == []
