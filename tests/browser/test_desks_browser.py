"""Every desk a program needs, tried in a real browser: the supervisor's administration, the
officer's referral on a phone, the case manager's follow-up, and the demo month's dashboard."""

import pytest

from dispatch import services
from dispatch.models import Shift, Unit
from referrals.models import PoliceReferral
from tests import factories
from tests.browser.axe import assert_accessible

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
PASSWORD = "van-seven-first-shift-2026"


def sign_in(page, server, username, password):
    page.goto(f"{server.url}/signin/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_supervisor_adds_a_unit_and_a_responder_who_signs_in_and_starts_a_shift_on_it(
    daphne, browser_page, personas, artifacts_dir
):
    supervisor = browser_page(daphne, personas["supervisor"])
    supervisor.goto(f"{daphne.url}/dispatch/supervisor/")
    supervisor.get_by_role("link", name="Units").click()
    assert_accessible(supervisor, "the supervisor's units")
    supervisor.get_by_label("Callsign", exact=True).fill("VAN-7")
    supervisor.get_by_role("button", name="Add unit").click()
    supervisor.get_by_text("Added VAN-7.").wait_for()
    row = supervisor.locator("tr", has_text="VAN-7")
    assert row.locator("[data-status]").inner_text() == "Off duty"
    # A callsign already used is said on the form, and nothing is added.
    supervisor.get_by_label("Callsign", exact=True).fill("van-7")
    supervisor.get_by_role("button", name="Add unit").click()
    supervisor.get_by_text("VAN-7 is already a unit's callsign.").wait_for()
    assert Unit.objects.filter(callsign="VAN-7").count() == 1
    assert_accessible(supervisor, "the supervisor's units with a form error")
    supervisor.screenshot(path=str(artifacts_dir / "supervisor-units.png"), full_page=True)

    supervisor.get_by_role("link", name="Staff").click()
    assert_accessible(supervisor, "the supervisor's staff list")
    supervisor.get_by_role("link", name="Add a person").click()
    supervisor.get_by_label("User name").fill("mrivera")
    supervisor.get_by_label("First name").fill("Mar")
    supervisor.get_by_label("Last name").fill("Rivera")
    supervisor.get_by_label("Role").select_option("responder")
    supervisor.get_by_label("First password").fill(PASSWORD)
    assert_accessible(supervisor, "adding a person")
    supervisor.get_by_role("button", name="Add person").click()
    supervisor.get_by_text("Added Mar Rivera. They can sign in now.").wait_for()
    assert_accessible(supervisor, "a person's page")

    responder = browser_page(daphne, viewport={"width": 1024, "height": 768})
    sign_in(responder, daphne, "mrivera", PASSWORD)
    responder.get_by_role("heading", name="Start your shift").wait_for()
    responder.get_by_label("Unit").select_option(label="VAN-7")
    responder.get_by_role("button", name="Start shift").click()
    responder.locator(".callsign", has_text="VAN-7").wait_for()
    shift = Shift.objects.get(user__username="mrivera", ended_at__isnull=True)
    assert shift.unit.callsign == "VAN-7"

    supervisor.get_by_role("link", name="Shifts").click()
    supervisor.locator("table", has_text="Mar Rivera").first.wait_for()
    assert "VAN-7" in supervisor.locator("section", has_text="On shift now").inner_text()
    assert_accessible(supervisor, "who is on shift")
    supervisor.get_by_role("link", name="Units").click()
    assert "Mar Rivera" in supervisor.locator("tr", has_text="VAN-7").inner_text()


def test_a_deactivated_person_cannot_sign_in(daphne, browser_page, personas):
    supervisor = browser_page(daphne, personas["supervisor"])
    dispatcher = personas["dispatcher"]
    supervisor.goto(f"{daphne.url}/dispatch/supervisor/people/{dispatcher.pk}/")
    supervisor.get_by_role("button", name="Deactivate").click()
    supervisor.get_by_text("can no longer sign in").wait_for()
    assert_accessible(supervisor, "a deactivated person's page")

    page = browser_page(daphne)
    sign_in(page, daphne, "disp", "pw-for-tests-1")
    page.get_by_text("That user name and password did not match.").wait_for()
    assert "/signin/" in page.url


