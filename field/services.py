"""Changes the tablet makes: shifts, location, backup requests, outcomes, self-initiated
encounters. Dispatch-side state moves through dispatch.services where a service exists; where
the tablet needs a write dispatch has no service for, it is written here with the same lock
order (incident, then assignment, then unit) and the same events, so consoles stay live."""

import logging
import uuid
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.events import EventType, event_record
from dispatch.models import ACTIVE_ASSIGNMENT_STATUSES, Alert, Assignment, Incident, IncidentChange, Unit
from dispatch.services import IncidentFields, ServiceConflict
from field.consumers import user_group
from field.models import BackupRequest, Outcome, Shift
from referrals import services as referral_services

log = logging.getLogger(__name__)

# An assignment that reached the scene may get its outcome; before that there is nothing to record.
OUTCOME_STATUSES = ("on_scene", "transporting", "cleared")


def _tell_tablets_shift_changed(user_ids) -> None:
    """After commit: each responder's open sockets rejoin the right unit's group."""
    layer = get_channel_layer()
    for user_id in user_ids:
        try:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "shift.changed"})
        except Exception:  # the socket's periodic catch-up cannot fix this, but a reconnect does
            log.exception("could not tell user %s their shift changed", user_id)


# --- Shifts ---------------------------------------------------------------------------------
def shift_start(*, user, unit_id) -> Shift:
    """Put the responder on shift with a unit. The partner joins the same unit the same way.
    An off-duty unit becomes available. Refuses with `already_on_shift` when the responder
    has an open shift, and `unit_out_of_service` for a unit taken out of service."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        if Shift.objects.filter(user=user, ended_at__isnull=True).exists():
            raise ServiceConflict("already_on_shift", "You are already on shift; end it first.")
        if unit.status == Unit.Status.OUT_OF_SERVICE:
            raise ServiceConflict("unit_out_of_service", f"{unit.callsign} is out of service.")
        now = timezone.now()
        try:
            with transaction.atomic():
                shift = Shift.objects.create(unit=unit, user=user, started_at=now)
        except IntegrityError as exc:  # a second tab started a shift at the same moment
            raise ServiceConflict("already_on_shift", "You are already on shift; end it first.") from exc
        if unit.status == Unit.Status.OFF_DUTY:
            dispatch_services.unit_set_status(unit, Unit.Status.AVAILABLE, now=now)
        else:
            # The unit's members changed: the board shows who is on it.
            dispatch_services.unit_announce(unit)
        transaction.on_commit(lambda: _tell_tablets_shift_changed([user.pk]))
    return shift


def shift_end(*, user) -> Shift:
    """End the responder's open shift. When nobody is left on the unit it goes off duty.
    Refuses with `not_on_shift`, and with `assignment_active` when the last responder would
    leave a unit that still has an active assignment (clear it or ask dispatch first)."""
    with transaction.atomic():
        unit_id = (
            Shift.objects.filter(user=user, ended_at__isnull=True).values_list("unit_id", flat=True).first()
        )
        if unit_id is None:
            raise ServiceConflict("not_on_shift", "You are not on shift.")
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        shift = Shift.objects.select_for_update().get(user=user, ended_at__isnull=True)
        others = Shift.objects.filter(unit=unit, ended_at__isnull=True).exclude(pk=shift.pk).exists()
        if not others and unit.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).exists():
            raise ServiceConflict(
                "assignment_active", f"{unit.callsign} still has an active assignment; clear it first."
            )
        now = timezone.now()
        shift.ended_at = now
        shift.save(update_fields=["ended_at"])
        if not others:
            dispatch_services.unit_set_status(unit, Unit.Status.OFF_DUTY, now=now)
        else:
            dispatch_services.unit_announce(unit)
        transaction.on_commit(lambda: _tell_tablets_shift_changed([user.pk]))
    return shift


# --- Location -------------------------------------------------------------------------------
def unit_report_location(*, unit_id, latitude: float, longitude: float) -> Unit:
    """Store where the unit's tablet is and tell dispatch (recommendations use it)."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        unit.latitude = latitude
        unit.longitude = longitude
        unit.location_at = timezone.now()
        unit.save(update_fields=["latitude", "longitude", "location_at"])
        dispatch_services.unit_announce(unit)
    return unit


