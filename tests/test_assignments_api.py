"""Units, assign and status endpoints (CONTRACT.md "Units and assignments")."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import Assignment, ClinicianTransfer, Event, Incident, Shift, Unit
from tests import factories
from tests.factories import UnitFactory

STATUSES = ["dispatched", "en_route", "on_scene", "transporting", "cleared", "cancelled"]
STEPS = ["en_route", "on_scene", "transporting", "cleared"]
# How to bring a fresh assignment to each status through the API.
PATH_TO = {
    "dispatched": [],
    "en_route": ["en_route"],
    "on_scene": ["en_route", "on_scene"],
    "transporting": ["en_route", "on_scene", "transporting"],
    "cleared": ["en_route", "on_scene", "cleared"],
}


def incident_body(external_id="CAD-1", call_type="WELFARE", weapons=False, received_at=None):
    body = factories.cad_incident_body(
        external_id=external_id, call_type=call_type, priority=2, received_at=received_at
    )
    body["screening"]["weapons"] = weapons
    return body


def post(api, url, data, **headers):
    return api.post(url, data=json.dumps(data), content_type="application/json", **headers)


def cad_incident(cad, **kwargs) -> str:
    response = post(cad, "/api/v1/incidents/", incident_body(**kwargs))
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def assign(api, incident_id, unit="CR-1", **extra):
    headers = extra.pop("headers", {})
    return post(api, f"/api/v1/incidents/{incident_id}/assign", {"unit": unit, **extra}, **headers)


def set_status(api, assignment_id, status, **headers):
    body = {"status": status}
    if status == "transporting":
        body["destination"] = "Crisis centre"
    return post(api, f"/api/v1/assignments/{assignment_id}/status", body, **headers)


def signed_in(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


@pytest.fixture
def dispatcher_api(personas):
    return signed_in(personas["dispatcher"])


@pytest.fixture
def unit(db):
    return UnitFactory(callsign="CR-1")


def assignment_in(status, api, incident_id, unit_callsign="CR-1") -> str:
    response = assign(api, incident_id, unit_callsign)
    assert response.status_code == 201, response.json()
    assignment_id = response.json()["id"]
    if status == "cancelled":
        services.incident_cancel(incident=Incident.objects.get(pk=incident_id), actor=None)
        return assignment_id
    for step in PATH_TO[status]:
        assert set_status(api, assignment_id, step).status_code == 200
    return assignment_id


def snapshot(assignment_id):
    assignment = Assignment.objects.select_related("unit", "incident").get(pk=assignment_id)
    return (
        assignment.status,
        assignment.en_route_at,
        assignment.on_scene_at,
        assignment.transporting_at,
        assignment.cleared_at,
        assignment.unit.status,
        assignment.incident.status,
        Event.objects.count(),
    )


# --- the status machine ----------------------------------------------------------------------
ALLOWED = [(s, t) for s in STATUSES for t in STEPS if t in Assignment.TRANSITIONS[s]]
REFUSED = [(s, t) for s in STATUSES for t in STEPS if t not in Assignment.TRANSITIONS[s]]
# Of those, the steps the assignment has already taken: a double tap or a replay, answered as done.
REPEATED = [(s, t) for s, t in REFUSED if s != "cancelled" and t in PATH_TO[s]]


def test_the_table_allows_exactly_the_contracts_steps():
    assert sorted(ALLOWED) == sorted(
        [
            ("dispatched", "en_route"),
            ("en_route", "on_scene"),
            ("on_scene", "transporting"),
            ("on_scene", "cleared"),
            ("transporting", "cleared"),
        ]
    )
    assert len(REFUSED) == 6 * 4 - 5


@pytest.mark.parametrize(("start", "step"), ALLOWED)
def test_each_allowed_step_sets_its_timestamp_and_the_units_status(start, step, cad, unit, call_types):
    incident_id = cad_incident(cad)
    assignment_id = assignment_in(start, cad, incident_id)
    before = timezone.now()
    response = set_status(cad, assignment_id, step)
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["id"] == assignment_id
    assert data["status"] == step
    assert data[f"{step}_at"].endswith("Z")
    assignment = Assignment.objects.select_related("unit", "incident").get(pk=assignment_id)
    assert getattr(assignment, f"{step}_at") >= before
    assert assignment.unit.status == Assignment.UNIT_STATUS[step]
    expected_incident = "closed" if step == "cleared" else "assigned"
    assert assignment.incident.status == expected_incident
    if step == "cleared":
        assert assignment.incident.closed_at is not None
        assert assignment.unit.available_since >= before
    updated = Event.objects.filter(type="assignment.updated", unit=assignment.unit).order_by("-id").first()
    assert updated.data["status"] == step


@pytest.mark.parametrize(("start", "step"), [pair for pair in REFUSED if pair not in REPEATED])
def test_each_refused_step_is_409_and_changes_nothing(start, step, cad, unit, call_types):
    incident_id = cad_incident(cad)
    assignment_id = assignment_in(start, cad, incident_id)
    before = snapshot(assignment_id)
    response = set_status(cad, assignment_id, step)
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    assert snapshot(assignment_id) == before


@pytest.mark.parametrize(("start", "step"), REPEATED)
def test_a_step_already_taken_is_answered_as_done_and_changes_nothing(start, step, cad, unit, call_types):
    assignment_id = assignment_in(start, cad, cad_incident(cad))
    before = snapshot(assignment_id)
    response = set_status(cad, assignment_id, step)
    assert response.status_code == 200
    assert response.json()["status"] == start
    assert snapshot(assignment_id) == before  # no timestamp moved, no second event


def test_a_transport_without_a_destination_is_400_on_the_integration_api_too(cad, unit, call_types):
    assignment_id = assignment_in("on_scene", cad, cad_incident(cad))
    before = snapshot(assignment_id)
    for body in ({"status": "transporting"}, {"status": "transporting", "destination": "   "}):
        response = post(cad, f"/api/v1/assignments/{assignment_id}/status", body)
        assert response.status_code == 400
        assert list(response.json()) == ["destination"]
    assert snapshot(assignment_id) == before


def test_a_step_on_a_cancelled_assignment_is_the_contracts_illegal_transition(cad, unit, call_types):
    assignment_id = assignment_in("cancelled", cad, cad_incident(cad))
    response = set_status(cad, assignment_id, "en_route")
    assert response.status_code == 409
    assert response.json() == {"code": "illegal_transition", "detail": "Dispatch cancelled this assignment."}


def test_a_status_the_contract_does_not_name_is_400(cad, unit, call_types):
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    response = set_status(cad, assignment_id, "dispatched")
    assert response.status_code == 400
    assert "status" in response.json()


def test_the_whole_path_through_transport_records_every_timestamp(dispatcher_api, unit, call_types):
    incident = factories.incident()
    assignment_id = assign(dispatcher_api, incident.pk).json()["id"]
    for step in ["en_route", "on_scene", "transporting", "cleared"]:
        assert set_status(dispatcher_api, assignment_id, step).status_code == 200
    assignment = Assignment.objects.get(pk=assignment_id)
    stamps = [
        assignment.dispatched_at,
        assignment.en_route_at,
        assignment.on_scene_at,
        assignment.transporting_at,
        assignment.cleared_at,
    ]
    assert None not in stamps
    assert stamps == sorted(stamps)
    unit.refresh_from_db()
    assert unit.status == "available"


# --- who may move an assignment -----------------------------------------------------------------
@pytest.mark.parametrize("role", ["dispatcher", "supervisor"])
def test_dispatch_may_move_any_assignment(role, personas, cad, unit, call_types):
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    assert set_status(signed_in(personas[role]), assignment_id, "en_route").status_code == 200


def test_a_cad_may_move_only_assignments_on_its_own_incidents(cad, cad2, unit, call_types):
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    assert set_status(cad2, assignment_id, "en_route").status_code == 404
    assert set_status(cad, assignment_id, "en_route").status_code == 200


def test_the_responder_on_shift_with_the_unit_may_move_its_assignment(personas, cad, unit, call_types):
    responder = personas["responder"]
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    api = signed_in(responder)
    assert set_status(api, assignment_id, "en_route").status_code == 404  # not on shift yet
    Shift.objects.create(unit=unit, user=responder, started_at=timezone.now())
    assert set_status(api, assignment_id, "en_route").status_code == 200


def test_a_responder_of_another_unit_gets_404(personas, cad, unit, call_types):
    other = UnitFactory(callsign="CR-9")
    Shift.objects.create(unit=other, user=personas["responder"], started_at=timezone.now())
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    before = snapshot(assignment_id)
    assert set_status(signed_in(personas["responder"]), assignment_id, "en_route").status_code == 404
    assert snapshot(assignment_id) == before


@pytest.mark.parametrize("role", ["police_officer", "case_manager", "nobody"])
def test_other_roles_may_not_move_assignments(role, personas, cad, unit, call_types):
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    assert set_status(signed_in(personas[role]), assignment_id, "en_route").status_code == 403


def test_a_police_client_may_not_move_assignments(police_api, cad, unit, call_types):
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    assert set_status(police_api, assignment_id, "en_route").status_code == 403


def test_no_credentials_is_401(cad, unit, call_types):
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    assert set_status(APIClient(), assignment_id, "en_route").status_code == 401


def test_a_status_idempotency_key_replay_returns_the_first_answer(cad, unit, call_types):
    assignment_id = assignment_in("dispatched", cad, cad_incident(cad))
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    first = set_status(cad, assignment_id, "en_route", **key)
    events = Event.objects.count()
    again = set_status(cad, assignment_id, "en_route", **key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == events
    # Without the key the same step is a second request, for a step already taken: done, unrecorded.
    assert set_status(cad, assignment_id, "en_route").status_code == 200
    assert Event.objects.count() == events


# --- assign -----------------------------------------------------------------------------------
def test_assign_answers_201_with_the_contracts_assignment(cad, unit, call_types):
    incident_id = cad_incident(cad)
    response = assign(cad, incident_id)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert {
        "id",
        "incident",
        "unit",
        "status",
        "dispatched_at",
        "acknowledged_at",
        "en_route_at",
        "on_scene_at",
        "transporting_at",
        "cleared_at",
    } <= set(data)
    assert data["incident"] == incident_id
    assert data["unit"] == "CR-1"
    assert data["status"] == "dispatched"
    assert data["dispatched_at"].endswith("Z")
    for name in ["acknowledged_at", "en_route_at", "on_scene_at", "transporting_at", "cleared_at"]:
        assert data[name] is None
    unit.refresh_from_db()
    assert unit.status == "dispatched"
    assert Incident.objects.get(pk=incident_id).status == "assigned"
    created = Event.objects.get(type="assignment.created")
    assert created.unit == unit
    assert created.data["id"] == data["id"]


def test_an_api_assign_of_a_call_waiting_for_a_clinician_closes_its_transfer(cad, unit, call_types):
    incident_id = cad_incident(cad)
    services.incident_transfer_to_clinician(incident_id=incident_id, actor=None)
    assert assign(cad, incident_id).status_code == 201
    transfer = ClinicianTransfer.objects.get(incident_id=incident_id)
    assert transfer.outcome == ClinicianTransfer.Outcome.DISPATCHED
    assert transfer.closed_at is not None


def test_cancelling_a_call_waiting_for_a_clinician_closes_its_transfer(cad, call_types):
    incident_id = cad_incident(cad)
    services.incident_transfer_to_clinician(incident_id=incident_id, actor=None)
    response = post(cad, "/api/v1/incidents/", incident_body() | {"cancelled": True})
    assert response.status_code == 200, response.json()
    transfer = ClinicianTransfer.objects.get(incident_id=incident_id)
    assert transfer.outcome == ClinicianTransfer.Outcome.CANCELLED
    assert transfer.closed_at is not None


@pytest.mark.parametrize("status", ["dispatched", "on_scene", "out_of_service", "off_duty"])
def test_a_unit_that_is_not_available_is_409_unit_unavailable(status, cad, call_types):
    UnitFactory(callsign="CR-1", status=status)
    incident_id = cad_incident(cad)
    events = Event.objects.count()
    response = assign(cad, incident_id)
    assert response.status_code == 409
    assert response.json()["code"] == "unit_unavailable"
    assert not Assignment.objects.exists()
    assert Event.objects.count() == events
    assert Incident.objects.get(pk=incident_id).status == "pending"


def test_a_busy_unit_cannot_take_a_second_incident(cad, unit, call_types):
    assert assign(cad, cad_incident(cad, external_id="A")).status_code == 201
    response = assign(cad, cad_incident(cad, external_id="B"))
    assert response.status_code == 409
    assert response.json()["code"] == "unit_unavailable"


@pytest.mark.parametrize("how", ["cancelled", "closed"])
def test_a_closed_or_cancelled_incident_is_409_incident_not_open(how, cad, unit, call_types):
    incident_id = cad_incident(cad)
    if how == "cancelled":
        services.incident_cancel(incident=Incident.objects.get(pk=incident_id), actor=None)
    else:
        assignment_in("cleared", cad, incident_id)
    UnitFactory(callsign="CR-2")
    response = assign(cad, incident_id, "CR-2")
    assert response.status_code == 409
    assert response.json()["code"] == "incident_not_open"


def test_an_incident_with_an_active_assignment_is_409_already_assigned(cad, unit, call_types):
    incident_id = cad_incident(cad)
    assert assign(cad, incident_id).status_code == 201
    UnitFactory(callsign="CR-2")
    response = assign(cad, incident_id, "CR-2")
    assert response.status_code == 409
    assert response.json()["code"] == "already_assigned"
    assert Unit.objects.get(callsign="CR-2").status == "available"


def assign_cancel_and_assign_again(dispatcher_api, incident, unit):
    """Assign, take the assignment back behind the API's back, and assign the same unit again."""
    first = assign(dispatcher_api, incident.pk).json()["id"]
    Assignment.objects.filter(pk=first).update(status="cancelled")
    Unit.objects.filter(pk=unit.pk).update(status="available")
    Incident.objects.filter(pk=incident.pk).update(status="pending")
    assert assign(dispatcher_api, incident.pk).status_code == 201


