"""Changes to dispatch state. Each service writes, records history and events, and says what
it refuses. Views, API views and consumers call these; none of them write models directly."""

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch.events import EventType, event_record, events_record, iso
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    Alert,
    ApiClient,
    Assignment,
    CallType,
    ClinicianTransfer,
    Event,
    Incident,
    IncidentChange,
    PhoneContact,
    Unit,
)
from dispatch.roles import CLINICIAN_GROUP, HUMAN_ROLES, Role
from dispatch.screening import eligibility

User = get_user_model()


class ServiceConflict(Exception):
    """The request conflicts with the current state; `code` is CONTRACT.md's 409 code."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --- Roles ----------------------------------------------------------------------------------
# Model permissions each role's group carries (the admin and has_perm() see these; the
# product's own access rules are in dispatch.roles).
ROLE_PERMISSIONS = {
    Role.RESPONDER: ["dispatch.view_unit", "dispatch.view_assignment"],
    Role.DISPATCHER: [
        "dispatch.view_incident",
        "dispatch.add_incident",
        "dispatch.change_incident",
        "dispatch.view_unit",
        "dispatch.view_assignment",
        "dispatch.add_assignment",
        "dispatch.change_assignment",
        "dispatch.view_calltype",
    ],
    Role.POLICE_OFFICER: [],
    Role.CASE_MANAGER: [],
    Role.SUPERVISOR: [
        "dispatch.view_incident",
        "dispatch.change_incident",
        "dispatch.view_unit",
        "dispatch.add_unit",
        "dispatch.change_unit",
        "dispatch.view_assignment",
        "dispatch.view_calltype",
        "dispatch.add_calltype",
        "dispatch.change_calltype",
        "dispatch.view_screeningquestion",
        "dispatch.change_screeningquestion",
    ],
}


def roles_ensure() -> None:
    """Create the role groups with their permissions; safe to run any number of times."""
    for role in HUMAN_ROLES:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for dotted in ROLE_PERMISSIONS.get(role, []):
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm:
                wanted.append(perm)
        group.permissions.set(wanted)
    Group.objects.get_or_create(name=CLINICIAN_GROUP)


def api_client_create(name: str, role: str) -> tuple[ApiClient, str]:
    """Create an API client and its service user; returns the client and the key, shown once."""
    if role not in (Role.CAD, Role.POLICE):
        raise ValueError(f"role must be cad or police, not {role!r}")
    key = ApiClient.new_key()
    with transaction.atomic():
        user = User.objects.create(username=f"api:{name}"[:150], is_active=True)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        client = ApiClient.objects.create(
            name=name, role=role, user=user, key_hash=ApiClient.hash_key(key), key_prefix=key[:8]
        )
    return client, key


# --- Incidents ------------------------------------------------------------------------------
@dataclass
class IncidentFields:
    """Everything about an incident a caller may set, already validated."""

    source: str
    call_type_code: str
    received_at: datetime
    address: str
    priority: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_details: str = ""
    caller_name: str = ""
    caller_phone: str = ""
    narrative: str = ""
    screen_weapons: bool | None = None
    screen_violence: bool | None = None
    screen_medical_emergency: bool | None = None
    screen_police_only: bool | None = None
    tandem: list | None = None

    @classmethod
    def from_api(cls, data: dict, existing: Incident | None = None) -> "IncidentFields":
        """From IncidentIn's validated data. Optional blocks left out of an update keep their
        stored values; everything the contract requires is always present."""

        def keep(attr, default):
            return getattr(existing, attr) if existing is not None else default

        location = data["location"]
        caller = data.get("caller")
        screening = data["screening"]
        return cls(
            source=data["source"],
            call_type_code=data["call_type"],
            received_at=data["received_at"],
            address=location["address"],
            latitude=location.get("latitude"),
            longitude=location.get("longitude"),
            location_details=location.get("details", ""),
            priority=data["priority"] if "priority" in data else keep("priority", None),
            caller_name=caller.get("name", "") if caller is not None else keep("caller_name", ""),
            caller_phone=caller.get("phone", "") if caller is not None else keep("caller_phone", ""),
            narrative=data["narrative"] if "narrative" in data else keep("narrative", ""),
            screen_weapons=screening.get("weapons"),
            screen_violence=screening.get("violence"),
            screen_medical_emergency=screening.get("medical_emergency"),
            screen_police_only=screening.get("police_only"),
            tandem=data["tandem"] if "tandem" in data else keep("tandem", []),
        )


def _call_type_match(code: str) -> CallType | None:
    return CallType.objects.filter(code__iexact=code.strip()).first()


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _apply_fields(incident: Incident, fields: IncidentFields) -> dict:
    """Set fields and eligibility on the incident; return {field: [old, new]} of what changed."""
    changes = {}
    values = dict(fields.__dict__)
    values["tandem"] = list(values["tandem"] or [])
    values["call_type_code"] = values["call_type_code"].strip().upper()
    values["call_type"] = _call_type_match(values["call_type_code"])
    for name, new in values.items():
        old = getattr(incident, name)
        if name == "call_type":
            if (old.pk if old else None) != (new.pk if new else None):
                changes[name] = [old.code if old else None, new.code if new else None]
        elif old != new:
            changes[name] = [_json_value(old), _json_value(new)]
        setattr(incident, name, new)
    decision = eligibility(incident.call_type, incident.screening)
    if incident.eligible != decision.eligible or list(incident.eligibility_reasons) != decision.reasons:
        changes["eligibility"] = [
            {"eligible": incident.eligible, "reasons": list(incident.eligibility_reasons)},
            decision.as_dict(),
        ]
    incident.eligible = decision.eligible
    incident.eligibility_reasons = decision.reasons
    return changes


def incident_event_data(incident: Incident, assignments: list[Assignment] | None = None) -> dict:
    """The incident as the API shows it (pass `assignments`, with their units, when the caller
    already holds every one of the incident's assignments, to spare reading them again)."""
    from dispatch.serializers import incident_representation

    return incident_representation(incident, assignments)


def assignment_event_data(assignment: Assignment, incident_data: dict | None = None) -> dict:
    """What a tablet needs to work a call: the assignment and its incident (pass
    `incident_data` when the caller has just built it, to serialise the incident once)."""
    from dispatch.serializers import assignment_representation

    data = assignment_representation(assignment)
    data["incident"] = (
        incident_data if incident_data is not None else incident_event_data(assignment.incident)
    )
    return data


def _emit_incident(incident: Incident, type: str) -> None:
    event_record(type, incident_event_data(incident))
    if type != EventType.INCIDENT_UPDATED:
        return
    for assignment in incident.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).select_related(
        "unit"
    ):
        # The team on the call sees a change to it (new screening, new narrative) at once.
        event_record(EventType.ASSIGNMENT_UPDATED, assignment_event_data(assignment), unit=assignment.unit)


