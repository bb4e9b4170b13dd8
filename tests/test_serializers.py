"""The output serializers build their answers by hand (dispatch.serializers); these tests hold
each hand-built answer equal, key for key and in order, to what DRF's own field-by-field path
makes of the same declared fields, so the two cannot drift apart."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from dispatch import services
from dispatch.models import Assignment, Incident, Shift, Unit
from dispatch.selectors import incident_list_visible, unit_list
from dispatch.serializers import AssignmentOut, IncidentOut, UnitOut
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
def test_a_unit_is_answered_as_drf_would_answer_it(world):
    for unit in unit_list():
        assert_same(dict(UnitOut(unit).data), dict(DRFUnitOut(unit).data))
    for unit in Unit.objects.all():  # without the members prefetched
        assert_same(dict(UnitOut(unit).data), dict(DRFUnitOut(unit).data))
