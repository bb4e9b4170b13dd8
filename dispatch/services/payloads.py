"""What each event carries: the records as the API shows them, built once per change."""

from dispatch.formatting import user_name
from dispatch.models import Alert, Assignment, Incident, Unit
from dispatch.programs import program_slug
from dispatch.selectors import unit_members_now
from dispatch.serializers import assignment_representation, incident_representation, unit_representation
from dispatch.timestamps import utc_iso


def incident_event_data(incident: Incident, assignments: list[Assignment] | None = None) -> dict:
    """The incident as the API shows it (pass `assignments`, with their units, when the caller
    already holds every one of the incident's assignments, to spare reading them again)."""
    return incident_representation(incident, assignments)


def assignment_event_data(assignment: Assignment, incident_data: dict | None = None) -> dict:
    """What a tablet needs to work a call: the assignment and its incident (pass
    `incident_data` when the caller has just built it, to serialise the incident once)."""
    data = assignment_representation(assignment)
    data["incident"] = (
        incident_data if incident_data is not None else incident_event_data(assignment.incident)
    )
    return data


def unit_event_data(unit: Unit) -> dict:
    """The unit as GET /api/v1/units/ shows it, members on shift included. The unit's own
    fields are taken as the caller holds them (every caller has locked the row and saved its
    change); who is on shift is read now, in the caller's transaction, so it is what will
    commit."""
    return unit_representation(unit, members=unit_members_now(unit.pk))


def alert_event_data(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "program": program_slug(alert.program_id),
        "kind": alert.kind,
        "message": alert.message,
        "urgent": alert.urgent,
        "unit": alert.unit.callsign if alert.unit_id else None,
        "assignment": str(alert.assignment_id) if alert.assignment_id else None,
        "data": alert.data,
        "raised_at": utc_iso(alert.raised_at),
        "acknowledged_at": utc_iso(alert.acknowledged_at),
        "acknowledged_by": (user_name(alert.acknowledged_by) if alert.acknowledged_by_id else None),
    }