def incident_create(
    *, fields: IncidentFields, actor, api_client: ApiClient | None = None, external_id: str = ""
) -> Incident:
    """Create an incident, screen it, record its history and announce it to dispatch."""
    with transaction.atomic():
        incident = Incident(api_client=api_client, external_id=external_id, created_by=actor)
        changes = _apply_fields(incident, fields)
        changes.pop("eligibility", None)
        incident.save()
        IncidentChange.objects.create(
            incident=incident,
            kind=IncidentChange.Kind.CREATED,
            actor=actor,
            changes={
                **changes,
                "eligibility": [
                    None,
                    {"eligible": incident.eligible, "reasons": incident.eligibility_reasons},
                ],
            },
        )
        event_record(EventType.INCIDENT_CREATED, incident_event_data(incident))
    return incident


def incident_upsert_from_api(*, client: ApiClient, data: dict) -> tuple[Incident, bool]:
    """Create the incident the client sent, or update the one it sent before with that
    external_id (ids are per client: another client's same number is another incident).

    Returns (incident, created). A repeat that changes nothing writes nothing. Refuses, with
    `incident_not_open`, to change an incident that is closed or cancelled.
    """
    external_id = data["external_id"]
    for _attempt in range(2):
        try:
            with transaction.atomic():
                incident = (
                    Incident.objects.select_for_update()
                    .filter(api_client=client, external_id=external_id)
                    .first()
                )
                if incident is None:
                    fields = IncidentFields.from_api(data)
                    incident = incident_create(
                        fields=fields, actor=client.user, api_client=client, external_id=external_id
                    )
                    if data.get("cancelled"):
                        incident_cancel(incident=incident, actor=client.user)
                    return incident, True
                _incident_update(
                    incident,
                    IncidentFields.from_api(data, existing=incident),
                    client.user,
                    cancel=data.get("cancelled") is True,
                )
                return incident, False
        except IntegrityError:
            # A concurrent post created the same external_id first: go round as an update.
            continue
    raise ServiceConflict("concurrent_update", "The incident changed while this request ran; send it again.")


