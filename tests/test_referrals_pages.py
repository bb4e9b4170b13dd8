"""The referral pages: who may open each, the officer's privacy boundary on the page, the
officer's form, and the outreach queue on the tablet."""

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from dispatch.models import Incident, Shift
from referrals.models import FollowUp, Organization, Person, PoliceReferral, Service
from referrals.services import ReferralData, follow_up_create, referral_file
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_NOTE = "CLINICAL-SECRET-on-methadone"
ROLES = ["responder", "dispatcher", "police_officer", "case_manager", "supervisor", "nobody"]


def referral_data(**overrides) -> ReferralData:
    values = dict(
        urgency="later",
        call_type_code="WELFARE",
        address="16th St Mall at Arapahoe",
        latitude=39.747,
        longitude=-104.992,
        situation="Woman asleep in a doorway, cold night.",
        officer_name="Ofc. Lee",
        officer_callback="303-555-0111",
        consent_to_contact=True,
        person_name="Jo Roe",
    )
    values.update(overrides)
    return ReferralData(**values)


@pytest.fixture
def world(personas, call_types):
    """One of everything, so every page has something to show."""
    referral = referral_file(actor=personas["police_officer"], data=referral_data())
    person = referral.person
    org = Organization.objects.create(name="Harbor Health")
    service = Service.objects.create(organization=org, name="Detox intake", service_type="substance_use")
    follow_up = follow_up_create(
        actor=personas["responder"], service_type="housing", consent=True, person=person
    )
    return {"referral": referral, "person": person, "org": org, "service": service, "follow_up": follow_up}


# Each page and the roles that may open it; everyone else signed in gets 403.
PAGES = [
    ("referrals:officer_home", {}, {"police_officer"}),
    ("referrals:referral_new", {}, {"police_officer"}),
    ("referrals:officer_referral", {"referral_id": "referral"}, {"police_officer"}),
    ("referrals:outreach", {}, {"responder"}),
    ("referrals:case_manager_home", {}, {"case_manager", "supervisor"}),
    ("referrals:follow_up_new", {}, {"case_manager", "supervisor"}),
    ("referrals:follow_up", {"follow_up_id": "follow_up"}, {"case_manager", "supervisor"}),
    ("referrals:people", {}, {"case_manager", "supervisor"}),
    ("referrals:person", {"person_id": "person"}, {"case_manager", "supervisor"}),
    ("referrals:person_merge", {}, {"case_manager", "supervisor"}),
    ("referrals:person_audit", {}, {"supervisor"}),
    ("referrals:directory", {}, {"case_manager", "supervisor"}),
    ("referrals:organization_new", {}, {"case_manager", "supervisor"}),
    ("referrals:organization_edit", {"pk": "org"}, {"case_manager", "supervisor"}),
    ("referrals:service_new", {}, {"case_manager", "supervisor"}),
    ("referrals:service_edit", {"pk": "service"}, {"case_manager", "supervisor"}),
]


def url_for(world, name, kwargs):
    return reverse(name, kwargs={k: world[v].pk for k, v in kwargs.items()})


@pytest.mark.parametrize("name, kwargs, allowed", PAGES, ids=[p[0].split(":")[1] for p in PAGES])
def test_each_page_opens_for_its_roles_only(client, personas, world, name, kwargs, allowed):
    url = url_for(world, name, kwargs)
    for role in ROLES:
        client.force_login(personas[role])
        expected = 200 if role in allowed else 403
        assert client.get(url).status_code == expected, (role, url)
    client.logout()
    assert client.get(url).status_code == 302


# The POST-only endpoints: a role that may not gets 403 before anything is read.
POSTS = [
    ("referrals:outreach_claim", {"referral_id": "referral"}, "responder"),
    ("referrals:outreach_release", {"referral_id": "referral"}, "responder"),
    ("referrals:outreach_finish", {"referral_id": "referral"}, "responder"),
    ("referrals:follow_up_claim", {"follow_up_id": "follow_up"}, "case_manager"),
    ("referrals:follow_up_attempt", {"follow_up_id": "follow_up"}, "case_manager"),
    ("referrals:follow_up_transition", {"follow_up_id": "follow_up"}, "case_manager"),
    ("referrals:follow_up_details", {"follow_up_id": "follow_up"}, "case_manager"),
]