# --- Backup ---------------------------------------------------------------------------------
def backup_request(*, user, unit_id, kind: str, urgent: bool) -> BackupRequest:
    """Ask dispatch for police or EMS backup. Every console alerts at once; the request is tied
    to the unit's active assignment when it has one."""
    if kind not in BackupRequest.Kind.values:
        raise ValueError(f"unknown backup kind {kind!r}")
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        assignment = (
            unit.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).select_related("incident").first()
        )
        backup = BackupRequest.objects.create(
            unit=unit,
            assignment=assignment,
            kind=kind,
            urgent=urgent,
            requested_by=user,
            requested_at=timezone.now(),
        )
        where = f" at {assignment.incident.address}" if assignment else ""
        label = BackupRequest.Kind(kind).label
        backup.alert = dispatch_services.alert_raise(
            kind=Alert.Kind.BACKUP,
            message=f"{unit.callsign} requests {'URGENT ' if urgent else ''}{label} backup{where}.",
            unit=unit,
            assignment=assignment,
            urgent=urgent,
            data={"backup_id": backup.pk, "kind": kind},
        )
        backup.save(update_fields=["alert"])
        event_record(EventType.BACKUP_REQUESTED, backup_event_data(backup), unit=unit)
    return backup


def backup_event_data(backup: BackupRequest) -> dict:
    from dispatch.events import iso

    return {
        "id": backup.pk,
        "unit": backup.unit.callsign,
        "assignment": str(backup.assignment_id) if backup.assignment_id else None,
        "kind": backup.kind,
        "urgent": backup.urgent,
        "requested_at": iso(backup.requested_at),
        "alert": backup.alert_id,
    }


# --- Self-initiated encounters --------------------------------------------------------------
def encounter_start(
    *,
    user,
    unit_id,
    latitude: float | None,
    longitude: float | None,
    address: str = "",
    call_type_code: str = "",
    assignment_id: uuid.UUID | None = None,
) -> Assignment:
    """The team stopped for someone: an incident with source `self_initiated` at the tablet's
    position, and an assignment already on scene for the unit. `assignment_id` lets a tablet
    that is offline name the assignment before the server has it, so its outcome can follow.
    Refuses with `unit_unavailable` when the unit is busy or off duty, and `already_exists`
    when the id names an assignment that is already there."""
    if assignment_id is not None and Assignment.objects.filter(pk=assignment_id).exists():
        raise ServiceConflict("already_exists", "That encounter was already recorded.")
    if not address.strip():
        address = f"Near {latitude:.5f}, {longitude:.5f}" if latitude is not None else "Unknown location"
    now = timezone.now()
    with transaction.atomic():
        incident = dispatch_services.incident_create(
            fields=IncidentFields(
                source=Incident.Source.SELF_INITIATED,
                call_type_code=(call_type_code or "PROACTIVE").strip()[:32],
                received_at=now,
                address=address.strip()[:300],
                latitude=latitude,
                longitude=longitude,
            ),
            actor=user,
        )
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        if unit.status != Unit.Status.AVAILABLE:
            raise ServiceConflict(
                "unit_unavailable", f"{unit.callsign} is {unit.get_status_display().lower()}."
            )
        try:
            with transaction.atomic():
                assignment = Assignment.objects.create(
                    id=assignment_id or uuid.uuid4(),
                    incident=incident,
                    unit=unit,
                    status=Assignment.Status.ON_SCENE,
                    dispatched_by=user,
                    dispatched_at=now,
                    acknowledged_at=now,
                    on_scene_at=now,
                )
        except IntegrityError as exc:  # the same id raced in from a second request
            raise ServiceConflict("already_exists", "That encounter was already recorded.") from exc
        incident.status = Incident.Status.ASSIGNED
        incident.save(update_fields=["status", "updated_at"])
        IncidentChange.objects.create(
            incident=incident,
            kind=IncidentChange.Kind.STATUS,
            actor=user,
            changes={"status": ["pending", "assigned"], "unit": [None, unit.callsign]},
        )
        dispatch_services.unit_set_status(unit, Unit.Status.ON_SCENE, now=now)
        assignment.unit = unit
        event_record(
            EventType.ASSIGNMENT_CREATED, dispatch_services.assignment_event_data(assignment), unit=unit
        )
        event_record(EventType.INCIDENT_UPDATED, dispatch_services.incident_event_data(incident))
    return assignment


