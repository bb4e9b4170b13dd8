"""POST /api/v1/eido/ and GET /api/v1/incidents/{id}/eido (CONTRACT.md 1.1, "NENA EIDO"): sample-
shaped documents in both spellings, with and without an incident component, the upsert by `$id`,
the stale re-issue, the refusals, the roles, and the round trip back out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.eido import eido_to_incident
from dispatch.models import Assignment, CallType, Event, Incident, Unit
from field.models import Outcome
from tests import factories
from tests.test_eido import RECEIVED, UPDATED, cad, eido, in_older_spelling, pidf_point

EIDO_URL = "/api/v1/eido/"
EXTERNAL_ID = eido()["$id"]


def post(api, document, **headers):
    return api.post(EIDO_URL, document, format="json", **headers)


def reissued(minutes: int, **overrides) -> dict:
    """The sample EIDO again, last updated `minutes` after the first issue (negative: before)."""
    document = eido(lastUpdateTimeStamp=cad(UPDATED + timedelta(minutes=minutes)))
    document.update(overrides)
    return document


def note(text: str) -> list:
    return [{"$id": "note-1", "lastUpdateTimeStamp": cad(UPDATED), "notesActionComments": text}]


@pytest.fixture
def catalogue(call_types):
    CallType.objects.filter(code="WELFARE").update(apco_code="WELFARE")
    factories.CallTypeFactory(code="MENTAL", eligible=True, apco_code="EDP")
    return call_types


# --- In: documents shaped like the published samples -------------------------------------------
def test_an_eido_in_the_1_0_spelling_creates_the_incident_it_describes(cad, catalogue):
    response = post(cad, eido())

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == EXTERNAL_ID
    assert body["call_type"] == "WELFARE"
    assert body["source"] == "911"
    assert body["priority"] == 3
    assert body["received_at"] == RECEIVED.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["location"]["address"] == "1550 Court Pl, Denver, CO 80202"
    assert body["caller"] == {"name": "Rosa Marquez", "phone": "+1-303-555-0147"}
    assert body["narrative"] == "Man sitting on the sidewalk for hours, not answering."
    # An EIDO states no screening answers: stored pending, for a dispatcher to complete.
    assert body["status"] == "pending"
    assert body["eligibility"] == {"eligible": False, "reasons": ["screening_incomplete"]}
    incident = Incident.objects.get(pk=body["id"])
    assert incident.api_client == cad.api_client
    assert incident.eido_updated_at == UPDATED


def test_the_older_spelling_of_the_samples_is_the_same_incident(cad, cad2, catalogue):
    newer = post(cad, eido()).json()
    older = post(cad2, in_older_spelling(eido()))

    assert older.status_code == 201
    different = {"id", "created_at", "updated_at", "possible_duplicates"}
    assert {k: v for k, v in older.json().items() if k not in different} == {
        k: v for k, v in newer.items() if k not in different
    }
    # Two CADs sending one call: the second is flagged as a possible duplicate of the first.
    assert older.json()["possible_duplicates"] == [newer["id"]]


def test_an_eido_without_an_incident_component_or_address_is_stored_pending_never_refused(cad, catalogue):
    document = eido()
    del document["incidentComponent"]
    document["locationComponent"] = [
        {
            "$id": "loc-2",
            "locationTypeDescriptionRegistryText": "CurrentIncident",
            "locationByValue": pidf_point("39.7392 -104.9903"),
        }
    ]

    response = post(cad, document)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["call_type"] == ""
    assert body["location"]["address"] == ""
    assert (body["location"]["latitude"], body["location"]["longitude"]) == (39.7392, -104.9903)
    assert body["status"] == "pending"
    assert body["eligibility"] == {
        "eligible": False,
        "reasons": ["unknown_call_type", "screening_incomplete"],
    }


def test_the_code_in_the_catalogue_is_preferred_among_those_the_eido_gives(cad, catalogue):
    document = eido()
    document["incidentComponent"]["incidentTypeInternalCode"] = "WLF-99"  # not in the catalogue
    document["incidentComponent"]["incidentTypeCommonRegistryText"] = "welfare"
    assert post(cad, document).json()["call_type"] == "WELFARE"


def test_a_cad_that_sends_only_the_apco_common_type_gets_the_catalogue_code_for_it(cad, catalogue):
    document = eido()
    document["incidentComponent"] = {"$id": "inc-1", "incidentTypeCommonRegistryText": "EDP"}
    assert post(cad, document).json()["call_type"] == "MENTAL"


def test_a_code_nobody_knows_is_kept_as_sent_and_stored_as_unknown(cad, catalogue):
    document = eido()
    document["incidentComponent"] = {"$id": "inc-1", "incidentTypeInternalCode": "ZZ-NEW"}
    body = post(cad, document).json()
    assert body["call_type"] == "ZZ-NEW"
    assert "unknown_call_type" in body["eligibility"]["reasons"]


# --- Upsert by $id, and the stale re-issue ---------------------------------------------------------
def test_a_newer_re_issue_updates_the_same_incident(cad, catalogue):
    created = post(cad, eido()).json()

    response = post(cad, reissued(5, notesComponent=note("Now standing, talking to a neighbour.")))

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["narrative"] == "Now standing, talking to a neighbour."
    assert Incident.objects.count() == 1
    assert Incident.objects.get().eido_updated_at == UPDATED + timedelta(minutes=5)


def test_an_older_re_issue_changes_nothing_and_answers_200(cad, catalogue):
    post(cad, reissued(5, notesComponent=note("The newest word.")))
    stored = Incident.objects.get()
    events = Event.objects.count()

    response = post(cad, reissued(-1, notesComponent=note("An older word, delivered late.")))

    assert response.status_code == 200
    assert response.json()["narrative"] == "The newest word."
    again = Incident.objects.get()
    assert (again.narrative, again.updated_at, again.eido_updated_at) == (
        stored.narrative,
        stored.updated_at,
        stored.eido_updated_at,
    )
    assert Event.objects.count() == events


def test_the_same_eido_again_is_a_replay_that_writes_nothing(cad, catalogue):
    first = post(cad, eido()).json()
    events = Event.objects.count()

    again = post(cad, eido())

    assert again.status_code == 200
    assert again.json() == first
    assert Event.objects.count() == events


def test_a_re_issue_that_leaves_things_out_keeps_what_a_dispatcher_completed(cad, catalogue):
    created = post(cad, eido()).json()
    Incident.objects.filter(pk=created["id"]).update(
        screen_weapons=False, screen_violence=False, screen_medical_emergency=False, screen_police_only=False
    )
    document = reissued(5)
    del document["incidentComponent"]

    body = post(cad, document).json()

    assert body["call_type"] == "WELFARE"
    assert body["screening"] == {
        "weapons": False,
        "violence": False,
        "medical_emergency": False,
        "police_only": False,
    }
    assert body["eligibility"] == {"eligible": True, "reasons": []}


def test_a_re_issue_that_states_a_weapon_answers_that_question(cad, catalogue):
    post(cad, eido())
    document = reissued(5, cautionComponent=[{"$id": "c-1", "cautionTypeInternalText": "Knife seen"}])
    body = post(cad, document).json()
    assert body["screening"]["weapons"] is True
    assert "weapons" in body["eligibility"]["reasons"]


def test_an_idempotency_key_replays_the_first_answer(cad, catalogue):
    key = {"HTTP_IDEMPOTENCY_KEY": "0b6a6a4e-5a3c-4d0f-9e43-1f6b2a3c4d5e"}
    first = post(cad, eido(), **key)
    again = post(cad, eido(), **key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


def test_another_cads_same_id_is_another_incident(cad, cad2, catalogue):
    assert post(cad, eido()).status_code == 201
    assert post(cad2, eido()).status_code == 201
    assert Incident.objects.filter(external_id=EXTERNAL_ID).count() == 2


# --- Refusals and roles -----------------------------------------------------------------------------
@pytest.mark.parametrize("document", [["an", "array"], "text", 42])
def test_what_is_not_a_json_object_is_a_400_with_the_reason(cad, catalogue, document):
    response = post(cad, document)
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Not an EIDO: the body must be a JSON object."]}
    assert not Incident.objects.exists()


def test_an_eido_without_an_id_is_a_400_naming_it(cad, catalogue):
    document = eido()
    del document["$id"]
    response = post(cad, document)
    assert response.status_code == 400
    assert list(response.json()) == ["$id"]
    assert not Incident.objects.exists()


def test_a_body_that_is_not_json_is_415(cad, catalogue):
    response = cad.post(EIDO_URL, "{not json", content_type="application/json")
    assert response.status_code == 415


def test_only_a_cad_may_post_an_eido(police_api, client, personas, catalogue):
    assert post(police_api, eido()).status_code == 403
    client.force_login(personas["dispatcher"])
    assert client.post(EIDO_URL, eido(), content_type="application/json").status_code == 403
    client.logout()
    assert client.post(EIDO_URL, eido(), content_type="application/json").status_code == 401
    assert not Incident.objects.exists()


# --- Out: GET /api/v1/incidents/{id}/eido ------------------------------------------------------------
def eido_of(api, incident_id):
    response = api.get(f"/api/v1/incidents/{incident_id}/eido")
    assert response.status_code == 200, response.content
    return response.json()


def test_an_incident_posted_as_an_eido_reads_back_as_the_same_incident(cad, catalogue):
    created = post(cad, eido()).json()

    document = eido_of(cad, created["id"])

    back = eido_to_incident(document)
    sent = eido_to_incident(eido())
    assert back.external_id == sent.external_id
    assert (back.call_type, back.priority, back.received_at, back.narrative) == (
        sent.call_type,
        sent.priority,
        sent.received_at,
        sent.narrative,
    )
    assert back.location["address"] == sent.location["address"]
    assert document["incidentComponent"]["incidentTypeCommonRegistryText"] == "WELFARE"
    assert "emergencyResourceComponent" not in document  # no unit sent yet


def assigned_unit(incident_id, callsign="CR-1") -> Assignment:
    factories.UnitFactory(callsign=callsign)
    return services.assignment_create(
        incidents=Incident.objects.all(),
        incident_id=incident_id,
        callsign=callsign,
        actor=None,
        override_reason="Screened by phone.",
    )


def test_each_unit_sent_is_an_emergency_resource_with_its_status(cad, catalogue):
    created = post(cad, eido()).json()
    assignment = assigned_unit(created["id"])
    services.assignment_set_status(assignment_id=assignment.pk, status="en_route", actor=None)

    resources = eido_of(cad, created["id"])["emergencyResourceComponent"]

    assert [(r["emergencyResourceName"], r["unitStatusInternal"]) for r in resources] == [
        ("CR-1", ["en_route"])
    ]


def test_a_unit_taken_off_the_call_is_not_listed(cad, catalogue):
    created = post(cad, eido()).json()
    assigned_unit(created["id"])
    services.incident_cancel(incident=Incident.objects.get(pk=created["id"]), actor=None)

    document = eido_of(cad, created["id"])

    assert "emergencyResourceComponent" not in document
    # Cancelled before the team arrived: NEMSIS's "Cancelled Prior to Arrival at Scene".
    [disposition] = document["incidentComponent"]["dispositionComponent"]
    assert disposition["dispositionCommonRegistryCode"] == "4227005"


def test_a_closed_incident_carries_its_outcome_as_a_nemsis_disposition(cad, catalogue, personas):
    created = post(cad, eido()).json()
    assignment = assigned_unit(created["id"])
    for step in ("en_route", "on_scene", "cleared"):
        services.assignment_set_status(assignment_id=assignment.pk, status=step, actor=None)
    Outcome.objects.create(
        assignment=assignment,
        disposition=Outcome.Disposition.REFUSED,
        recorded_by=personas["responder"],
        recorded_at=timezone.now(),
    )

    document = eido_of(cad, created["id"])

    [disposition] = document["incidentComponent"]["dispositionComponent"]
    assert disposition["dispositionCommonRegistryCode"] == "4227001"  # Patient Contact Made
    assert disposition["dispositionDescriptionText"] == "Refused services"
    [resource] = document["emergencyResourceComponent"]
    assert resource["unitStatusInternal"] == ["cleared"]
    assert Unit.objects.get(callsign="CR-1").status == "available"


def test_only_those_who_may_see_the_incident_get_its_eido(cad, cad2, police_api, client, personas, catalogue):
    created = post(cad, eido()).json()
    url = f"/api/v1/incidents/{created['id']}/eido"
    assert cad2.get(url).status_code == 404
    assert police_api.get(url).status_code == 403
    client.force_login(personas["dispatcher"])
    assert client.get(url).status_code == 200
    client.force_login(personas["responder"])
    assert client.get(url).status_code == 403


def test_both_endpoints_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/api/v1/eido/"]
    assert "get" in schema["paths"]["/api/v1/incidents/{incident_id}/eido"]


def test_a_call_cancelled_with_the_team_on_scene_is_nemsis_cancelled_on_scene(cad, catalogue):
    created = post(cad, eido()).json()
    assignment = assigned_unit(created["id"])
    for step in ("en_route", "on_scene"):
        services.assignment_set_status(assignment_id=assignment.pk, status=step, actor=None)
    services.incident_cancel(incident=Incident.objects.get(pk=created["id"]), actor=None)

    [disposition] = eido_of(cad, created["id"])["incidentComponent"]["dispositionComponent"]

    assert disposition["dispositionCommonRegistryCode"] == "4227003"