def test_a_cancelled_assignment_does_not_block_a_new_one(dispatcher_api, unit, call_types):
    incident = factories.incident()
    assign_cancel_and_assign_again(dispatcher_api, incident, unit)


@pytest.mark.parametrize("override", [None, "", "   "])
def test_an_ineligible_incident_needs_an_override_reason(override, cad, unit, call_types):
    incident_id = cad_incident(cad, weapons=True)
    extra = {} if override is None else {"override_reason": override}
    response = assign(cad, incident_id, **extra)
    assert response.status_code == 409
    assert response.json()["code"] == "not_eligible"
    assert "weapons" in response.json()["detail"]
    assert not Assignment.objects.exists()


def test_an_override_reason_sends_a_team_to_an_ineligible_incident_and_is_recorded(cad, unit, call_types):
    incident_id = cad_incident(cad, call_type="ASSAULT")
    response = assign(cad, incident_id, override_reason="Caller known to the team; officer on scene.")
    assert response.status_code == 201, response.json()
    assert response.json()["override_reason"] == "Caller known to the team; officer on scene."
    change = Incident.objects.get(pk=incident_id).changes.filter(kind="status").get()
    assert change.changes["override_reason"][1].startswith("Caller known")


def test_an_unknown_unit_is_400(cad, call_types):
    incident_id = cad_incident(cad)
    response = assign(cad, incident_id, "CR-404")
    assert response.status_code == 400
    assert "unit" in response.json()