# --- Outcomes -------------------------------------------------------------------------------
@dataclass
class PersonFields:
    name: str = ""
    alias: str = ""
    date_of_birth: object = None
    phone: str = ""

    def any(self) -> bool:
        return bool(self.name.strip() or self.alias.strip() or self.date_of_birth or self.phone.strip())


@dataclass
class FollowUpFields:
    service_type: str
    consent: bool
    notes: str = ""


@dataclass
class OutcomeFields:
    """An outcome as the tablet sent it, already validated (field.api.OutcomeIn)."""

    disposition: str
    services_provided: list = field(default_factory=list)
    people_contacted: int = 1
    person: PersonFields | None = None
    transport_destination: str = ""
    police_involvement: str = Outcome.PoliceInvolvement.NONE
    ems_involvement: str = Outcome.EmsInvolvement.NONE
    narrative: str = ""
    follow_up: FollowUpFields | None = None


def outcome_record(*, assignment_id, fields: OutcomeFields, actor) -> Outcome:
    """Record the on-scene outcome of an assignment, all or nothing: the person contacted and
    the follow-up connection are created in the same transaction. An assignment still on
    scene or transporting is cleared by it (the outcome is the end of the call).

    Refuses with `assignment_cancelled` (dispatch cancelled it), `not_on_scene` (the team
    never reached the scene) and `outcome_exists` (one outcome per assignment).
    """
    with transaction.atomic():
        incident_id = Assignment.objects.values_list("incident_id", flat=True).get(pk=assignment_id)
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        assignment = Assignment.objects.select_for_update().get(pk=assignment_id)
        if assignment.status == Assignment.Status.CANCELLED:
            raise ServiceConflict("assignment_cancelled", "Dispatch cancelled this assignment.")
        if assignment.status not in OUTCOME_STATUSES:
            raise ServiceConflict("not_on_scene", "The team has not reached the scene of this assignment.")
        if Outcome.objects.filter(assignment=assignment).exists():
            raise ServiceConflict("outcome_exists", "This assignment already has an outcome.")
        if assignment.status != Assignment.Status.CLEARED:
            dispatch_services.assignment_set_status(
                assignment_id=assignment.pk, status=Assignment.Status.CLEARED, actor=actor
            )
        person = None
        if fields.person is not None and fields.person.any():
            person = referral_services.person_create(
                actor=actor,
                name=fields.person.name,
                alias=fields.person.alias,
                date_of_birth=fields.person.date_of_birth,
                phone=fields.person.phone,
            )
        follow_up = None
        if fields.follow_up is not None:
            follow_up = referral_services.follow_up_create(
                actor=actor,
                service_type=fields.follow_up.service_type,
                consent=fields.follow_up.consent,
                notes=fields.follow_up.notes,
                person=person,
                incident=incident,
            )
        return Outcome.objects.create(
            assignment=assignment,
            self_initiated=incident.source == Incident.Source.SELF_INITIATED,
            disposition=fields.disposition,
            services_provided=list(dict.fromkeys(fields.services_provided)),
            people_contacted=fields.people_contacted,
            person=person,
            transport_destination=fields.transport_destination or assignment.transport_destination,
            police_involvement=fields.police_involvement,
            ems_involvement=fields.ems_involvement,
            narrative=fields.narrative,
            follow_up=follow_up,
            recorded_by=actor,
            recorded_at=timezone.now(),
        )
