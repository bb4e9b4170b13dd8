"""Assignments: a unit sent to an incident, its steps to the scene and back, its acknowledgement."""

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch.events import EventType, event_record, events_record
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    Assignment,
    ClinicianTransfer,
    Event,
    Incident,
    IncidentChange,
    Unit,
)
from dispatch.services.conflicts import ServiceConflict, ServiceInvalid
from dispatch.services.incidents import incident_close, transfer_close
from dispatch.services.payloads import assignment_event_data, incident_event_data, unit_event_data
from dispatch.services.units import unit_set_status


def assignment_for_update(assignment_id) -> Assignment:
    """The assignment, locked in the one order every service uses: its incident, then the
    assignment (then, where a service needs it, the unit). Raises Assignment.DoesNotExist."""
    incident_id = Assignment.objects.values_list("incident_id", flat=True).get(pk=assignment_id)
    Incident.objects.select_for_update().get(pk=incident_id)
    return Assignment.objects.select_for_update().select_related("incident").get(pk=assignment_id)


def _events_record(type: str, assignment, unit, *, unit_changed: bool, incident_data: dict) -> None:
    """An assignment's change as its events, in one INSERT: the unit's (when its status
    changed), the assignment's, and the incident's."""
    events_record(
        [
            *([(EventType.UNIT_UPDATED, unit_event_data(unit), unit)] if unit_changed else []),
            (type, assignment_event_data(assignment, incident_data), unit),
            (EventType.INCIDENT_UPDATED, incident_data, None),
        ]
    )


def assignment_create(
    *,
    incident_id,
    callsign: str,
    actor,
    override_reason: str = "",
    incidents=None,
    arrived: bool = False,
    assignment_id: uuid.UUID | None = None,
) -> Assignment:
    """Send a unit to an incident.

    `incidents` narrows which incidents the caller may assign (the API passes what
    dispatch.selectors says the caller may see); an incident outside it, or none with that
    id, raises Incident.DoesNotExist, and a callsign no unit has raises Unit.DoesNotExist,
    before any of the refusals. Refuses with: `incident_not_open` (closed or cancelled),
    `already_assigned` (the incident has an active assignment), `not_eligible` (screening
    says no and no override reason was given), `unit_unavailable` (the unit is not
    available), `already_exists` (`assignment_id` names an assignment already recorded). Two
    assigns racing for one unit or one incident: row locks serialise them and the database's
    partial unique constraints stand behind the locks, so exactly one wins. A call waiting in
    the clinicians' queue leaves it: its transfer records that a team was dispatched.

    `arrived`: the team is already there (a self-initiated encounter, the tablet naming the
    assignment's id so its outcome can follow offline): the assignment starts on scene and
    acknowledged, and screening does not stand in the way of a team that stopped by itself.
    """
    override_reason = (override_reason or "").strip()
    incidents = Incident.objects.all() if incidents is None else incidents
    try:
        with transaction.atomic():
            # of=("self",): lock the incident row only, never a row joined to decide visibility
            # (or the clinician transfer read beside it).
            incident = (
                incidents.select_related(None)
                .select_related("clinician_transfer")
                .prefetch_related(None)
                .select_for_update(of=("self",))
                .get(pk=incident_id)
            )
            # Locked in the one order every service uses: incident, then unit.
            unit = Unit.objects.select_for_update().get(callsign=callsign)
            if assignment_id is not None and Assignment.objects.filter(pk=assignment_id).exists():
                raise ServiceConflict("already_exists", "That assignment was already recorded.")
            if not incident.is_open:
                raise ServiceConflict("incident_not_open", f"The incident is {incident.status}.")
            # Read under the incident's lock: every service that changes an incident's
            # assignments holds it. All of them, for the event below.
            assignments = list(
                Assignment.objects.filter(incident=incident).select_related("unit").order_by("dispatched_at")
            )
            if any(a.status in ACTIVE_ASSIGNMENT_STATUSES for a in assignments):
                raise ServiceConflict("already_assigned", "The incident already has an active assignment.")
            if not incident.eligible and not override_reason and not arrived:
                reasons = ", ".join(incident.eligibility_reasons)
                raise ServiceConflict(
                    "not_eligible",
                    f"The incident is not eligible ({reasons}); "
                    "give an override_reason to send a team anyway.",
                )
            if unit.status != Unit.Status.AVAILABLE:
                raise ServiceConflict(
                    "unit_unavailable", f"{unit.callsign} is {unit.get_status_display().lower()}."
                )
            now = timezone.now()
            assignment = Assignment.objects.create(
                id=assignment_id or uuid.uuid4(),
                incident=incident,
                unit=unit,
                status=Assignment.Status.ON_SCENE if arrived else Assignment.Status.DISPATCHED,
                dispatched_by=actor,
                dispatched_at=now,
                acknowledged_at=now if arrived else None,
                on_scene_at=now if arrived else None,
                override_reason=override_reason if not incident.eligible else "",
            )
            incident.status = Incident.Status.ASSIGNED
            incident.save(update_fields=["status", "updated_at"])
            history = {"status": ["pending", "assigned"], "unit": [None, unit.callsign]}
            if assignment.override_reason:
                history["override_reason"] = [None, assignment.override_reason]
            IncidentChange.objects.create(
                incident=incident, kind=IncidentChange.Kind.STATUS, actor=actor, changes=history
            )
            transfer = getattr(incident, "clinician_transfer", None)
            if transfer is not None:
                transfer_close(incident, ClinicianTransfer.Outcome.DISPATCHED, now=now, transfer=transfer)
            unit_changed = unit_set_status(
                unit, Assignment.UNIT_STATUS[assignment.status], now=now, announce=False
            )
            incident_data = incident_event_data(incident, [*assignments, assignment])
            _events_record(
                EventType.ASSIGNMENT_CREATED,
                assignment,
                unit,
                unit_changed=unit_changed,
                incident_data=incident_data,
            )
            return assignment
    except IntegrityError as exc:
        if assignment_id is not None and Assignment.objects.filter(pk=assignment_id).exists():
            raise ServiceConflict("already_exists", "That assignment was already recorded.") from exc
        # Only reachable if a lock was bypassed; the constraint still keeps one winner.
        raise ServiceConflict("already_assigned", "Another assignment won the race.") from exc


