"""An officer files a referral on a phone; a case manager, watching the queue, sees the
follow-up arrive live, claims it, connects it to a provider and closes it."""

import pytest

from referrals.models import FollowUp, Organization, PoliceReferral, Service
from tests.browser.axe import assert_accessible

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_an_officer_refers_on_a_phone_and_a_case_manager_connects_and_closes_it(
    daphne, browser_page, personas, call_types, artifacts_dir
):
    org = Organization.objects.create(name="Harbor Housing")
    service = Service.objects.create(organization=org, name="Rapid rehousing", service_type="housing")

    case_manager = browser_page(daphne, personas["case_manager"])
    case_manager.goto(f"{daphne.url}/referrals/follow-ups/")
    case_manager.get_by_text("Live", exact=True).wait_for()
    assert case_manager.locator('[data-count="unassigned"]').inner_text() == "0"

    officer = browser_page(daphne, personas["police_officer"], viewport=PHONE, is_mobile=True, has_touch=True)
    officer.goto(f"{daphne.url}/referrals/officer/new/")
    # Nothing on the form is wider than the phone.
    assert officer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(officer, "the officer's referral form on a phone")
    for question in ("Weapons on scene?", "Threat of violence?", "Medical emergency?"):
        officer.get_by_role("group", name=question).get_by_label("No").check()
    officer.get_by_role("group", name="Police-only task").get_by_label("No").check()
    officer.get_by_label("Later: outreach").check()
    officer.get_by_label("Type of call").select_option("WELFARE")
    officer.get_by_label("Where", exact=True).fill("Cheesman Park, north pavilion")
    officer.get_by_label("What is happening").fill("Older man sleeping outside, asked about a shelter bed.")
    officer.get_by_role("group", name="Person agreed to be contacted?").get_by_label("Yes").check()
    officer.get_by_text("More (optional)").click()
    officer.get_by_label("Service the person asked for").select_option("housing")
    officer.get_by_label("Your name").fill("Ofc. Lee")
    officer.get_by_label("Your callback number").fill("303-555-0111")
    officer.get_by_role("button", name="Send referral").click()
    officer.get_by_text("Referral added to the outreach queue.").wait_for()
    assert officer.locator("[data-status]").inner_text() == "Received"
    assert "shelter" not in officer.content()
    assert_accessible(officer, "the officer's sent referral on a phone")
    officer.screenshot(path=str(artifacts_dir / "referrals-officer-phone.png"), full_page=True)

    referral = PoliceReferral.objects.get()
    follow_up = FollowUp.objects.get(referral=referral)

    # The queue shows it without a reload, pushed over /ws/followups/.
    claim = case_manager.get_by_role("button", name=f"Claim follow-up {follow_up.pk}")
    claim.wait_for(timeout=5000)
    assert case_manager.locator('[data-count="unassigned"]').inner_text() == "1"
    assert_accessible(case_manager, "the follow-up queue with a new follow-up")
    claim.click()
    case_manager.locator(f"#followup-{follow_up.pk}").get_by_text("Me", exact=True).wait_for()
    assert FollowUp.objects.get(pk=follow_up.pk).case_manager == personas["case_manager"]

    case_manager.locator(f"#followup-{follow_up.pk} a").first.click()
    case_manager.get_by_role("heading", name=f"Housing / shelter follow-up #{follow_up.pk}").wait_for()
    case_manager.get_by_label("New status").select_option("connected")
    case_manager.get_by_label("Provider (needed to connect)").select_option(str(service.pk))
    case_manager.get_by_role("button", name="Save status").click()
    case_manager.locator('[data-status="connected"]').wait_for()
    assert_accessible(case_manager, "a follow-up connected to a provider")
    case_manager.get_by_label("New status").select_option("closed")
    case_manager.get_by_label("Closing reason").select_option("engaged")
    case_manager.get_by_role("button", name="Save status").click()
    case_manager.locator('[data-status="closed"]').wait_for()
    case_manager.screenshot(path=str(artifacts_dir / "referrals-case-manager.png"), full_page=True)

    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.close_reason, follow_up.provider) == ("closed", "engaged", service)
    assert list(follow_up.changes.values_list("kind", flat=True)) == [
        "created",
        "claimed",
        "status",
        "status",
    ]
