"""Units: their status, their position, and how a change to one is told."""

from django.db import transaction
from django.utils import timezone

from dispatch.events import EventType, event_record
from dispatch.models import Unit
from dispatch.services.payloads import unit_event_data


def unit_set_status(unit: Unit, status: str, *, now=None, announce: bool = True) -> bool:
    """Change a unit's status inside the caller's transaction and tell everyone who watches it.
    Returns whether it changed; with `announce=False` the caller records the unit.updated
    event itself (unit_event_data), beside its own."""
    now = now or timezone.now()
    if unit.status == status:
        return False
    unit.status = status
    unit.status_changed_at = now
    if status == Unit.Status.AVAILABLE:
        unit.available_since = now
    unit.save(update_fields=["status", "status_changed_at", "available_since"])
    if announce:
        unit_announce(unit)
    return True


def unit_announce(unit: Unit) -> None:
    """Tell the unit's tablets and every console how the unit stands now (status, position,
    who is on it); inside the caller's transaction, sent after commit."""
    event_record(EventType.UNIT_UPDATED, unit_event_data(unit), unit=unit)


def unit_report_location(*, unit_id, latitude: float, longitude: float) -> Unit:
    """Store where the unit's tablet is and tell dispatch (recommendations use it)."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        unit.latitude = latitude
        unit.longitude = longitude
        unit.location_at = timezone.now()
        unit.save(update_fields=["latitude", "longitude", "location_at"])
        unit_announce(unit)
    return unit
