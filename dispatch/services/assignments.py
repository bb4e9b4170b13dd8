"""Assignments: a unit sent to an incident, its steps to the scene and back, its acknowledgement."""

import uuid
from datetime import datetime, timedelta

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
from dispatch.services.programs import program_same
from dispatch.services.units import unit_set_status
from dispatch.timestamps import utc_iso


def assignment_for_update(assignment_id) -> Assignment:
    """The assignment, locked in the one order every service uses: its incident, then the
    assignment (then, where a service needs it, the unit). Raises Assignment.DoesNotExist."""
    incident_id = Assignment.objects.values_list("incident_id", flat=True).get(pk=assignment_id)
    Incident.objects.select_for_update().get(pk=incident_id)
    return Assignment.objects.select_for_update().select_related("incident").get(pk=assignment_id)


# How far ahead of the server's clock a device's `at` may be (CONTRACT.md "When a step happened"):
# a tablet's clock drifts a little; more than this is a wrong clock, not a late step.
AT_AHEAD_AT_MOST = timedelta(minutes=2)
# The steps an assignment moves through, in order: `at` may not go back past the latest of them.
STEP_TIMESTAMPS = ("dispatched_at", "en_route_at", "on_scene_at", "transporting_at", "cleared_at")


def assignment_latest_step(assignment: Assignment, *, before: str | None = None) -> tuple[str, datetime]:
    """The assignment's latest step so far, (timestamp field, moment); with `before`, the
    latest of the steps up to that one, excluded."""
    names = STEP_TIMESTAMPS if before is None else STEP_TIMESTAMPS[: STEP_TIMESTAMPS.index(before)]
    reached = [(name, getattr(assignment, name)) for name in names if getattr(assignment, name)]
    return max(reached, key=lambda pair: pair[1])


def moment_check(
    at: datetime | None, *, now: datetime, after: tuple[str, datetime] | None = None
) -> datetime:
    """When a change sent by a device happened: its `at`, or `now` when it sent none. Refuses
    (ServiceInvalid on `at`) a moment more than AT_AHEAD_AT_MOST ahead of the server's clock,
    and one before `after` (the previous step: a timestamp field's name and its moment)."""
    if at is None:
        return now
    if at > now + AT_AHEAD_AT_MOST:
        raise ServiceInvalid(
            "at",
            f"{utc_iso(at)} is {int((at - now).total_seconds())} s ahead of the server's clock "
            f"({utc_iso(now)}); at most 2 minutes ahead is accepted. Check the device's clock.",
        )
    if after is not None and at < after[1]:
        step = after[0].removesuffix("_at").replace("_", " ")
        raise ServiceInvalid(
            "at", f"{utc_iso(at)} is before the assignment's previous step ({step} at {utc_iso(after[1])})."
        )
    return at


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
    at: datetime | None = None,
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
    With `at` (only for an arrived assignment: a tablet's encounter sent late), its steps
    are timestamped then, checked by moment_check, and the receipt is kept in step_receipts.
    """
    if at is not None and not arrived:
        raise ValueError("only an arrived assignment takes `at`: dispatch happens on the server")
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
            # A team of one program never goes to another's call, whoever sends it.
            program_same(incident.program_id, unit, unit.callsign, field="unit")
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
            moment = moment_check(at, now=now)
            steps = ("dispatched_at", "acknowledged_at", "on_scene_at") if arrived else ("dispatched_at",)
            assignment = Assignment.objects.create(
                id=assignment_id or uuid.uuid4(),
                program_id=incident.program_id,
                incident=incident,
                unit=unit,
                status=Assignment.Status.ON_SCENE if arrived else Assignment.Status.DISPATCHED,
                dispatched_by=actor,
                override_reason=override_reason if not incident.eligible else "",
                step_receipts={name: utc_iso(now) for name in steps} if at is not None else {},
                **dict.fromkeys(steps, moment),
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


def assignment_set_status(
    *, assignment_id, status: str, actor, destination: str = "", at: datetime | None = None
) -> Assignment:
    """Move an assignment one step along Assignment.TRANSITIONS (see assignment_step for what
    it promises and refuses). Clearing closes the incident and frees the unit."""
    with transaction.atomic():
        assignment = assignment_for_update(assignment_id)
        assignment_step(assignment, status, actor=actor, destination=destination, at=at)
    return assignment


def assignment_step(
    assignment: Assignment, status: str, *, actor, destination: str = "", at: datetime | None = None
) -> bool:
    """assignment_set_status on an assignment the caller's transaction holds locked
    (assignment_for_update): the one place a step is checked and written.

    The step is timestamped `at` (when it happened on the device, for a step sent late) or
    now; a step sent with `at` keeps its receipt time in step_receipts. A step the assignment
    has already reached (a double tap, a replay, the partner's tablet first) is done: it
    changes nothing, records no event and returns False; a written step returns True.

    Refuses with `assignment_cancelled` (dispatch cancelled it: it takes no more steps) and
    `illegal_transition` (any other step the table does not allow); invalid input, on every
    path: a transport without a destination (ServiceInvalid on `destination`), and an `at`
    more than 2 minutes ahead of the server's clock or before the previous step (on `at`)."""
    if assignment.status == Assignment.Status.CANCELLED:
        raise ServiceConflict("assignment_cancelled", "Dispatch cancelled this assignment.")
    timestamp = Assignment.TIMESTAMP_OF[status]
    if getattr(assignment, timestamp, None) is not None:
        return False
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
    moment = moment_check(at, now=now, after=assignment_latest_step(assignment))
    assignment.status = status
    setattr(assignment, timestamp, moment)
    fields = ["status", timestamp]
    if at is not None:
        assignment.step_receipts = {**assignment.step_receipts, timestamp: utc_iso(now)}
        fields.append("step_receipts")
    if status == Assignment.Status.TRANSPORTING:
        assignment.transport_destination = destination[:200]
        fields.append("transport_destination")
    assignment.save(update_fields=fields)
    incident = assignment.incident
    if status == Assignment.Status.CLEARED:
        incident_close(incident, actor=actor, now=moment, changes={})
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
    return True


def assignment_acknowledge(*, assignment_id, actor, at: datetime | None = None) -> Assignment:
    """Record that the tablet has shown the assignment, at `at` (sent late) or now; the first
    acknowledgement counts. Refuses (ServiceInvalid on `at`) an `at` more than 2 minutes
    ahead of the server's clock or before the dispatch."""
    with transaction.atomic():
        assignment = assignment_for_update(assignment_id)
        if assignment.acknowledged_at is None:
            now = timezone.now()
            assignment.acknowledged_at = moment_check(
                at, now=now, after=("dispatched_at", assignment.dispatched_at)
            )
            fields = ["acknowledged_at"]
            if at is not None:
                assignment.step_receipts = {**assignment.step_receipts, "acknowledged_at": utc_iso(now)}
                fields.append("step_receipts")
            assignment.save(update_fields=fields)
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