def _incident_update(incident: Incident, fields: IncidentFields, actor, *, cancel: bool) -> None:
    if not incident.is_open:
        changes = _apply_fields(copy.copy(incident), fields)
        if changes or (incident.status == Incident.Status.CLOSED and cancel):
            raise ServiceConflict(
                "incident_not_open", f"The incident is {incident.status} and can no longer change."
            )
        return
    changes = _apply_fields(incident, fields)
    if changes:
        incident.save()
        IncidentChange.objects.create(
            incident=incident, kind=IncidentChange.Kind.UPDATED, actor=actor, changes=changes
        )
        _emit_incident(incident, EventType.INCIDENT_UPDATED)
    if cancel:
        incident_cancel(incident=incident, actor=actor)


def incident_cancel(*, incident: Incident, actor, reason: str = "") -> Incident:
    """Cancel an open incident. Its active assignment is cancelled too, the unit is free
    again, and the unit's tablet is told at once. Cancelling a cancelled incident is a no-op;
    a closed one is refused with `incident_not_open`."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.status == Incident.Status.CANCELLED:
            return incident
        if incident.status == Incident.Status.CLOSED:
            raise ServiceConflict(
                "incident_not_open", "The incident is closed and can no longer be cancelled."
            )
        now = timezone.now()
        active = (
            incident.assignments.select_for_update().filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).first()
        )
        old_status = incident.status
        incident.status = Incident.Status.CANCELLED
        incident.cancelled_at = now
        incident.save(update_fields=["status", "cancelled_at", "updated_at"])
        if active is not None:
            # After the incident is saved: the tablet's assignment.cancelled carries the
            # incident, and it must say cancelled (the tablet gets no incident.updated).
            _assignment_cancel(active, now)
        history = {"status": [old_status, "cancelled"]}
        if reason:
            history["reason"] = [None, reason]
        IncidentChange.objects.create(
            incident=incident, kind=IncidentChange.Kind.CANCELLED, actor=actor, changes=history
        )
        event_record(EventType.INCIDENT_UPDATED, incident_event_data(incident))
    return incident


def _assignment_cancel(assignment: Assignment, now) -> None:
    unit = Unit.objects.select_for_update().get(pk=assignment.unit_id)
    assignment.status = Assignment.Status.CANCELLED
    assignment.cancelled_at = now
    assignment.save(update_fields=["status", "cancelled_at"])
    unit_set_status(unit, Unit.Status.AVAILABLE, now=now)
    assignment.unit = unit
    event_record(EventType.ASSIGNMENT_CANCELLED, assignment_event_data(assignment), unit=unit)


def incident_close_unassigned(incident: Incident, *, actor, now, changes: dict) -> None:
    """Close a pending incident that no unit is on (resolved by phone, an outreach encounter
    finished), with its history, inside the caller's transaction. The caller records the
    incident.updated event once it has made all its changes."""
    incident.status = Incident.Status.CLOSED
    incident.closed_at = now
    incident.save(update_fields=["status", "closed_at", "updated_at"])
    IncidentChange.objects.create(
        incident=incident,
        kind=IncidentChange.Kind.STATUS,
        actor=actor,
        changes={"status": ["pending", "closed"], **changes},
    )


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


def unit_event_data(unit: Unit) -> dict:
    """The unit as GET /api/v1/units/ shows it, members on shift included. The unit's own
    fields are taken as the caller holds them (every caller has locked the row and saved its
    change); who is on shift is read now, in the caller's transaction, so it is what will
    commit."""
    from dispatch.selectors import unit_members_load
    from dispatch.serializers import unit_representation

    unit_members_load([unit])
    return unit_representation(unit)


# --- Assignments ----------------------------------------------------------------------------
def _assignment_for_update(assignment_id) -> Assignment:
    """Lock in the one order every service uses: incident, then assignment, then unit."""
    incident_id = Assignment.objects.values_list("incident_id", flat=True).get(pk=assignment_id)
    Incident.objects.select_for_update().get(pk=incident_id)
    return Assignment.objects.select_for_update().select_related("incident").get(pk=assignment_id)


def _assignment_events_record(
    type: str, assignment, unit, *, unit_changed: bool, incident_data: dict
) -> None:
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
    *, incident_id, callsign: str, actor, override_reason: str = "", incidents=None
) -> Assignment:
    """Send a unit to an incident.

    `incidents` narrows which incidents the caller may assign (the API passes what
    dispatch.selectors says the caller may see); an incident outside it, or none with that
    id, raises Incident.DoesNotExist, and a callsign no unit has raises Unit.DoesNotExist,
    before any of the refusals. Refuses with: `incident_not_open` (closed or cancelled),
    `already_assigned` (the incident has an active assignment), `not_eligible` (screening
    says no and no override reason was given), `unit_unavailable` (the unit is not
    available). Two assigns racing for one unit or one incident: row locks serialise them
    and the database's partial unique constraints stand behind the locks, so exactly one wins.
    """
    override_reason = (override_reason or "").strip()
    incidents = Incident.objects.all() if incidents is None else incidents
    try:
        with transaction.atomic():
            # of=("self",): lock the incident row only, never a row joined to decide visibility.
            incident = (
                incidents.select_related(None)
                .prefetch_related(None)
                .select_for_update(of=("self",))
                .get(pk=incident_id)
            )
            # Locked in the one order every service uses: incident, then unit.
            unit = Unit.objects.select_for_update().get(callsign=callsign)
            if not incident.is_open:
                raise ServiceConflict("incident_not_open", f"The incident is {incident.status}.")
            # Read under the incident's lock: every service that changes an incident's
            # assignments holds it. All of them, for the event below.
            assignments = list(
                Assignment.objects.filter(incident=incident).select_related("unit").order_by("dispatched_at")
            )
            if any(a.status in ACTIVE_ASSIGNMENT_STATUSES for a in assignments):
                raise ServiceConflict("already_assigned", "The incident already has an active assignment.")
            if not incident.eligible and not override_reason:
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
                incident=incident,
                unit=unit,
                dispatched_by=actor,
                dispatched_at=now,
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
            unit_changed = unit_set_status(unit, Unit.Status.DISPATCHED, now=now, announce=False)
            incident_data = incident_event_data(incident, [*assignments, assignment])
            _assignment_events_record(
                EventType.ASSIGNMENT_CREATED,
                assignment,
                unit,
                unit_changed=unit_changed,
                incident_data=incident_data,
            )
            return assignment
    except IntegrityError as exc:
        # Only reachable if a lock was bypassed; the constraint still keeps one winner.
        raise ServiceConflict("already_assigned", "Another assignment won the race.") from exc


def assignment_set_status(*, assignment_id, status: str, actor, destination: str = "") -> Assignment:
    """Move an assignment one step along Assignment.TRANSITIONS; anything else is refused
    with `illegal_transition`. Clearing closes the incident and frees the unit."""
    with transaction.atomic():
        assignment = _assignment_for_update(assignment_id)
        allowed = Assignment.TRANSITIONS.get(assignment.status, ())
        if status not in allowed:
            raise ServiceConflict(
                "illegal_transition",
                f"Cannot go from {assignment.status} to {status}; allowed: {', '.join(allowed) or 'none'}.",
            )
        now = timezone.now()
        assignment.status = status
        setattr(assignment, f"{status}_at", now)
        fields = ["status", f"{status}_at"]
        if status == Assignment.Status.TRANSPORTING and destination:
            assignment.transport_destination = destination.strip()[:200]
            fields.append("transport_destination")
        assignment.save(update_fields=fields)
        incident = assignment.incident
        if status == Assignment.Status.CLEARED:
            incident.status = Incident.Status.CLOSED
            incident.closed_at = now
            incident.save(update_fields=["status", "closed_at", "updated_at"])
            IncidentChange.objects.create(
                incident=incident,
                kind=IncidentChange.Kind.STATUS,
                actor=actor,
                changes={"status": ["assigned", "closed"]},
            )
        unit = Unit.objects.select_for_update().get(pk=assignment.unit_id)
        unit_changed = unit_set_status(unit, Assignment.UNIT_STATUS[status], now=now, announce=False)
        assignment.unit = unit
        incident_data = incident_event_data(incident)
        _assignment_events_record(
            EventType.ASSIGNMENT_UPDATED,
            assignment,
            unit,
            unit_changed=unit_changed,
            incident_data=incident_data,
        )
    return assignment


def assignment_acknowledge(*, assignment_id, actor) -> Assignment:
    """Record that the tablet has shown the assignment; the first acknowledgement counts."""
    with transaction.atomic():
        assignment = _assignment_for_update(assignment_id)
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


# --- Alerts ---------------------------------------------------------------------------------
def alert_event_data(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "message": alert.message,
        "urgent": alert.urgent,
        "unit": alert.unit.callsign if alert.unit_id else None,
        "assignment": str(alert.assignment_id) if alert.assignment_id else None,
        "data": alert.data,
        "raised_at": iso(alert.raised_at),
        "acknowledged_at": iso(alert.acknowledged_at),
        "acknowledged_by": (
            alert.acknowledged_by.get_full_name() or alert.acknowledged_by.username
            if alert.acknowledged_by_id
            else None
        ),
    }


def alert_raise(*, kind: str, message: str, unit=None, assignment=None, urgent=False, data=None) -> Alert:
    """Raise an alert on every dispatch console (and tell the unit's tablet, when it has one)."""
    with transaction.atomic():
        alert = Alert.objects.create(
            kind=kind,
            message=message[:300],
            unit=unit,
            assignment=assignment,
            urgent=urgent,
            data=data or {},
            raised_at=timezone.now(),
        )
        event_record(EventType.ALERT_RAISED, alert_event_data(alert), unit=unit)
    return alert


def alert_acknowledge(*, alert_id: int, actor) -> Alert:
    """A dispatcher has seen the alert. The first acknowledgement counts; later ones are no-ops.
    The unit's tablet is told, so a team that asked for backup sees dispatch has it."""
    with transaction.atomic():
        # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the unit join.
        alert = Alert.objects.select_for_update(of=("self",)).select_related("unit").get(pk=alert_id)
        if alert.acknowledged_at is None:
            alert.acknowledged_at = timezone.now()
            alert.acknowledged_by = actor
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
            event_record(EventType.ALERT_CLEARED, alert_event_data(alert), unit=alert.unit)
    return alert


def alerts_raise_overdue(*, now=None) -> list[Alert]:
    """Raise one alert for each active assignment not acknowledged within
    settings.ACK_ALERT_SECONDS. Safe to run from every process at once: the conditional
    update claims each assignment, so an assignment never gets two alerts."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ACK_ALERT_SECONDS)
    raised = []
    candidates = Assignment.objects.filter(
        status__in=ACTIVE_ASSIGNMENT_STATUSES,
        acknowledged_at__isnull=True,
        ack_alert_raised_at__isnull=True,
        dispatched_at__lte=cutoff,
    ).values_list("pk", flat=True)
    for assignment_id in list(candidates[:100]):
        with transaction.atomic():
            # Conditional: still active, unacknowledged and unclaimed now, not only when listed.
            claimed = Assignment.objects.filter(
                pk=assignment_id,
                status__in=ACTIVE_ASSIGNMENT_STATUSES,
                ack_alert_raised_at__isnull=True,
                acknowledged_at__isnull=True,
            ).update(ack_alert_raised_at=now)
            if not claimed:
                continue
            assignment = Assignment.objects.select_related("unit", "incident").get(pk=assignment_id)
            seconds = int((now - assignment.dispatched_at).total_seconds())
            incident = assignment.incident
            raised.append(
                alert_raise(
                    kind=Alert.Kind.ACK_OVERDUE,
                    unit=assignment.unit,
                    assignment=assignment,
                    urgent=True,
                    message=f"{assignment.unit.callsign} has not acknowledged {incident.call_type_code} "
                    f"at {incident.address} ({seconds} s).",
                )
            )
    return raised


# --- The embedded clinician (dispatch model 2) --------------------------------------------------
def _open_incident_for_update(incident_id) -> Incident:
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if not incident.is_open:
        raise ServiceConflict("incident_not_open", f"The incident is {incident.status}.")
    if incident.status == Incident.Status.ASSIGNED:
        raise ServiceConflict("already_assigned", "A team is already on this call.")
    return incident


def incident_transfer_to_clinician(*, incident_id, actor, note: str = "") -> ClinicianTransfer:
    """Put a pending call in the clinicians' queue. Refuses with `incident_not_open`,
    `already_assigned` (a team is on it) or `already_transferred` (it went to the queue before)."""
    with transaction.atomic():
        incident = _open_incident_for_update(incident_id)
        if ClinicianTransfer.objects.filter(incident=incident).exists():
            raise ServiceConflict("already_transferred", "This call was already transferred to a clinician.")
        transfer = ClinicianTransfer.objects.create(
            incident=incident, transferred_by=actor, transferred_at=timezone.now(), note=note.strip()[:500]
        )
        history = {"clinician_transfer": [None, ClinicianTransfer.Outcome.OPEN.value]}
        if transfer.note:
            history["transfer_note"] = [None, transfer.note]
        IncidentChange.objects.create(
            incident=incident, kind=IncidentChange.Kind.UPDATED, actor=actor, changes=history
        )
        # The incident row itself did not change: touch it so "updated" means updated.
        incident.save(update_fields=["updated_at"])
        event_record(EventType.INCIDENT_UPDATED, incident_event_data(incident))
    return transfer


def phone_contact_record(*, incident_id, actor, notes: str, resolve: bool = False) -> ClinicianTransfer:
    """A clinician's phone contact with the caller of a transferred call. With `resolve`, the
    call is closed as resolved by phone: no unit is sent and the transfer's outcome says so.

    Refuses with `not_transferred` (the call is not waiting in the clinicians' queue),
    `incident_not_open`, `already_assigned`; empty notes are a ValueError (the form says so).
    Who may call this (clinicians) is decided by dispatch.roles, in the view.
    """
    notes = (notes or "").strip()
    if not notes:
        raise ValueError("notes are required")
    with transaction.atomic():
        incident = _open_incident_for_update(incident_id)
        transfer = (
            ClinicianTransfer.objects.select_for_update()
            .filter(incident=incident, outcome=ClinicianTransfer.Outcome.OPEN)
            .first()
        )
        if transfer is None:
            raise ServiceConflict("not_transferred", "This call is not waiting in the clinicians' queue.")
        now = timezone.now()
        PhoneContact.objects.create(transfer=transfer, clinician=actor, at=now, notes=notes)
        transfer.clinician = actor
        fields = ["clinician"]
        if resolve:
            transfer.outcome = ClinicianTransfer.Outcome.RESOLVED_BY_PHONE
            transfer.closed_at = now
            fields += ["outcome", "closed_at"]
            incident_close_unassigned(
                incident,
                actor=actor,
                now=now,
                changes={
                    "resolution": [None, ClinicianTransfer.Outcome.RESOLVED_BY_PHONE.value],
                    "phone_contact": [None, notes],
                },
            )
        else:
            incident.save(update_fields=["updated_at"])
            IncidentChange.objects.create(
                incident=incident,
                kind=IncidentChange.Kind.UPDATED,
                actor=actor,
                changes={"phone_contact": [None, notes]},
            )
        transfer.save(update_fields=fields)
        event_record(EventType.INCIDENT_UPDATED, incident_event_data(incident))
    return transfer


def incident_assign(*, incident_id, callsign: str, actor, override_reason: str = "") -> Assignment:
    """Assign from the console: `assignment_create` (same refusals), and a call waiting in
    the clinicians' queue records that the clinician dispatched a team."""
    with transaction.atomic():
        assignment = assignment_create(
            incident_id=incident_id, callsign=callsign, actor=actor, override_reason=override_reason
        )
        ClinicianTransfer.objects.filter(
            incident_id=incident_id, outcome=ClinicianTransfer.Outcome.OPEN
        ).update(outcome=ClinicianTransfer.Outcome.DISPATCHED, closed_at=timezone.now())
    return assignment
