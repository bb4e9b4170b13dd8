"""When a step happened (CONTRACT.md 1.1): every tablet write and the integration API's status
endpoint take `at`; the step keeps it, the server's receipt is kept beside it, an `at` too far
ahead or before the previous step is a 400 with the reason, and the reports measure the tapped
time, so a call worked in a dead zone has its real response time."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services as dispatch_services
from dispatch.models import Alert, Assignment, Event, Incident, Unit
from dispatch.reports import engine, sections
from dispatch.timestamps import utc_iso
from field.models import BackupRequest, Outcome
from tests import factories

pytestmark = pytest.mark.django_db

OUTCOME = {
    "disposition": "resolved_on_scene",
    "people_contacted": 1,
    "police_involvement": "none",
    "ems_involvement": "none",
}


@pytest.fixture
def unit(db):
    return factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)


@pytest.fixture
def tablet(personas, unit, call_types):
    dispatch_services.shift_start(user=personas["responder"], unit_id=unit.pk)
    api = APIClient()
    api.force_login(personas["responder"])
    return api


def ms(moment):
    """A moment as a tablet sends it: to the millisecond."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def dispatched(unit, **incident_fields) -> Assignment:
    incident = factories.incident(**incident_fields)
    return dispatch_services.assignment_create(incident_id=incident.pk, callsign=unit.callsign, actor=None)


def post(api, url, body):
    return api.post(url, json.dumps(body), content_type="application/json")


def status(api, assignment, step, at=None, prefix="/field/api"):
    body = {"status": step, **({"at": utc_iso(at)} if at else {})}
    if step == "transporting":
        body["destination"] = "Crisis centre"
    return post(api, f"{prefix}/assignments/{assignment.pk}/status", body)


def test_steps_sent_late_keep_the_moment_they_were_tapped_and_their_receipt(tablet, unit):
    assignment = dispatched(unit)
    now = timezone.now()
    en_route, on_scene = ms(now - timedelta(minutes=9)), ms(now - timedelta(minutes=2))
    Assignment.objects.filter(pk=assignment.pk).update(dispatched_at=now - timedelta(minutes=10))
    assert status(tablet, assignment, "en_route", en_route).status_code == 200
    answer = status(tablet, assignment, "on_scene", on_scene).json()
    assert timezone.datetime.fromisoformat(answer["on_scene_at"]) == on_scene
    assignment.refresh_from_db()
    assert (assignment.en_route_at, assignment.on_scene_at) == (en_route, on_scene)
    # The receipt, kept beside: when the replay reached the server, not when it was tapped.
    receipts = assignment.step_receipts
    assert set(receipts) == {"en_route_at", "on_scene_at"}
    assert all(timezone.datetime.fromisoformat(r) >= now for r in receipts.values())
    # A step without `at` happened when it arrived, and has no receipt of its own.
    assert status(tablet, assignment, "cleared").status_code == 200
    assignment.refresh_from_db()
    assert assignment.cleared_at >= now and "cleared_at" not in assignment.step_receipts


def test_an_offline_steps_response_time_is_the_tapped_time(tablet, unit, midday):
    assignment = dispatched(unit)
    tapped = ms(timezone.now() - timedelta(minutes=20))
    Assignment.objects.filter(pk=assignment.pk).update(dispatched_at=tapped - timedelta(minutes=1))
    Incident.objects.filter(pk=assignment.incident_id).update(received_at=tapped - timedelta(minutes=2))
    # En route, on scene seven minutes later, clear ten after that: all sent at once, now.
    for step, minutes in (("en_route", 0), ("on_scene", 7), ("cleared", 17)):
        assert status(tablet, assignment, step, tapped + timedelta(minutes=minutes)).status_code == 200
    rows = {row["key"]: row for row in sections.response_times(engine.ReportFilters.default())}
    assert rows["en_route_to_on_scene"]["median"] == 7 * 60
    assert rows["dispatched_to_on_scene"]["median"] == 8 * 60
    assert rows["received_to_on_scene"]["median"] == 9 * 60
    assert rows["time_on_scene"]["median"] == 10 * 60


@pytest.mark.parametrize(
    "at, reason",
    [
        (lambda now, a: now + timedelta(minutes=3), "ahead of the server's clock"),
        (lambda now, a: a.dispatched_at - timedelta(seconds=1), "before the assignment's previous step"),
    ],
    ids=["three_minutes_ahead", "before_dispatch"],
)
def test_an_at_too_far_ahead_or_before_the_previous_step_is_400_and_changes_nothing(
    tablet, cad, unit, at, reason
):
    assignment = dispatched(unit)
    events = Event.objects.count()
    moment = at(timezone.now(), assignment)
    for prefix, api in (("/field/api", tablet), ("/api/v1", cad_sees(cad, assignment))):
        response = status(api, assignment, "en_route", moment, prefix=prefix)
        assert response.status_code == 400, response.json()
        assert list(response.json()) == ["at"] and reason in response.json()["at"][0]
    assignment.refresh_from_db()
    assert assignment.status == "dispatched" and assignment.en_route_at is None
    assert Event.objects.count() == events


def cad_sees(cad, assignment):
    """The CAD client sees the assignments of incidents it sent: hand it this one."""
    Incident.objects.filter(pk=assignment.incident_id).update(api_client=cad.api_client, external_id="X-1")
    return cad