@pytest.mark.parametrize("name, kwargs, allowed", POSTS, ids=[p[0].split(":")[1] for p in POSTS])
def test_each_action_is_refused_to_other_roles(client, personas, world, name, kwargs, allowed):
    url = url_for(world, name, kwargs)
    for role in ROLES:
        if role == allowed or (allowed == "case_manager" and role == "supervisor"):
            continue
        client.force_login(personas[role])
        assert client.post(url, {}).status_code == 403, role
    before = FollowUp.objects.get(pk=world["follow_up"].pk)
    assert before.case_manager is None and before.status == "open"
    assert PoliceReferral.objects.get(pk=world["referral"].pk).state == "queued"


REFERRAL_POST = {
    "urgency": "now",
    "call_type": "WELFARE",
    "address": "Civic Center Park",
    "situation": "Man shouting at traffic, no weapon seen.",
    "consent_to_contact": "yes",
    "officer_callback": "303-555-0111",
    "screen_weapons": "no",
    "screen_violence": "no",
    "screen_medical_emergency": "no",
    "screen_police_only": "no",
}


def test_an_officer_files_a_referral_from_the_form(client, personas, call_types):
    client.force_login(personas["police_officer"])
    response = client.post(reverse("referrals:referral_new"), REFERRAL_POST)
    referral = PoliceReferral.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:officer_referral", kwargs={"referral_id": referral.pk})
    assert referral.filed_by == personas["police_officer"]
    assert referral.incident.source == Incident.Source.POLICE_REFERRAL
    # Every screening question answered no: the call is eligible at once, no override needed.
    assert referral.incident.eligible and referral.incident.eligibility_reasons == []
    assert referral.person is None
    # The officer's name comes from their account when they leave it out.
    assert referral.officer_name == personas["police_officer"].get_full_name()


def test_the_screening_questions_come_first_with_nothing_chosen(client, personas, call_types):
    client.force_login(personas["police_officer"])
    page = client.get(reverse("referrals:referral_new")).content.decode()
    assert "checked" not in page
    first_question = page.index("Weapons on scene?")
    for later in ("Type of call", "What is happening", "Your callback number", "Person&#x27;s name"):
        assert page.index(later) > first_question, later
    # What is optional waits behind "More".
    assert page.index("<details") < page.index("Person&#x27;s name")


def test_an_unanswered_screening_question_is_an_error_not_a_not_sure(client, personas, call_types):
    client.force_login(personas["police_officer"])
    response = client.post(
        reverse("referrals:referral_new"), {**REFERRAL_POST, "screen_medical_emergency": ""}
    )
    assert response.status_code == 400
    assert "Answer yes or no." in response.content.decode()
    assert not PoliceReferral.objects.exists() and not Incident.objects.exists()


def test_the_phones_location_stands_in_for_an_address(client, personas, call_types):
    client.force_login(personas["police_officer"])
    placed = {**REFERRAL_POST, "address": "", "latitude": "39.7392", "longitude": "-104.9903"}
    assert client.post(reverse("referrals:referral_new"), placed).status_code == 302
    referral = PoliceReferral.objects.get()
    assert (referral.latitude, referral.longitude) == (39.7392, -104.9903)
    assert referral.address == "Officer's phone location 39.73920, -104.99030"
    assert (referral.incident.latitude, referral.incident.longitude) == (39.7392, -104.9903)
    nowhere = {**REFERRAL_POST, "address": ""}
    response = client.post(reverse("referrals:referral_new"), nowhere)
    assert response.status_code == 400
    assert "Use your location or type an address." in response.content.decode()


