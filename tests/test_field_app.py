"""The responder tablet: access, shifts, statuses, backup, location, outcomes, encounters,
idempotent replay of every write the tablet may queue offline, and premise history."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services as dispatch_services
from dispatch.models import Alert, Assignment, Event, Incident, Shift, Unit
from field import selectors, services
from field.models import BackupRequest, Outcome
from referrals.models import FollowUp, Person
from tests import factories

pytestmark = pytest.mark.django_db

GOOD_OUTCOME = {
    "disposition": "resolved_on_scene",
    "services_provided": ["crisis_counselling", "basic_needs"],
    "people_contacted": 1,
    "police_involvement": "none",
    "ems_involvement": "none",
    "narrative": "Talked it through; person went home.",
}


@pytest.fixture
def unit(db):
    return factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)


@pytest.fixture
def responder(personas, unit):
    dispatch_services.shift_start(user=personas["responder"], unit_id=unit.pk)
    return personas["responder"]


@pytest.fixture
def tablet(responder):
    api = APIClient()
    api.force_authenticate(responder)
    return api


def assigned(unit, *, status="dispatched", call_type="WELFARE", **incident_fields):
    factories.CallTypeFactory(code=call_type)
    # Without anyone on shift the unit is off duty; these calls are about the assignment.
    Unit.objects.filter(pk=unit.pk, status=Unit.Status.OFF_DUTY).update(status=Unit.Status.AVAILABLE)
    incident = factories.incident(call_type=call_type, **incident_fields)
    assignment = dispatch_services.assignment_create(
        incident_id=incident.pk, callsign=unit.callsign, actor=None
    )
    path = ["en_route", "on_scene", "transporting", "cleared"]
    for step in path[: path.index(status) + 1] if status in path else []:
        dispatch_services.assignment_set_status(
            assignment_id=assignment.pk, status=step, actor=None, destination="Shelter"
        )
    assignment.refresh_from_db()
    return assignment


def post(api, url, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(url, body, format="json", **headers)


# --- Access ---------------------------------------------------------------------------------
def test_it_shows_the_tablet_to_a_responder(client, personas):
    client.force_login(personas["responder"])
    response = client.get("/field/")
    assert response.status_code == 200
    assert b"Start your shift" in response.content


@pytest.mark.parametrize("role", ["police_officer", "case_manager", "dispatcher"])
def test_it_refuses_the_tablet_to_other_roles(client, personas, role):
    client.force_login(personas[role])
    assert client.get("/field/").status_code == 403
    assert client.get("/field/state").status_code == 403
    assert client.post("/field/shift/start", {"unit": 1}).status_code == 403


@pytest.mark.parametrize("role", ["police_officer", "case_manager"])
def test_it_refuses_the_tablet_api_to_other_roles(personas, unit, role):
    assignment = assigned(unit)
    api = APIClient()
    api.force_authenticate(personas[role])
    assert (
        post(api, f"/field/api/assignments/{assignment.pk}/status", {"status": "en_route"}).status_code == 403
    )
    assert post(api, "/field/api/backup", {"kind": "police", "urgent": True}).status_code == 403
    assert post(api, "/field/api/encounters", {"address": "5th and Main"}).status_code == 403


def test_it_sends_anonymous_callers_to_sign_in(client):
    response = client.get("/field/")
    assert response.status_code == 302 and "/signin/" in response["Location"]


def test_a_responder_sees_only_their_own_units_assignment(responder, tablet, client):
    other_unit = factories.UnitFactory(callsign="CR-9")
    other = assigned(other_unit, narrative="Other unit's call")
    response = post(tablet, f"/field/api/assignments/{other.pk}/status", {"status": "en_route"})
    assert response.status_code == 404
    assert post(tablet, f"/field/api/assignments/{other.pk}/ack", {}).status_code == 404
    client.force_login(responder)
    assert b"Other unit&#x27;s call" not in client.get("/field/").content
    other.refresh_from_db()
    assert other.status == "dispatched" and other.acknowledged_at is None


def test_a_responder_off_shift_sees_no_assignment(personas, unit):
    assignment = assigned(unit)
    api = APIClient()
    api.force_authenticate(personas["responder"])
    assert (
        post(api, f"/field/api/assignments/{assignment.pk}/status", {"status": "en_route"}).status_code == 404
    )


# --- Shifts ---------------------------------------------------------------------------------
def test_a_shift_puts_the_unit_on_duty_and_the_partner_joins_it(client, personas, unit):
    partner = factories.UserFactory(username="partner", roles=["responder"])
    client.force_login(personas["responder"])
    response = client.post("/field/shift/start", {"unit": unit.pk})
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.status == "available"
    dispatch_services.shift_start(user=partner, unit_id=unit.pk)
    assert Shift.objects.filter(unit=unit, ended_at__isnull=True).count() == 2
    page = client.get("/field/").content.decode()
    assert "CR-1" in page and "Available" in page and partner.get_full_name() in page


def test_ending_the_last_shift_takes_the_unit_off_duty(client, personas, unit):
    partner = factories.UserFactory(username="partner", roles=["responder"])
    dispatch_services.shift_start(user=personas["responder"], unit_id=unit.pk)
    dispatch_services.shift_start(user=partner, unit_id=unit.pk)
    client.force_login(personas["responder"])
    client.post("/field/shift/end")
    unit.refresh_from_db()
    assert unit.status == "available"
    dispatch_services.shift_end(user=partner)
    unit.refresh_from_db()
    assert unit.status == "off_duty"


def test_the_last_responder_cannot_leave_a_unit_on_a_call(responder, unit):
    assigned(unit)
    with pytest.raises(dispatch_services.ServiceConflict) as exc:
        dispatch_services.shift_end(user=responder)
    assert exc.value.code == "assignment_active"


def test_a_bad_unit_choice_is_a_form_error(client, personas):
    client.force_login(personas["responder"])
    response = client.post("/field/shift/start", {"unit": 999})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not Shift.objects.exists()


# --- The assignment screen and statuses ------------------------------------------------------
def test_the_assignment_screen_shows_what_the_team_needs(responder, unit, client):
    incident_fields = dict(
        address="12 Elm St",
        caller_name="Ana",
        caller_phone="+1 555 0100",
        narrative="Man sitting in the rain",
        tandem=["ems"],
        priority=2,
    )
    assignment = assigned(unit, **incident_fields)
    client.force_login(responder)
    state = client.get("/field/state").json()
    current = state["assignment"]
    assert current["id"] == str(assignment.pk) and current["acknowledged"] is False
    assert current["ack_event_id"] == selectors.assignment_created_event_id(assignment)
    incident = current["incident"]
    assert (incident["address"], incident["latitude"], incident["longitude"]) == ("12 Elm St", 39.74, -104.99)
    assert incident["caller_tel"] == "+15550100" and incident["caller_phone"] == "+1 555 0100"
    assert incident["narrative"] == "Man sitting in the rain" and incident["tandem"] == ["ems"]
    assert incident["priority"] == 2 and incident["screening"]["weapons"] is False
    assert state["unit"]["callsign"] == "CR-1" and state["last_event_id"] >= current["ack_event_id"]
    # The page carries the same state, so it draws the call before any request.
    page = client.get("/field/").content.decode()
    assert 'id="tablet-state"' in page and "Man sitting in the rain" in page


def test_status_steps_follow_the_status_machine(tablet, unit):
    assignment = assigned(unit)
    url = f"/field/api/assignments/{assignment.pk}/status"
    assert post(tablet, url, {"status": "on_scene"}).json()["code"] == "illegal_transition"
    assert post(tablet, url, {"status": "en_route"}).status_code == 200
    assert post(tablet, url, {"status": "on_scene"}).status_code == 200
    response = post(tablet, url, {"status": "transporting"})
    assert response.status_code == 400 and "destination" in response.json()
    assert post(tablet, url, {"status": "transporting", "destination": "Crisis centre"}).status_code == 200
    assert post(tablet, url, {"status": "cleared"}).status_code == 200
    assignment.refresh_from_db()
    unit.refresh_from_db()
    assert assignment.status == "cleared" and assignment.transport_destination == "Crisis centre"
    assert unit.status == "available"


def test_a_status_change_on_a_cancelled_assignment_is_a_conflict(tablet, unit):
    assignment = assigned(unit)
    dispatch_services.incident_cancel(incident=assignment.incident, actor=None)
    response = post(tablet, f"/field/api/assignments/{assignment.pk}/status", {"status": "en_route"})
    assert response.status_code == 409 and response.json()["code"] == "assignment_cancelled"


def test_the_http_acknowledge_records_it_once(tablet, unit):
    assignment = assigned(unit)
    first = post(tablet, f"/field/api/assignments/{assignment.pk}/ack", {}).json()["acknowledged_at"]
    second = post(tablet, f"/field/api/assignments/{assignment.pk}/ack", {}).json()["acknowledged_at"]
    assert first and first == second


# --- Premise history ------------------------------------------------------------------------
def test_premise_history_shows_dates_call_types_and_outcome_categories_only(responder, unit, client, tablet):
    earlier = assigned(unit, status="on_scene", address="7 Oak Ave", narrative="SECRET-CALL-NARRATIVE")
    services.outcome_record(
        assignment_id=earlier.pk,
        fields=services.OutcomeFields(
            disposition="transported_detox",
            transport_destination="SECRET-DETOX-CENTRE",
            narrative="SECRET-OUTCOME-NARRATIVE",
            person=services.PersonFields(name="SECRET-PERSON"),
            services_provided=["harm_reduction"],
        ),
        actor=responder,
    )
    old = factories.incident(address="7 Oak Ave", narrative="TOO-OLD")
    Incident.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=91))
    current = assigned(unit, address="7 oak ave", narrative="Today's call")

    history = selectors.premise_history(current.incident)
    assert len(history) == 1
    assert set(history[0]) == {"date", "call_type", "outcome"}
    assert history[0]["outcome"] == "Transported"

    client.force_login(responder)
    state = client.get("/field/state").content.decode()
    assert "Transported" in state and "Today's call" in state
    assert "SECRET" not in state and "TOO-OLD" not in state
    # The page's outcome form lists every service and disposition; the state names none.
    assert "harm" not in state.lower() and "detox" not in state.lower()
    assert "SECRET" not in client.get("/field/").content.decode()


# --- Backup and location --------------------------------------------------------------------
def test_a_backup_request_alerts_dispatch_and_the_tablet_learns_it_was_seen(
    responder, tablet, unit, personas
):
    assignment = assigned(unit)
    response = post(tablet, "/field/api/backup", {"kind": "police", "urgent": True})
    assert response.status_code == 201
    backup = BackupRequest.objects.get()
    assert backup.assignment == assignment and backup.urgent
    alert = Alert.objects.get(kind=Alert.Kind.BACKUP)
    assert alert.data["backup_id"] == backup.pk and alert.urgent and alert.unit == unit
    assert Event.objects.filter(type="backup.requested", unit=unit).exists()
    dispatch_services.alert_acknowledge(alert_id=alert.pk, actor=personas["dispatcher"])
    cleared = Event.objects.get(type="alert.cleared", unit=unit)
    assert cleared.data["data"]["backup_id"] == backup.pk


def test_a_backup_request_with_bad_input_is_refused(tablet):
    assert post(tablet, "/field/api/backup", {"kind": "fire", "urgent": True}).status_code == 400
    assert post(tablet, "/field/api/backup", {"kind": "ems", "urgent": "yes"}).status_code == 400
    assert not BackupRequest.objects.exists() and not Alert.objects.exists()


def test_location_reports_move_the_unit_on_the_board(tablet, unit):
    response = post(tablet, "/field/api/location", {"latitude": 39.7, "longitude": -104.9})
    assert response.status_code == 200
    unit.refresh_from_db()
    assert (unit.latitude, unit.longitude) == (39.7, -104.9) and unit.location_at is not None
    assert (
        Event.objects.filter(type="unit.updated", unit=unit).latest("id").data["location"]["latitude"] == 39.7
    )
    assert post(tablet, "/field/api/location", {"latitude": 91, "longitude": 0}).status_code == 400


# --- Outcomes -------------------------------------------------------------------------------
def test_an_outcome_with_a_person_and_a_follow_up_is_saved_whole(tablet, unit):
    assignment = assigned(unit, status="cleared")
    body = {
        **GOOD_OUTCOME,
        "person": {"name": "Sam", "alias": "", "date_of_birth": "1980-02-03", "phone": ""},
        "follow_up_needed": True,
        "follow_up": {"service_type": "housing", "consent": True, "notes": "Wants a shelter bed"},
    }
    response = post(tablet, f"/field/api/assignments/{assignment.pk}/outcome", body)
    assert response.status_code == 201
    outcome = Outcome.objects.get()
    assert outcome.person.name == "Sam" and str(outcome.person.date_of_birth) == "1980-02-03"
    assert outcome.follow_up.service_type == "housing" and outcome.follow_up.incident == assignment.incident
    assert outcome.follow_up.person == outcome.person and outcome.follow_up.consent
    assert outcome.services_provided == ["crisis_counselling", "basic_needs"] and not outcome.self_initiated


@pytest.mark.parametrize(
    "change, field",
    [
        ({"disposition": "fine"}, "disposition"),
        ({"people_contacted": "two"}, "people_contacted"),
        ({"services_provided": ["massage"]}, "services_provided"),
        ({"police_involvement": "maybe"}, "police_involvement"),
        ({"follow_up_needed": True}, "follow_up"),
        ({"disposition": "transported_shelter"}, "transport_destination"),
        ({"person": {"name": "Sam", "date_of_birth": "not a date"}}, "person"),
        ({"narrative": "x" * 10_001}, "narrative"),
    ],
)
def test_a_bad_outcome_is_refused_and_nothing_is_half_saved(tablet, unit, change, field):
    assignment = assigned(unit, status="on_scene")
    response = post(tablet, f"/field/api/assignments/{assignment.pk}/outcome", {**GOOD_OUTCOME, **change})
    assert response.status_code == 400 and field in response.json()
    assert not Outcome.objects.exists() and not Person.objects.exists() and not FollowUp.objects.exists()
    assignment.refresh_from_db()
    assert assignment.status == "on_scene"


def test_an_outcome_clears_an_assignment_still_on_scene(tablet, unit):
    assignment = assigned(unit, status="on_scene")
    assert post(tablet, f"/field/api/assignments/{assignment.pk}/outcome", GOOD_OUTCOME).status_code == 201
    assignment.refresh_from_db()
    assert assignment.status == "cleared"


def test_outcome_conflicts_are_409(tablet, unit):
    early = assigned(unit)
    response = post(tablet, f"/field/api/assignments/{early.pk}/outcome", GOOD_OUTCOME)
    assert response.status_code == 409 and response.json()["code"] == "not_on_scene"
    dispatch_services.incident_cancel(incident=early.incident, actor=None)
    response = post(tablet, f"/field/api/assignments/{early.pk}/outcome", GOOD_OUTCOME)
    assert response.json()["code"] == "assignment_cancelled"
    done = assigned(unit, status="cleared")
    assert post(tablet, f"/field/api/assignments/{done.pk}/outcome", GOOD_OUTCOME).status_code == 201
    response = post(tablet, f"/field/api/assignments/{done.pk}/outcome", GOOD_OUTCOME)
    assert response.status_code == 409 and response.json()["code"] == "outcome_exists"
    assert Outcome.objects.count() == 1


def test_the_tablet_lists_cleared_assignments_missing_an_outcome(responder, tablet, unit, client):
    first = assigned(unit, status="cleared", address="1 First St")
    second = assigned(unit, status="cleared", address="2 Second St")
    post(tablet, f"/field/api/assignments/{first.pk}/outcome", GOOD_OUTCOME)
    client.force_login(responder)
    missing = client.get("/field/state").json()["missing_outcomes"]
    assert [a["id"] for a in missing] == [str(second.pk)]
    assert missing[0]["label"] == "WELFARE at 2 Second St"


# --- Self-initiated encounters --------------------------------------------------------------
def test_a_new_encounter_is_a_self_initiated_call_with_the_unit_on_scene(responder, tablet, unit):
    client_id = str(uuid.uuid4())
    body = {"id": client_id, "latitude": 39.75, "longitude": -104.98, "call_type": "WELFARE"}
    response = post(tablet, "/field/api/encounters", body)
    assert response.status_code == 201 and response.json()["id"] == client_id
    assignment = Assignment.objects.select_related("incident").get(pk=client_id)
    assert assignment.status == "on_scene" and assignment.incident.source == "self_initiated"
    assert (assignment.incident.latitude, assignment.incident.longitude) == (39.75, -104.98)
    unit.refresh_from_db()
    assert unit.status == "on_scene"
    assert Event.objects.filter(type="assignment.created", unit=unit, data__id=client_id).exists()
    post(tablet, f"/field/api/assignments/{client_id}/outcome", GOOD_OUTCOME)
    assert selectors.outcome_counts() == {"dispatched": 0, "self_initiated": 1}


def test_an_encounter_needs_a_position_or_an_address_and_a_free_unit(tablet, unit):
    assert post(tablet, "/field/api/encounters", {"call_type": "WELFARE"}).status_code == 400
    assigned(unit)
    response = post(tablet, "/field/api/encounters", {"address": "Library steps"})
    assert response.status_code == 409 and response.json()["code"] == "unit_unavailable"
    assert not Incident.objects.filter(source="self_initiated").exists()


# --- Idempotent replay of every write the tablet queues offline -----------------------------
def test_a_replayed_status_change_is_stored_once(tablet, unit):
    assignment = assigned(unit)
    key = str(uuid.uuid4())
    url = f"/field/api/assignments/{assignment.pk}/status"
    first = post(tablet, url, {"status": "en_route"}, key)
    again = post(tablet, url, {"status": "en_route"}, key)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Event.objects.filter(type="assignment.updated", data__status="en_route").count() == 1


def test_a_replayed_outcome_is_stored_once(tablet, unit):
    assignment = assigned(unit, status="cleared")
    key = str(uuid.uuid4())
    body = {**GOOD_OUTCOME, "follow_up_needed": True, "follow_up": {"service_type": "food", "consent": True}}
    url = f"/field/api/assignments/{assignment.pk}/outcome"
    first, again = post(tablet, url, body, key), post(tablet, url, body, key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Outcome.objects.count() == 1 and FollowUp.objects.count() == 1


def test_a_replayed_encounter_is_stored_once(tablet, unit):
    key, body = str(uuid.uuid4()), {"id": str(uuid.uuid4()), "address": "Bus stop 12"}
    first, again = (
        post(tablet, "/field/api/encounters", body, key),
        post(tablet, "/field/api/encounters", body, key),
    )
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Incident.objects.filter(source="self_initiated").count() == 1


def test_a_replayed_backup_request_is_stored_once(tablet, unit):
    key = str(uuid.uuid4())
    body = {"kind": "ems", "urgent": False}
    first, again = post(tablet, "/field/api/backup", body, key), post(tablet, "/field/api/backup", body, key)
    assert first.json() == again.json()
    assert BackupRequest.objects.count() == 1 and Alert.objects.count() == 1


def test_a_key_reused_for_another_request_is_a_conflict(tablet, unit):
    key = str(uuid.uuid4())
    post(tablet, "/field/api/backup", {"kind": "ems", "urgent": False}, key)
    response = post(tablet, "/field/api/backup", {"kind": "police", "urgent": True}, key)
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_reused"


# --- The PWA ----------------------------------------------------------------------------------
def test_the_service_worker_is_served_at_the_root_with_root_scope():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b"networkFirst" in response.content


def test_the_manifest_names_the_app_and_its_icons():
    response = Client().get("/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    data = response.json()
    assert data["start_url"] == "/field/" and {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}


def test_an_encounter_naming_another_units_assignment_is_a_404_and_changes_nothing(tablet, unit):
    other = factories.UnitFactory(callsign="CR-9")
    theirs = assigned(other)
    before = Incident.objects.count()
    response = post(tablet, "/field/api/encounters", {"id": str(theirs.pk), "address": "Bus stop 12"})
    assert response.status_code == 404, response.content
    assert Incident.objects.count() == before


def test_an_encounter_naming_its_own_units_assignment_again_is_a_409(tablet, unit):
    body = {"id": str(uuid.uuid4()), "address": "Bus stop 12"}
    assert post(tablet, "/field/api/encounters", body).status_code == 201
    again = post(tablet, "/field/api/encounters", body)
    assert again.status_code == 409 and again.json()["code"] == "already_exists"