def test_two_minutes_ahead_is_a_drifting_clock_and_accepted(tablet, unit):
    assignment = dispatched(unit)
    ahead = timezone.now() + timedelta(seconds=110)
    assert status(tablet, assignment, "en_route", ahead).status_code == 200


def test_the_integration_api_takes_at_too(cad, unit, call_types):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.AVAILABLE)
    body = factories.cad_incident_body(received_at=timezone.now() - timedelta(minutes=5))
    incident = post(cad, "/api/v1/incidents/", body).json()
    assignment = post(cad, f"/api/v1/incidents/{incident['id']}/assign", {"unit": "CR-1"}).json()
    at = ms(timezone.now() - timedelta(seconds=1))
    Assignment.objects.filter(pk=assignment["id"]).update(dispatched_at=at - timedelta(seconds=30))
    response = post(
        cad, f"/api/v1/assignments/{assignment['id']}/status", {"status": "en_route", "at": utc_iso(at)}
    )
    assert response.status_code == 200
    assert timezone.datetime.fromisoformat(response.json()["en_route_at"]) == at
    bad = post(
        cad, f"/api/v1/assignments/{assignment['id']}/status", {"status": "on_scene", "at": "yesterday"}
    )
    assert bad.status_code == 400 and "at" in bad.json()


def test_an_outcome_backup_encounter_and_acknowledgement_keep_their_moment(tablet, unit, personas):
    assignment = dispatched(unit)
    now = timezone.now()
    Assignment.objects.filter(pk=assignment.pk).update(dispatched_at=now - timedelta(minutes=30))
    acked = ms(now - timedelta(minutes=29))
    assert (
        post(tablet, f"/field/api/assignments/{assignment.pk}/ack", {"at": utc_iso(acked)}).status_code == 200
    )
    backup_at = ms(now - timedelta(minutes=20))
    assert (
        post(
            tablet, "/field/api/backup", {"kind": "police", "urgent": False, "at": utc_iso(backup_at)}
        ).status_code
        == 201
    )
    status(tablet, assignment, "en_route", now - timedelta(minutes=28))
    status(tablet, assignment, "on_scene", now - timedelta(minutes=25))
    saved = ms(now - timedelta(minutes=5))
    response = post(
        tablet, f"/field/api/assignments/{assignment.pk}/outcome", {**OUTCOME, "at": utc_iso(saved)}
    )
    assert response.status_code == 201, response.json()

    assignment.refresh_from_db()
    assert assignment.acknowledged_at == acked and "acknowledged_at" in assignment.step_receipts
    # The outcome ended the call: the clear is the moment it was saved.
    assert assignment.cleared_at == saved and assignment.incident.closed_at == saved
    outcome = Outcome.objects.get()
    assert outcome.recorded_at == saved and outcome.received_at >= now
    backup = BackupRequest.objects.get()
    assert backup.requested_at == backup_at and backup.received_at >= now and backup.assignment == assignment
    assert "the tablet was offline" in Alert.objects.get(kind=Alert.Kind.BACKUP).message

    encounter_at = ms(now - timedelta(minutes=1))
    body = {"id": str(uuid.uuid4()), "address": "Civic Center Park", "at": utc_iso(encounter_at)}
    response = post(tablet, "/field/api/encounters", body)
    assert response.status_code == 201, response.json()
    encounter = Assignment.objects.get(pk=body["id"])
    assert encounter.on_scene_at == encounter_at == encounter.incident.received_at
    assert "on_scene_at" in encounter.step_receipts


def test_an_outcome_written_before_the_partner_cleared_is_kept(tablet, unit):
    assignment = dispatched(unit)
    now = timezone.now()
    Assignment.objects.filter(pk=assignment.pk).update(dispatched_at=now - timedelta(minutes=30))
    status(tablet, assignment, "en_route", now - timedelta(minutes=20))
    status(tablet, assignment, "on_scene", now - timedelta(minutes=10))
    status(tablet, assignment, "cleared")  # the partner's tablet, online, a moment ago
    written = now - timedelta(minutes=3)  # this tablet, in a dead zone, before that
    response = post(
        tablet, f"/field/api/assignments/{assignment.pk}/outcome", {**OUTCOME, "at": utc_iso(written)}
    )
    assert response.status_code == 201
    too_early = post(
        tablet,
        f"/field/api/assignments/{dispatched(unit).pk}/outcome",
        {**OUTCOME, "at": utc_iso(now - timedelta(hours=2))},
    )
    assert too_early.status_code == 409  # not on scene: refused before any time is looked at


def test_a_backup_sent_late_is_not_pinned_on_a_call_dispatched_since(tablet, unit):
    tapped = timezone.now() - timedelta(minutes=4)
    later_call = dispatched(unit)
    assert later_call.dispatched_at > tapped
    response = post(tablet, "/field/api/backup", {"kind": "ems", "urgent": True, "at": utc_iso(tapped)})
    assert response.status_code == 201
    assert BackupRequest.objects.get().assignment is None


def test_a_backup_refuses_only_an_at_far_ahead(tablet):
    ahead = timezone.now() + timedelta(minutes=5)
    response = post(tablet, "/field/api/backup", {"kind": "police", "urgent": True, "at": utc_iso(ahead)})
    assert response.status_code == 400 and list(response.json()) == ["at"]
    old = timezone.now() - timedelta(hours=3)
    assert (
        post(tablet, "/field/api/backup", {"kind": "police", "urgent": True, "at": utc_iso(old)}).status_code
        == 201
    )