def test_the_officers_callback_is_remembered_for_the_next_referral(client, personas, call_types):
    client.force_login(personas["police_officer"])
    assert 'value="303-555-0111"' not in client.get(reverse("referrals:referral_new")).content.decode()
    client.post(reverse("referrals:referral_new"), REFERRAL_POST)
    assert 'value="303-555-0111"' in client.get(reverse("referrals:referral_new")).content.decode()
    client.post(reverse("referrals:referral_new"), {**REFERRAL_POST, "officer_callback": "720-555-0199"})
    assert 'value="720-555-0199"' in client.get(reverse("referrals:referral_new")).content.decode()
    # Each officer has their own.
    other = factories.UserFactory(username="cop2", roles=["police_officer"])
    client.force_login(other)
    assert "720-555-0199" not in client.get(reverse("referrals:referral_new")).content.decode()


def test_the_officers_status_part_is_polled_and_shows_only_the_officers_view(client, personas, world):
    referral = world["referral"]
    client.force_login(personas["police_officer"])
    url = reverse("referrals:officer_referral", kwargs={"referral_id": referral.pk})
    part = client.get(url, HTTP_HX_REQUEST="true")
    assert part.status_code == 200
    content = part.content.decode()
    assert content.lstrip().startswith('<div id="referral-status"')
    assert 'hx-trigger="every 4s"' in content and 'data-status="received"' in content
    assert "Woman asleep" not in content and "Jo Roe" not in content
    other = factories.UserFactory(username="cop2", roles=["police_officer"])
    client.force_login(other)
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404


def test_a_form_missing_fields_is_answered_400_with_errors_and_saves_nothing(client, personas, call_types):
    client.force_login(personas["police_officer"])
    response = client.post(reverse("referrals:referral_new"), {"urgency": "now", "call_type": "NOPE"})
    assert response.status_code == 400
    content = response.content.decode()
    assert "This field is required." in content
    assert "Select a valid choice" in content
    assert PoliceReferral.objects.count() == 0
    assert Incident.objects.count() == 0


def test_the_officers_pages_show_status_and_nothing_clinical(client, personas, world):
    referral = world["referral"]
    follow_up_create(
        actor=personas["responder"],
        service_type="substance_use",
        consent=True,
        notes=SECRET_NOTE,
        person=referral.person,
        referral=referral,
    )
    client.force_login(personas["police_officer"])
    for url in (
        reverse("referrals:officer_home"),
        reverse("referrals:officer_referral", kwargs={"referral_id": referral.pk}),
    ):
        content = client.get(url).content.decode()
        assert "Received" in content
        for secret in (SECRET_NOTE, "Jo Roe", "Substance", "Housing", "follow-up", "Woman asleep"):
            assert secret not in content, (secret, url)


def test_an_officer_asking_for_someone_elses_referral_gets_404(client, personas, world):
    other = factories.UserFactory(username="cop2", roles=["police_officer"])
    client.force_login(other)
    url = reverse("referrals:officer_referral", kwargs={"referral_id": world["referral"].pk})
    assert client.get(url).status_code == 404
    assert (
        client.get(reverse("referrals:officer_referral", kwargs={"referral_id": uuid.uuid4()})).status_code
        == 404
    )
    assert "Doorway" not in client.get(reverse("referrals:officer_home")).content.decode()


# --- Outreach ------------------------------------------------------------------------------------------
@pytest.fixture
def on_shift(personas):
    unit = factories.UnitFactory(callsign="CR-7", latitude=39.75, longitude=-104.99)
    Shift.objects.create(unit=unit, user=personas["responder"], started_at=timezone.now())
    return unit


def test_a_unit_on_shift_sees_nearby_referrals_and_not_far_ones(client, personas, world, on_shift):
    far = referral_file(
        actor=personas["police_officer"],
        data=referral_data(address="Colorado Springs", latitude=38.83, longitude=-104.82),
    )
    client.force_login(personas["responder"])
    content = client.get(reverse("referrals:outreach")).content.decode()
    assert world["referral"].address in content
    assert far.address not in content
    assert "km" in content


