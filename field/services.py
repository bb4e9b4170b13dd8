"""Changes the tablet makes: backup requests, outcomes, self-initiated encounters. What is
dispatch's (shifts, positions, assignments and their steps, incidents) moves through
dispatch.services, which holds the locks, the refusals and the events; this module adds only
what the field app owns."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from dispatch import services as dispatch_services
from dispatch.events import EventType, events_record
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    SCENE_REACHED_STATUSES,
    Alert,
    Assignment,
    Incident,
    Unit,
)
from dispatch.services import IncidentFields, ServiceConflict
from dispatch.services.assignments import assignment_latest_step, moment_check
from dispatch.timestamps import utc_iso
from field.models import BackupRequest, Outcome
from referrals import services as referral_services

# A request that reached the server this long after it was tapped says so on the consoles.
SENT_LATE_AFTER = timedelta(seconds=60)


# --- Backup ---------------------------------------------------------------------------------
def backup_request(*, user, unit_id, kind: str, urgent: bool, at: datetime | None = None) -> BackupRequest:
    """Ask dispatch for police or EMS backup. Every console alerts at once. The request is
    tied to the unit's active assignment when it has one that was dispatched before the
    request was tapped (`at`, for a request sent late; else now): a request that waited in an
    offline tablet is not pinned on a call dispatched since. A request sent late says so in
    the alert. Refuses (ServiceInvalid on `at`) an `at` more than 2 minutes ahead of the
    server's clock; never for being old: a late call for help is still a call for help."""
    if kind not in BackupRequest.Kind.values:
        raise ValueError(f"unknown backup kind {kind!r}")
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(pk=unit_id)
        now = timezone.now()
        requested_at = moment_check(at, now=now)
        assignment = (
            unit.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES, dispatched_at__lte=requested_at)
            .select_related("incident")
            .first()
        )
        backup = BackupRequest.objects.create(
            unit=unit,
            assignment=assignment,
            kind=kind,
            urgent=urgent,
            requested_by=user,
            requested_at=requested_at,
            received_at=now,
        )
        where = f" at {assignment.incident.address}" if assignment else ""
        label = BackupRequest.Kind(kind).label
        late = now - requested_at
        sent_late = (
            f" Tapped {int(late.total_seconds() // 60)} min {int(late.total_seconds() % 60)} s ago; "
            "the tablet was offline."
            if late >= SENT_LATE_AFTER
            else ""
        )
        backup.alert = dispatch_services.alert_create(
            kind=Alert.Kind.BACKUP,
            message=(
                f"{unit.callsign} requests {'URGENT ' if urgent else ''}{label} backup{where}.{sent_late}"
            ),
            unit=unit,
            assignment=assignment,
            urgent=urgent,
            data={"backup_id": backup.pk, "kind": kind},
        )
        backup.save(update_fields=["alert"])
        events_record(
            [
                (EventType.ALERT_RAISED, dispatch_services.alert_event_data(backup.alert), unit),
                (EventType.BACKUP_REQUESTED, backup_event_data(backup), unit),
            ]
        )
    return backup


def backup_event_data(backup: BackupRequest) -> dict:
    return {
        "id": backup.pk,
        "unit": backup.unit.callsign,
        "assignment": str(backup.assignment_id) if backup.assignment_id else None,
        "kind": backup.kind,
        "urgent": backup.urgent,
        "requested_at": utc_iso(backup.requested_at),
        "received_at": utc_iso(backup.received_at),
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
    at: datetime | None = None,
) -> Assignment:
    """The team stopped for someone: an incident with source `self_initiated` at the tablet's
    position, and an assignment already on scene for the unit (dispatch's assignment_create,
    arrived), both at `at` when the tablet sent it late. `assignment_id` lets a tablet that
    is offline name the assignment before the server has it, so its outcome can follow.
    Refuses with `unit_unavailable` when the unit is busy or off duty, `already_exists` when
    the id names an assignment already there, and (ServiceInvalid on `at`) an `at` more than
    2 minutes ahead of the server's clock."""
    received_at = moment_check(at, now=timezone.now())
    if not address.strip():
        address = f"Near {latitude:.5f}, {longitude:.5f}" if latitude is not None else "Unknown location"
    callsign, program_id = Unit.objects.values_list("callsign", "program_id").get(pk=unit_id)
    with transaction.atomic():
        incident = dispatch_services.incident_create(
            fields=IncidentFields(
                source=Incident.Source.SELF_INITIATED,
                call_type_code=(call_type_code or "PROACTIVE").strip()[:32],
                received_at=received_at,
                address=address.strip()[:300],
                latitude=latitude,
                longitude=longitude,
            ),
            actor=user,
            program=program_id,
        )
        return dispatch_services.assignment_create(
            incident_id=incident.pk,
            callsign=callsign,
            actor=user,
            arrived=True,
            assignment_id=assignment_id,
            at=at,
        )


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


def outcome_record(*, assignment_id, fields: OutcomeFields, actor, at: datetime | None = None) -> Outcome:
    """Record the on-scene outcome of an assignment, all or nothing: the person contacted and
    the follow-up connection are created in the same transaction. An assignment still on
    scene or transporting is cleared by it (the outcome is the end of the call), at `at`
    (when the team saved it on the tablet, for an outcome sent late) or now. A follow-up for a
    service already asked for on this call (the referring officer's, say) is that one, not a
    second (referrals.services.follow_up_for_call). The outcome of an outreach referral's
    call finishes the referral.

    Refuses with `assignment_cancelled` (dispatch cancelled it), `not_on_scene` (the team
    never reached the scene), `outcome_exists` (one outcome per assignment), and
    (ServiceInvalid on `at`) an `at` more than 2 minutes ahead of the server's clock or
    before the assignment's last step before clearing.
    """
    with transaction.atomic():
        assignment = dispatch_services.assignment_for_update(assignment_id)
        incident = assignment.incident
        if assignment.status == Assignment.Status.CANCELLED:
            raise ServiceConflict("assignment_cancelled", "Dispatch cancelled this assignment.")
        if assignment.status not in SCENE_REACHED_STATUSES:
            raise ServiceConflict("not_on_scene", "The team has not reached the scene of this assignment.")
        if Outcome.objects.filter(assignment=assignment).exists():
            raise ServiceConflict("outcome_exists", "This assignment already has an outcome.")
        now = timezone.now()
        # Against the steps before clearing: the partner's tablet may have cleared the call
        # after this one wrote its outcome in a dead zone.
        recorded_at = moment_check(at, now=now, after=assignment_latest_step(assignment, before="cleared_at"))
        if assignment.status != Assignment.Status.CLEARED:
            dispatch_services.assignment_step(assignment, Assignment.Status.CLEARED, actor=actor, at=at)
        person = None
        if fields.person is not None and fields.person.any():
            person = referral_services.person_create(
                actor=actor,
                program=incident.program,
                name=fields.person.name,
                alias=fields.person.alias,
                date_of_birth=fields.person.date_of_birth,
                phone=fields.person.phone,
            )
        follow_up = None
        if fields.follow_up is not None:
            follow_up = referral_services.follow_up_for_call(
                actor=actor,
                service_type=fields.follow_up.service_type,
                consent=fields.follow_up.consent,
                notes=fields.follow_up.notes,
                person=person,
                incident=incident,
            )
        if incident.source == Incident.Source.POLICE_REFERRAL:
            referral_services.referral_outcome_recorded(
                incident=incident,
                contact_made=fields.disposition not in Outcome.NO_CONTACT_DISPOSITIONS,
                at=recorded_at,
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
            recorded_at=recorded_at,
            received_at=now,
        )