@pytest.mark.parametrize("payload", [{}, {"unit": 1}, {"unit": "CR-1", "override_reason": 5}])
def test_a_bad_assign_body_is_400(payload, cad, unit, call_types):
    incident_id = cad_incident(cad)
    response = post(cad, f"/api/v1/incidents/{incident_id}/assign", payload)
    assert response.status_code == 400
    assert not Assignment.objects.exists()


def test_an_unknown_or_foreign_incident_is_404(cad, cad2, unit, call_types):
    assert assign(cad, uuid.uuid4()).status_code == 404
    assert assign(cad2, cad_incident(cad)).status_code == 404


def test_a_foreign_incident_is_404_whatever_the_body_or_unit(cad, cad2, unit, call_types):
    incident_id = cad_incident(cad)
    assert post(cad2, f"/api/v1/incidents/{incident_id}/assign", {"unit": 1}).status_code == 404
    assert assign(cad2, incident_id, "CR-404").status_code == 404
    assert not Assignment.objects.exists()


def test_an_unknown_unit_is_400_even_on_an_incident_that_is_not_open(cad, unit, call_types):
    incident_id = cad_incident(cad)
    services.incident_cancel(incident=Incident.objects.get(pk=incident_id), actor=None)
    response = assign(cad, incident_id, "CR-404")
    assert response.status_code == 400
    assert response.json() == {"unit": ["No unit 'CR-404'."]}