def test_without_a_shift_the_outreach_queue_says_to_start_one(client, personas, world):
    client.force_login(personas["responder"])
    content = client.get(reverse("referrals:outreach")).content.decode()
    assert "Start a shift" in content
    response = client.post(reverse("referrals:outreach_claim", kwargs={"referral_id": world["referral"].pk}))
    assert response.status_code == 409


def test_a_unit_claims_a_referral_and_finishes_it_as_an_encounter(client, personas, world, on_shift):
    referral = world["referral"]
    client.force_login(personas["responder"])
    response = client.post(reverse("referrals:outreach_claim", kwargs={"referral_id": referral.pk}))
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.state == "claimed" and referral.claimed_by_unit == on_shift

    officer = client.__class__()
    officer.force_login(personas["police_officer"])
    assert "Assigned" in officer.get(reverse("referrals:officer_home")).content.decode()

    again = factories.UserFactory(username="resp2", roles=["responder"])
    other_unit = factories.UnitFactory(callsign="CR-8", latitude=39.75, longitude=-104.99)
    Shift.objects.create(unit=other_unit, user=again, started_at=timezone.now())
    rival = client.__class__()
    rival.force_login(again)
    assert (
        rival.post(reverse("referrals:outreach_claim", kwargs={"referral_id": referral.pk})).status_code
        == 409
    )

    finish = reverse("referrals:outreach_finish", kwargs={"referral_id": referral.pk})
    assert client.post(finish, {}).status_code == 400
    response = client.post(
        finish, {"contact_made": "yes", "narrative": "Talked, took a blanket.", "service_needed": "housing"}
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    assert referral.state == "finished"
    assert referral.incident.source == Incident.Source.POLICE_REFERRAL
    assert referral.incident.status == Incident.Status.CLOSED
    assert referral.follow_ups.get().service_type == "housing"
    assert "Closed" in officer.get(reverse("referrals:officer_home")).content.decode()
    assert "Talked, took a blanket" not in officer.get(reverse("referrals:officer_home")).content.decode()


def test_a_unit_may_give_a_referral_back(client, personas, world, on_shift):
    referral = world["referral"]
    client.force_login(personas["responder"])
    client.post(reverse("referrals:outreach_claim", kwargs={"referral_id": referral.pk}))
    assert (
        client.post(reverse("referrals:outreach_release", kwargs={"referral_id": referral.pk})).status_code
        == 302
    )
    referral.refresh_from_db()
    assert referral.state == "queued" and referral.claimed_by_unit is None


# --- The directory -----------------------------------------------------------------------------------------
def test_a_case_manager_adds_a_service_to_the_directory(client, personas, world):
    client.force_login(personas["case_manager"])
    response = client.post(
        reverse("referrals:service_new"),
        {
            "organization": world["org"].pk,
            "name": "Rapid rehousing",
            "service_type": "housing",
            "status": "active",
        },
    )
    assert response.status_code == 302
    assert Service.objects.filter(name="Rapid rehousing", service_type="housing").exists()
    bad = client.post(
        reverse("referrals:service_new"), {"organization": 99999, "name": "", "status": "active"}
    )
    assert bad.status_code == 400
    assert Service.objects.count() == 2
    listing = client.get(reverse("referrals:directory"), {"q": "rehousing"}).content.decode()
    assert "Rapid rehousing" in listing and "Detox intake" not in listing


def test_person_records_exist_only_when_the_officer_named_someone(personas, call_types):
    referral_file(actor=personas["police_officer"], data=referral_data(person_name=""))
    assert Person.objects.count() == 0


def test_the_officers_list_refreshes_itself_with_their_own_referrals_only(client, personas, world):
    client.force_login(personas["police_officer"])
    part = client.get(reverse("referrals:officer_home"), HTTP_HX_REQUEST="true").content.decode()
    assert part.lstrip().startswith('<div id="my-referrals"') and 'hx-trigger="every 10s"' in part
    assert 'data-status="received"' in part and "Woman asleep" not in part
    other = factories.UserFactory(username="cop3", roles=["police_officer"])
    client.force_login(other)
    part = client.get(reverse("referrals:officer_home"), HTTP_HX_REQUEST="true").content.decode()
    assert "data-status" not in part
