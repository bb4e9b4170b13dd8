"""POST/GET /api/v1/referrals/: the police records system's side, and the privacy boundary."""

import uuid

import pytest

from dispatch.models import Incident
from dispatch.services import assignment_create, assignment_set_status
from referrals.models import FollowUp, PoliceReferral
from referrals.services import follow_up_create, follow_up_record_attempt
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals/"
# Words from the clinical side that must never reach the police: field names and content.
SECRET_NOTE = "CLINICAL-SECRET-diagnosis-bipolar"
CLINICAL_KEYS = (
    "narrative",
    "situation",
    "safety_notes",
    "person",
    "follow_up",
    "followup",
    "service_type",
    "services",
    "outcome",
    "consent",
    "provider",
    "notes",
)


def payload(**overrides):
    body = {
        "external_id": "RMS-2026-0001",
        "urgency": "now",
        "call_type": "welfare",
        "location": {"address": "1400 Larimer St", "latitude": 39.748, "longitude": -104.999},
        "person": {"name": "Sam Doe", "description": "Grey hoodie"},
        "situation": "Man talking to himself at the bus stop, not a threat.",
        "safety_notes": "Dog with him",
        "officer": {"name": "Ofc. Ruiz", "callback": "303-555-0199"},
        "consent_to_contact": True,
        "screening": {"weapons": False, "violence": False, "medical_emergency": False, "police_only": False},
    }
    body.update(overrides)
    return body