def test_the_assignment_event_carries_the_incident_as_the_api_shows_it(dispatcher_api, unit, call_types):
    incident = factories.incident()
    assign_cancel_and_assign_again(dispatcher_api, incident, unit)
    shown = dispatcher_api.get(f"/api/v1/incidents/{incident.pk}/").json()
    created = Event.objects.filter(type="assignment.created").latest("id")
    updated = Event.objects.filter(type="incident.updated").latest("id")
    assert [a["status"] for a in shown["assignments"]] == ["cancelled", "dispatched"]
    assert created.data["incident"] == updated.data == shown


def assign_statements(cad, unit, personas, received_at) -> list[str]:
    """The SQL of one API assign of a call received at `received_at`, besides BEGIN and COMMIT,
    with the unit's two responders on shift."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for responder in (personas["responder"], factories.UserFactory(roles=["responder"])):
        Shift.objects.create(unit=unit, user=responder, started_at=timezone.now())
    response = post(cad, "/api/v1/incidents/", incident_body(received_at=received_at))
    assert response.status_code == 201, response.json()
    with CaptureQueriesContext(connection) as queries:
        assert assign(cad, response.json()["id"]).status_code == 201
    return [
        q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")
    ]


@pytest.mark.django_db(transaction=True)
def test_an_assign_of_a_call_received_today_stays_within_its_query_budget(
    cad, unit, call_types, personas, settings, midday
):
    """The assign is the path a tablet waits on (bench/push_latency.py). It was 22 statements
    (25 on PostgreSQL) besides BEGIN and COMMIT; each one back would cost every assign a round trip.

    The budget, 11 (12 on PostgreSQL): the API client; the incident, locked; the unit, locked;
    the incident's assignments; four writes (the assignment, the incident, its history, the
    unit); who is on shift with the unit; (the lock that orders event ids;) the newest event
    ids; the three events in one INSERT. Today is never a kept report day, so no day's version
    is raised."""
    statements = assign_statements(cad, unit, personas, received_at=timezone.now())
    budget = 12 if settings.USING_POSTGRES else 11
    assert len(statements) <= budget, "\n".join(statements)


@pytest.mark.django_db(transaction=True)
def test_an_assign_of_a_call_received_on_an_earlier_day_stays_within_its_query_budget(
    cad, unit, call_types, personas, settings, midday
):
    """A call from an earlier day (a CAD catching up, a call held overnight) costs more: that
    day's report sums may be kept, so each write the reports read (the assignment, then the
    incident) raises the day's version and reads the call's follow-ups, whose days a filtered
    report counts by the call (the report-day signals).

    The budget, 16 on PostgreSQL: the 12 of a call received today, and twice (for the
    assignment and for the incident) the follow-ups read and the day's version raised together
    with its report-cell mark (one statement, dispatch.reports.sums._raise_and_mark). 17 on
    SQLite: its 11, and there the mark is a statement of its own (SQLite has no data-modifying
    WITH), so each write costs three."""
    statements = assign_statements(cad, unit, personas, received_at=timezone.now() - timedelta(days=3))
    budget = 16 if settings.USING_POSTGRES else 17
    assert len(statements) <= budget, "\n".join(statements)


@pytest.mark.parametrize("role", ["responder", "police_officer", "case_manager"])
def test_only_dispatch_and_cads_may_assign(role, personas, unit, call_types):
    incident = factories.incident()
    assert assign(signed_in(personas[role]), incident.pk).status_code == 403
    assert assign(signed_in(personas["supervisor"]), incident.pk).status_code == 201


def test_an_assign_idempotency_key_replay_returns_the_first_answer(cad, unit, call_types):
    incident_id = cad_incident(cad)
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    first = assign(cad, incident_id, headers=key)
    events = Event.objects.count()
    again = assign(cad, incident_id, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Assignment.objects.count() == 1
    assert Event.objects.count() == events


# --- units ------------------------------------------------------------------------------------
def test_units_list_their_status_members_on_shift_and_location(dispatcher_api, personas):
    now = timezone.now()
    cr1 = UnitFactory(callsign="CR-1", latitude=39.75, longitude=-104.99, location_at=now)
    UnitFactory(callsign="CR-2", status="off_duty")
    maya = factories.UserFactory(username="maya", first_name="Maya", last_name="Ortiz", roles=["responder"])
    left = factories.UserFactory(username="left", first_name="Gone", last_name="Home", roles=["responder"])
    Shift.objects.create(unit=cr1, user=maya, started_at=now)
    Shift.objects.create(unit=cr1, user=left, started_at=now, ended_at=now)
    response = dispatcher_api.get("/api/v1/units/")
    assert response.status_code == 200
    units = response.json()
    assert [u["callsign"] for u in units] == ["CR-1", "CR-2"]
    first, second = units
    assert first["status"] == "available"
    assert first["members"] == ["Maya Ortiz"]
    assert first["location"]["latitude"] == 39.75
    assert first["location"]["longitude"] == -104.99
    assert first["location"]["at"].endswith("Z")
    assert second == {**second, "status": "off_duty", "location": None, "members": []}


def test_an_assigns_unit_event_names_its_members_on_shift_as_the_units_list_does(cad, call_types):
    now = timezone.now()
    cr1 = UnitFactory(callsign="CR-1")
    maya = factories.UserFactory(username="maya", first_name="Maya", last_name="Ortiz", roles=["responder"])
    nameless = factories.UserFactory(username="jo", first_name="", last_name="", roles=["responder"])
    gone = factories.UserFactory(username="gone", first_name="Gone", last_name="Home", roles=["responder"])
    Shift.objects.create(unit=cr1, user=nameless, started_at=now - timedelta(minutes=5))
    Shift.objects.create(unit=cr1, user=maya, started_at=now - timedelta(minutes=10))
    Shift.objects.create(unit=cr1, user=gone, started_at=now - timedelta(hours=9), ended_at=now)
    assert assign(cad, cad_incident(cad)).status_code == 201
    event = Event.objects.filter(type="unit.updated").latest("id")
    # First on shift first; a responder without a name by their username; nobody whose shift ended.
    assert event.data["members"] == ["Maya Ortiz", "jo"]
    listed = APIClient()
    listed.force_authenticate(factories.UserFactory(roles=["dispatcher"]))
    assert listed.get("/api/v1/units/").json()[0]["members"] == event.data["members"]


def test_units_are_readable_by_a_cad_and_not_by_a_responder_or_police(cad, police_api, personas, unit):
    assert cad.get("/api/v1/units/").status_code == 200
    assert signed_in(personas["responder"]).get("/api/v1/units/").status_code == 403
    assert police_api.get("/api/v1/units/").status_code == 403
    assert APIClient().get("/api/v1/units/").status_code == 401
