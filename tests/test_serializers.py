"""The output serializers build their answers by hand (dispatch.serializers); these tests hold
each hand-built answer equal, key for key and in order, to what DRF's own field-by-field path
makes of the same declared fields, so the two cannot drift apart. The events' timestamps are
written the same way (dispatch.timestamps.utc_iso)."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from dispatch import services
from dispatch.events import event_as_message, event_record
from dispatch.models import Assignment, Incident, Shift, Unit
from dispatch.selectors import incident_list_visible, unit_list
from dispatch.serializers import AssignmentOut, IncidentOut, UnitOut, UTCDateTimeField
from dispatch.timestamps import utc_iso
from field.models import BackupRequest
from field.services import backup_event_data
from tests import factories


class DRFAssignmentOut(AssignmentOut):
    def to_representation(self, instance):
        return serializers.ModelSerializer.to_representation(self, instance)


class DRFIncidentOut(IncidentOut):
    assignments = DRFAssignmentOut(many=True)

    def to_representation(self, instance):
        return serializers.ModelSerializer.to_representation(self, instance)


class DRFUnitOut(UnitOut):
    def to_representation(self, instance):
        return serializers.ModelSerializer.to_representation(self, instance)


def assert_same(fast: dict, reference: dict):
    assert fast == reference
    assert list(fast) == list(reference)
    for key, value in reference.items():
        if isinstance(value, dict):
            assert list(fast[key]) == list(value)


@pytest.fixture
def world(call_types, personas):
    dispatcher = personas["dispatcher"]
    units = [factories.UnitFactory(callsign=f"CR-{n}") for n in range(1, 4)]
    Unit.objects.filter(pk=units[0].pk).update(latitude=39.7, longitude=-104.9, location_at=timezone.now())
    Shift.objects.create(unit=units[0], user=personas["responder"], started_at=timezone.now())
    Shift.objects.create(
        unit=units[0], user=factories.UserFactory(first_name="", last_name=""), started_at=timezone.now()
    )
    plain = factories.incident(actor=dispatcher)
    sparse = factories.incident(
        actor=dispatcher,
        screening=(None, True, None, False),
        latitude=None,
        longitude=None,
        priority=None,
        call_type="NOSUCH",
        tandem=["police", "ems"],
        narrative="Ünïcode narrative\nwith a line break",
    )
    moving = factories.incident(actor=dispatcher, priority=1)
    assignment = services.assignment_create(incident_id=moving.pk, callsign="CR-1", actor=dispatcher)
    for status in ("en_route", "on_scene", "transporting"):
        services.assignment_set_status(
            assignment_id=assignment.pk, status=status, actor=dispatcher, destination="Denver Health"
        )
    cleared = factories.incident(actor=dispatcher)
    done = services.assignment_create(incident_id=cleared.pk, callsign="CR-2", actor=dispatcher)
    services.assignment_acknowledge(assignment_id=done.pk, actor=dispatcher)
    for status in ("en_route", "on_scene", "cleared"):
        services.assignment_set_status(assignment_id=done.pk, status=status, actor=dispatcher)
    cancelled = factories.incident(actor=dispatcher, received_at=timezone.now() - timedelta(hours=3))
    services.assignment_create(incident_id=cancelled.pk, callsign="CR-3", actor=dispatcher)
    services.incident_cancel(incident=cancelled, actor=dispatcher, reason="caller called back")
    return {"plain": plain, "sparse": sparse, "moving": moving, "cleared": cleared, "cancelled": cancelled}


@pytest.mark.django_db
def test_an_incident_is_answered_as_drf_would_answer_it(world, personas):
    incidents = incident_list_visible(personas["dispatcher"])
    assert incidents.count() == 5
    for incident in incidents:
        assert_same(dict(IncidentOut(incident).data), dict(DRFIncidentOut(incident).data))
    fast = IncidentOut(incidents, many=True).data
    assert fast == DRFIncidentOut(incidents, many=True).data


@pytest.mark.django_db
def test_an_incident_fresh_from_a_service_is_answered_as_drf_would_answer_it(world):
    # Values set in Python (TextChoices members, aware datetimes in other zones) before any reload.
    incident = Incident.objects.get(pk=world["plain"].pk)
    incident.status = Incident.Status.ASSIGNED
    incident.received_at = timezone.localtime(incident.received_at)
    assert_same(dict(IncidentOut(incident).data), dict(DRFIncidentOut(incident).data))


@pytest.mark.django_db
def test_an_assignment_is_answered_as_drf_would_answer_it(world):
    for assignment in Assignment.objects.select_related("unit"):
        assert_same(dict(AssignmentOut(assignment).data), dict(DRFAssignmentOut(assignment).data))


@pytest.mark.django_db
def test_a_unit_is_answered_as_drf_would_answer_it(world, personas):
    for unit in unit_list(personas["dispatcher"]):
        assert_same(dict(UnitOut(unit).data), dict(DRFUnitOut(unit).data))
    for unit in Unit.objects.all():  # without the members prefetched
        assert_same(dict(UnitOut(unit).data), dict(DRFUnitOut(unit).data))


# --- one timestamp format for the API and the events ---------------------------------------------
DENVER = dt_timezone(timedelta(hours=-7))
MOMENTS = [
    datetime(2026, 11, 22, 21, 3, 11, 123456, tzinfo=UTC),
    datetime(2026, 11, 22, 21, 3, 11, 123000, tzinfo=UTC),
    datetime(2026, 11, 22, 21, 3, 11, tzinfo=UTC),  # no fraction: DRF writes none
    datetime(2026, 11, 22, 14, 3, 11, 5, tzinfo=DENVER),
    datetime(2026, 11, 22, 21, 3, 11, 250),  # naive: taken as UTC, as DRF takes it here
    None,
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_a_timestamp_is_written_as_the_apis_datetime_field_writes_it(moment):
    assert utc_iso(moment) == UTCDateTimeField().to_representation(moment)


def test_a_timestamp_leaves_in_utc_with_a_z_and_its_microseconds():
    assert utc_iso(datetime(2026, 11, 22, 14, 3, 11, 123456, tzinfo=DENVER)) == "2026-11-22T21:03:11.123456Z"
    assert utc_iso(datetime(2026, 11, 22, 21, 3, 11, tzinfo=UTC)) == "2026-11-22T21:03:11Z"


@pytest.mark.django_db
def test_an_events_timestamps_are_written_as_the_api_writes_its_timestamps():
    with transaction.atomic():
        event = event_record("test.clock", {})
    event.at = event.at.replace(microsecond=654321)
    assert event_as_message(event)["at"] == UTCDateTimeField().to_representation(event.at)
    alert = services.alert_raise(kind="test", message="Check on CR-1")
    data = services.alert_event_data(alert)
    assert data["raised_at"] == UTCDateTimeField().to_representation(alert.raised_at)
    assert data["acknowledged_at"] is None
    backup = BackupRequest(unit=Unit(callsign="CR-1"), kind="police", requested_at=event.at)
    assert backup_event_data(backup)["requested_at"] == UTCDateTimeField().to_representation(event.at)