def test_it_files_an_urgent_referral_as_a_police_referral_incident(police_api, call_types):
    response = police_api.post(URL, payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "received"
    assert body["urgency"] == "now"
    referral = PoliceReferral.objects.get(pk=body["id"])
    incident = referral.incident
    assert incident.source == Incident.Source.POLICE_REFERRAL
    assert incident.call_type_code == "WELFARE"
    assert incident.eligible is True
    assert incident.status == Incident.Status.PENDING
    assert "Dog with him" in incident.narrative
    assert incident.caller_phone == "303-555-0199"
    assert referral.person.name == "Sam Doe"


def test_a_later_referral_joins_the_outreach_queue_without_an_incident(police_api, call_types):
    response = police_api.post(URL, payload(urgency="later"), format="json")
    assert response.status_code == 201
    referral = PoliceReferral.objects.get(pk=response.json()["id"])
    assert referral.state == PoliceReferral.State.QUEUED
    assert referral.incident is None
    assert Incident.objects.count() == 0


def test_a_service_asked_for_with_consent_opens_a_follow_up(police_api, call_types):
    response = police_api.post(URL, payload(urgency="later", service_needed="housing"), format="json")
    assert response.status_code == 201
    follow_up = FollowUp.objects.get()
    assert follow_up.service_type == "housing"
    assert str(follow_up.referral_id) == response.json()["id"]


def test_without_consent_no_follow_up_is_opened(police_api, call_types):
    police_api.post(URL, payload(service_needed="housing", consent_to_contact=False), format="json")
    assert FollowUp.objects.count() == 0


def test_an_idempotency_key_replays_the_first_answer_and_files_once(police_api, call_types):
    key = str(uuid.uuid4())
    first = police_api.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    second = police_api.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert PoliceReferral.objects.count() == 1
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"urgency": "soon"}, "urgency"),
        ({"situation": "   "}, "situation"),
        ({"consent_to_contact": "yes"}, "consent_to_contact"),
        ({"location": {"latitude": 1, "longitude": 2}}, "location"),
        ({"officer": {"name": "x"}}, "officer"),
        ({"service_needed": "massage"}, "service_needed"),
        ({"person": {"date_of_birth": "last year"}}, "person"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(police_api, call_types, change, field):
    response = police_api.post(URL, payload(**change), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert PoliceReferral.objects.count() == 0
    assert Incident.objects.count() == 0


def test_a_missing_field_is_a_400(police_api, call_types):
    body = payload()
    del body["officer"]
    response = police_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert "officer" in response.json()


def test_a_body_that_is_not_json_is_a_415(police_api):
    response = police_api.post(URL, "not json", content_type="application/json")
    assert response.status_code == 415


def test_the_police_see_only_their_status_never_clinical_details(police_api, call_types, personas):
    referral_id = police_api.post(URL, payload(service_needed="mental_health"), format="json").json()["id"]
    referral = PoliceReferral.objects.get(pk=referral_id)
    unit = factories.UnitFactory(callsign="CR-9")
    assignment = assignment_create(incident_id=referral.incident_id, callsign=unit.callsign, actor=None)
    assert police_api.get(f"{URL}{referral_id}/").json()["status"] == "assigned"
    assignment_set_status(assignment_id=assignment.pk, status="en_route", actor=None)
    assignment_set_status(assignment_id=assignment.pk, status="on_scene", actor=None)
    follow_up = follow_up_create(
        actor=personas["responder"],
        service_type="substance_use",
        consent=True,
        notes=SECRET_NOTE,
        person=referral.person,
        incident=referral.incident,
    )
    follow_up_record_attempt(
        actor=personas["case_manager"],
        follow_up_id=follow_up.pk,
        method="phone",
        result="reached",
        notes=SECRET_NOTE,
    )
    Incident.objects.filter(pk=referral.incident_id).update(narrative=SECRET_NOTE)

    detail = police_api.get(f"{URL}{referral_id}/")
    listing = police_api.get(URL)
    assert detail.json()["status"] == "contact_made"
    for response in (detail, listing):
        text = response.content.decode()
        assert SECRET_NOTE not in text
        assert "Sam Doe" not in text
        assert "Grey hoodie" not in text
        assert "substance" not in text
        assert "mental_health" not in text
    assert not set(detail.json()) & set(CLINICAL_KEYS)
    assert set(detail.json()) == {
        "id",
        "program",
        "external_id",
        "urgency",
        "call_type",
        "address",
        "status",
        "created_at",
    }

    assignment_set_status(assignment_id=assignment.pk, status="cleared", actor=None)
    assert police_api.get(f"{URL}{referral_id}/").json()["status"] == "closed"


def test_a_police_client_lists_only_its_own_referrals_and_gets_404_for_others(police_api, call_types):
    mine = police_api.post(URL, payload(), format="json").json()["id"]
    _, other_key = factories.api_client("rms-2", "police")
    other = police_api.__class__()
    other.credentials(HTTP_AUTHORIZATION=f"Token {other_key}")
    theirs = other.post(URL, payload(external_id="OTHER-1"), format="json").json()["id"]
    ids = [r["id"] for r in police_api.get(URL).json()]
    assert ids == [mine]
    assert police_api.get(f"{URL}{theirs}/").status_code == 404
    assert police_api.get(f"{URL}{uuid.uuid4()}/").status_code == 404


def test_a_cad_client_may_not_file_or_read_referrals(cad, call_types):
    assert cad.post(URL, payload(), format="json").status_code == 403
    assert cad.get(URL).status_code == 403


def test_without_credentials_it_is_a_401(client):
    assert client.get(URL).status_code == 401
    assert client.post(URL, {}, content_type="application/json").status_code == 401


@pytest.mark.parametrize("role", ["responder", "dispatcher", "case_manager", "supervisor", "nobody"])
def test_signed_in_people_other_than_officers_may_not_use_it(client, personas, role):
    client.force_login(personas[role])
    assert client.get(URL).status_code == 403


def test_a_signed_in_officer_may_read_their_own_referrals(client, personas, police_api, call_types):
    police_api.post(URL, payload(), format="json")
    client.force_login(personas["police_officer"])
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == []


def test_the_schema_documents_the_referral_endpoints_with_named_components(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/referrals/" in schema["paths"]
    assert "/api/v1/referrals/{referral_id}/" in schema["paths"]
    components = schema["components"]["schemas"]
    assert "PoliceReferralOut" in components
    assert "PoliceReferralInRequest" in components
    assert set(components["PoliceReferralOut"]["properties"]) == {
        "id",
        "program",
        "external_id",
        "urgency",
        "call_type",
        "address",
        "status",
        "created_at",
    }