def assignment_set_status(*, assignment_id, status: str, actor, destination: str = "") -> Assignment:
    """Move an assignment one step along Assignment.TRANSITIONS. Refuses with
    `assignment_cancelled` (dispatch cancelled it: it takes no more steps) and
    `illegal_transition` (any other step the table does not allow); a transport without a
    destination is invalid input (ServiceInvalid on `destination`), on every path. Clearing
    closes the incident and frees the unit."""
    with transaction.atomic():
        assignment = assignment_for_update(assignment_id)
        assignment_step(assignment, status, actor=actor, destination=destination)
    return assignment


def assignment_step(assignment: Assignment, status: str, *, actor, destination: str = "") -> None:
    """assignment_set_status on an assignment the caller's transaction holds locked
    (assignment_for_update): the one place a step is checked and written."""
    if assignment.status == Assignment.Status.CANCELLED:
        raise ServiceConflict("assignment_cancelled", "Dispatch cancelled this assignment.")
    allowed = Assignment.TRANSITIONS.get(assignment.status, ())
    if status not in allowed:
        raise ServiceConflict(
            "illegal_transition",
            f"Cannot go from {assignment.status} to {status}; allowed: {', '.join(allowed) or 'none'}.",
        )
    destination = (destination or "").strip()
    if status == Assignment.Status.TRANSPORTING and not destination:
        raise ServiceInvalid("destination", "Say where the person is being transported to.")
    now = timezone.now()
    assignment.status = status
    setattr(assignment, Assignment.TIMESTAMP_OF[status], now)
    fields = ["status", Assignment.TIMESTAMP_OF[status]]
    if status == Assignment.Status.TRANSPORTING:
        assignment.transport_destination = destination[:200]
        fields.append("transport_destination")
    assignment.save(update_fields=fields)
    incident = assignment.incident
    if status == Assignment.Status.CLEARED:
        incident_close(incident, actor=actor, now=now, changes={})
    unit = Unit.objects.select_for_update().get(pk=assignment.unit_id)
    unit_changed = unit_set_status(unit, Assignment.UNIT_STATUS[status], now=now, announce=False)
    assignment.unit = unit
    _events_record(
        EventType.ASSIGNMENT_UPDATED,
        assignment,
        unit,
        unit_changed=unit_changed,
        incident_data=incident_event_data(incident),
    )


def assignment_acknowledge(*, assignment_id, actor) -> Assignment:
    """Record that the tablet has shown the assignment; the first acknowledgement counts."""
    with transaction.atomic():
        assignment = assignment_for_update(assignment_id)
        if assignment.acknowledged_at is None:
            assignment.acknowledged_at = timezone.now()
            assignment.save(update_fields=["acknowledged_at"])
            event_record(
                EventType.ASSIGNMENT_UPDATED, assignment_event_data(assignment), unit=assignment.unit
            )
    return assignment


def assignment_acknowledge_event(*, event_id: int, unit_id, user) -> str | None:
    """The tablet's `ack` of an `assignment.created` event. Returns None when recorded, or
    an error code when the event is not one this tablet may acknowledge."""
    event = Event.objects.filter(pk=event_id, unit_id=unit_id, type=EventType.ASSIGNMENT_CREATED).first()
    if unit_id is None or event is None:
        return "not_found"
    assignment_id = event.data.get("id")
    if not Assignment.objects.filter(pk=assignment_id, unit_id=unit_id).exists():
        return "not_found"
    assignment_acknowledge(assignment_id=assignment_id, actor=user)
    return None