def test_an_officer_refers_on_a_phone_in_one_screen_and_sees_the_status_change_live(
    daphne, browser_page, personas, call_types, artifacts_dir
):
    officer = browser_page(
        daphne,
        personas["police_officer"],
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": 39.7392, "longitude": -104.9903},
        permissions=["geolocation"],
    )
    officer.goto(f"{daphne.url}/referrals/officer/new/")
    assert officer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Nothing is chosen for the officer: every screening question waits for an answer.
    assert officer.locator("input[type=radio]:checked").count() == 0
    assert_accessible(officer, "the officer's referral form on a phone")
    for question in (
        "Weapons on scene?",
        "Threat of violence?",
        "Medical emergency?",
        "Police-only task (entry, evidence)?",
    ):
        officer.get_by_role("group", name=question).get_by_label("No").check()
    officer.get_by_label("Now: send a team").check()
    officer.get_by_label("Type of call").select_option("WELFARE")
    officer.get_by_role("button", name="Use my location").click()
    officer.locator("#locate-status", has_text="39.73920, -104.99030").wait_for()
    officer.get_by_label("What is happening").fill("Man talking to himself at the bus stop, calm.")
    officer.get_by_role("group", name="Person agreed to be contacted?").get_by_label("Yes").check()
    officer.get_by_label("Your callback number").fill("303-555-0111")
    send = officer.get_by_role("button", name="Send referral")
    page_bottom = "(el) => el.getBoundingClientRect().bottom + window.scrollY"
    # Every required answer fits on the first screen; the button is not past the second.
    assert officer.get_by_label("Your callback number").evaluate(page_bottom) <= PHONE["height"]
    assert send.evaluate(page_bottom) <= 2 * PHONE["height"]
    officer.screenshot(path=str(artifacts_dir / "referral-phone-form.png"), full_page=True)
    send.click()
    officer.get_by_text("Referral sent to dispatch.").wait_for()
    assert officer.locator("[data-status]").inner_text() == "Received"
    assert_accessible(officer, "the officer's referral status on a phone")

    referral = PoliceReferral.objects.get()
    assert (referral.latitude, referral.longitude) == (39.7392, -104.9903)
    assert referral.incident.eligible
    unit = factories.UnitFactory(callsign="CR-4")
    services.assignment_create(
        incident_id=referral.incident_id, callsign=unit.callsign, actor=personas["dispatcher"]
    )
    # No reload: the page reads the officer's view of the referral again by itself.
    officer.locator('[data-status="assigned"]').wait_for(timeout=10_000)
    assert officer.locator("[data-status]").inner_text() == "Assigned"
    officer.screenshot(path=str(artifacts_dir / "referral-phone-assigned.png"), full_page=True)

    # The next referral comes with the callback already filled in.
    officer.goto(f"{daphne.url}/referrals/officer/new/")
    assert officer.get_by_label("Your callback number").input_value() == "303-555-0111"


def test_the_case_managers_follow_up_shows_a_tel_link_and_the_contacts_call_type(
    daphne, browser_page, personas, call_types, artifacts_dir
):
    from tests.test_case_manager_pages import build_contact

    made = build_contact(personas, call_types)
    page = browser_page(daphne, personas["case_manager"])
    page.goto(f"{daphne.url}/referrals/follow-ups/{made['follow_up'].pk}/")
    call = page.get_by_role("link", name="Call (720) 555-0199")
    assert call.get_attribute("href") == "tel:7205550199"
    contact = page.locator("section", has=page.get_by_role("heading", name="The contact that led here"))
    assert "Welfare check (WELFARE)" in contact.inner_text()
    assert "CR-3" in contact.inner_text()
    assert_accessible(page, "the case manager's follow-up")
    page.screenshot(path=str(artifacts_dir / "case-manager-follow-up.png"), full_page=True)
    page.get_by_role("link", name="Ana Ruiz").click()
    page.get_by_role("heading", name="Timeline").wait_for()
    assert "unit CR-3" in page.content()
    assert_accessible(page, "the person's timeline")


def test_after_load_demo_the_dashboard_shows_thirty_days_of_calls_and_a_weekly_trend(
    daphne, browser_page, artifacts_dir
):
    import re
    import threading

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    def load():
        from django.db import connection

        call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        connection.close()

    # In a thread of its own: its after-commit pushes use async_to_sync, which cannot run on
    # the thread where Playwright keeps its event loop.
    loader = threading.Thread(target=load)
    loader.start()
    loader.join()

    supervisor = get_user_model().objects.get(username="supervisor")
    page = browser_page(daphne, supervisor, viewport={"width": 1366, "height": 900})
    page.goto(f"{daphne.url}/dispatch/supervisor/data/")
    calls = page.locator(".tile", has_text="Calls").first.locator(".tile-value").inner_text()
    assert int(calls.replace(",", "")) > 1000  # a month of about forty calls a day
    trend = page.get_by_role("img", name="Calls per week, by source")
    assert trend.is_visible() and trend.bounding_box()["width"] > 300
    weeks = page.locator("#chart-trend-calls g.bar")
    assert weeks.count() >= 5
    assert re.search(r"\d", weeks.first.locator("text.value").text_content())
    assert page.get_by_role("img", name="Received → on scene, per week").is_visible()
    assert page.get_by_role("img", name="Eligible calls served, per week").is_visible()
    assert page.locator(".chart-numbers").count() == 0
    assert_accessible(page, "the dashboard after load_demo")
    page.screenshot(path=str(artifacts_dir / "dashboard-demo-month.png"), full_page=True)

    page.get_by_role("link", name="Printable monthly report").click()
    page.get_by_role("heading", name=re.compile(r" · [A-Z][a-z]+ \d{4}$")).wait_for()
    assert_accessible(page, "the monthly report")
    pdf = page.pdf(format="Letter")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # one page to hand to a council
