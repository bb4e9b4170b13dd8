"""Changes to police referrals, follow-ups, people and the service directory.

Every service here writes inside one transaction (nothing half-saved), keeps history, and
refuses what the current state does not allow with dispatch.services.ServiceConflict (a 409).
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from dispatch.events import EventType, event_record
from dispatch.groups import follow_up_group
from dispatch.models import CallType, Incident
from dispatch.roles import Action
from dispatch.services import (
    IncidentFields,
    ServiceConflict,
    address_geocode,
    assignment_acknowledge,
    assignment_create,
    fields_placed,
    incident_cancel,
    incident_create,
)
from dispatch.services.programs import program_resolve, program_same
from referrals.models import (
    ContactAttempt,
    FollowUp,
    FollowUpChange,
    OfficerContact,
    Person,
    PersonAccess,
    PoliceReferral,
    Service,
)
from referrals.selectors import follow_up_list_for_call, referral_event_data, referral_officer_status

log = logging.getLogger(__name__)


# --- People -------------------------------------------------------------------------------------
def person_create(*, actor, name="", alias="", date_of_birth=None, phone="", program=None) -> Person:
    """Record a person contacted on scene; every identifying field is optional. `program`: the
    program that met them (else the actor's only one, or the deployment's)."""
    program = program_resolve(program, actor=actor, action=None)
    return Person.objects.create(
        program=program,
        name=name.strip(),
        alias=alias.strip(),
        date_of_birth=date_of_birth,
        phone=phone.strip(),
        created_by=actor,
    )


def person_access_record(*, user, person: Person, kind: str = PersonAccess.Kind.VIEW, detail="") -> None:
    """Write the audit entry for someone opening (or merging) a person's record."""
    PersonAccess.objects.create(person=person, user=user, kind=kind, detail=detail[:200])


def _person_links(person: Person):
    """Every relation pointing at Person, found generically so that links other apps add later
    (the field app's outcomes, say) follow a merge without this module knowing them."""
    for relation in Person._meta.related_objects:
        if getattr(relation.related_model, "MERGE_KEEPS_ORIGINAL", False):
            continue
        if relation.related_model is Person:
            continue
        yield relation


def person_merge(*, actor, survivor: Person, merged: Person) -> Person:
    """Merge `merged` into `survivor`: everything linked to either ends up linked to the
    survivor, blank identity fields on the survivor are filled from the merged record, and
    the merged record is kept (marked merged_into) so that its audit trail still resolves.

    Refuses: merging a record into itself, or either record when it was already merged
    (`person_merged`); a one-to-one link both records hold (`merge_conflict`)."""
    if survivor.pk == merged.pk:
        raise ServiceConflict("same_person", "A record cannot be merged into itself.")
    with transaction.atomic():
        locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])}
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        if survivor.merged_into_id or merged.merged_into_id:
            raise ServiceConflict("person_merged", "One of these records was already merged.")
        # People are never merged across programs: each program keeps its own records.
        program_same(survivor.program_id, merged, "That person")
        moved = {}
        for relation in _person_links(merged):
            model, fk = relation.related_model, relation.field
            if relation.many_to_many:
                accessor = relation.get_accessor_name()
                others = list(getattr(merged, accessor).all())
                getattr(survivor, accessor).add(*others)
                getattr(merged, accessor).clear()
                count = len(others)
            else:
                rows = model._default_manager.filter(**{fk.name: merged})
                if (
                    relation.one_to_one
                    and rows.exists()
                    and model._default_manager.filter(**{fk.name: survivor}).exists()
                ):
                    raise ServiceConflict(
                        "merge_conflict", f"Both records have a {model._meta.verbose_name}."
                    )
                if model is FollowUp:
                    for follow_up in rows:
                        FollowUpChange.objects.create(
                            follow_up=follow_up,
                            kind=FollowUpChange.Kind.MERGED,
                            actor=actor,
                            changes={"person": [merged.pk, survivor.pk]},
                        )
                count = rows.update(**{fk.name: survivor})
            if count:
                moved[model._meta.label] = count
        filled = []
        for name in ("name", "alias", "date_of_birth", "phone"):
            if not getattr(survivor, name) and getattr(merged, name):
                setattr(survivor, name, getattr(merged, name))
                filled.append(name)
        survivor.save()
        merged.merged_into = survivor
        merged.save(update_fields=["merged_into"])
        summary = ", ".join(f"{label} ×{n}" for label, n in sorted(moved.items())) or "nothing linked"
        person_access_record(
            user=actor, person=survivor, kind=PersonAccess.Kind.MERGE, detail=f"#{merged.pk} in: {summary}"
        )
        person_access_record(
            user=actor, person=merged, kind=PersonAccess.Kind.MERGE, detail=f"into #{survivor.pk}"
        )
    return survivor


# --- Follow-ups ---------------------------------------------------------------------------------
def _notify_queue(follow_up: FollowUp, kind: str) -> None:
    """After commit, tell every open follow-up queue of its program to refresh. Losing this
    message loses nothing: the queue also refreshes itself on a slow timer."""
    follow_up_id, group = follow_up.pk, follow_up_group(follow_up.program_id)

    def send():
        try:
            async_to_sync(get_channel_layer().group_send)(
                group, {"type": "followup.changed", "id": follow_up_id, "kind": kind}
            )
        except Exception:
            log.exception("could not tell the follow-up queues about %s", follow_up_id)

    transaction.on_commit(send)


def _history(follow_up: FollowUp, kind: str, actor, changes: dict) -> None:
    FollowUpChange.objects.create(follow_up=follow_up, kind=kind, actor=actor, changes=changes)


def _jsonable(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Service):
        return value.pk
    if hasattr(value, "pk"):
        return value.pk
    return value


def _follow_up_program(actor, person, incident, referral):
    """A follow-up's program: its call's (or referral's, or person's), each of them of the same
    one; with none of them, the actor's only program or the deployment's. Refuses
    (ServiceInvalid on `program`) a person, call or referral of another program."""
    linked = [record for record in (incident, referral, person) if record is not None]
    if not linked:
        return program_resolve(None, actor=actor, action=None)
    program_id = linked[0].program_id
    for record, what in ((incident, "The call"), (referral, "The referral"), (person, "The person")):
        program_same(program_id, record, what)
    return linked[0].program


def follow_up_create(
    *,
    actor,
    service_type: str,
    consent: bool,
    notes: str = "",
    person: Person | None = None,
    incident=None,
    written_consent_to_share: bool | None = None,
    due_at=None,
    provider: Service | None = None,
    referral: PoliceReferral | None = None,
    case_manager=None,
) -> FollowUp:
    """Open a follow-up service connection for case managers, due 48 hours from now unless
    told otherwise, and announce it to every open queue. Refuses a service type outside
    FollowUp.ServiceType."""
    if service_type not in FollowUp.ServiceType.values:
        raise ValueError(f"unknown service type {service_type!r}")
    program = _follow_up_program(actor, person, incident, referral)
    with transaction.atomic():
        follow_up = FollowUp.objects.create(
            program=program,
            person=person,
            incident=incident,
            referral=referral,
            service_type=service_type,
            provider=provider,
            consent=consent,
            written_consent_to_share=written_consent_to_share,
            notes=notes,
            case_manager=case_manager,
            created_by=actor,
            due_at=due_at or timezone.now() + FollowUp.DEFAULT_DUE,
        )
        _history(
            follow_up,
            FollowUpChange.Kind.CREATED,
            actor,
            {
                "service_type": [None, service_type],
                "status": [None, follow_up.status],
                "due_at": [None, follow_up.due_at.isoformat()],
                **({"provider": [None, provider.pk]} if provider else {}),
            },
        )
        _notify_queue(follow_up, "created")
    return follow_up


def follow_up_for_call(
    *, actor, service_type: str, consent: bool, notes: str = "", person: Person | None = None, incident
) -> FollowUp:
    """The follow-up a team asks for at the end of a call: the open one already asked for on
    this call for the same service (the referring officer's, say), or a new one. Joining one
    adds what the team knows (the person, their notes, consent) and keeps that as history;
    it never makes a second follow-up for one need. Refuses what follow_up_create refuses."""
    with transaction.atomic():
        existing = (
            follow_up_list_for_call(incident)
            .filter(service_type=service_type, outcome__isnull=True)
            .select_for_update(of=("self",))
            .order_by("created_at")
            .first()
        )
        if existing is None:
            return follow_up_create(
                actor=actor,
                service_type=service_type,
                consent=consent,
                notes=notes,
                person=person,
                incident=incident,
            )
        changes = {}
        if existing.incident_id is None:
            existing.incident = incident
            changes["incident"] = [None, str(incident.pk)]
        if person is not None and existing.person_id is None:
            program_same(existing.program_id, person, "The person")
            existing.person = person
            changes["person"] = [None, person.pk]
        if consent and not existing.consent:
            existing.consent = True
            changes["consent"] = [False, True]
        notes = notes.strip()
        if notes:
            joined = f"{existing.notes}\n\nFrom the team on scene: {notes}".strip()
            changes["notes"] = [existing.notes, joined]
            existing.notes = joined
        if changes:
            existing.save()
            _history(existing, FollowUpChange.Kind.UPDATED, actor, changes)
            _notify_queue(existing, "updated")
        return existing


def _follow_up_for_update(follow_up_id) -> FollowUp:
    return FollowUp.objects.select_for_update().get(pk=follow_up_id)


def follow_up_claim(*, actor, follow_up_id) -> FollowUp:
    """Put an unassigned follow-up on the actor's caseload. Claiming one's own is a no-op.
    Refuses: a closed follow-up (`not_open`), one on someone else's caseload (`already_claimed`)."""
    with transaction.atomic():
        follow_up = _follow_up_for_update(follow_up_id)
        if follow_up.case_manager_id == actor.pk:
            return follow_up
        if not follow_up.is_open:
            raise ServiceConflict("not_open", "This follow-up is closed.")
        if follow_up.case_manager_id is not None:
            raise ServiceConflict("already_claimed", f"{follow_up.case_manager} already has this follow-up.")
        follow_up.case_manager = actor
        follow_up.save(update_fields=["case_manager", "updated_at"])
        _history(follow_up, FollowUpChange.Kind.CLAIMED, actor, {"case_manager": [None, actor.pk]})
        _notify_queue(follow_up, "claimed")
    return follow_up


def _check_transition(follow_up: FollowUp, status: str) -> None:
    allowed = FollowUp.TRANSITIONS.get(follow_up.status, ())
    if status not in allowed:
        raise ServiceConflict(
            "illegal_transition",
            f"A follow-up cannot go from {follow_up.status} to {status}; "
            f"allowed: {', '.join(allowed) or 'none'}.",
        )


def follow_up_record_attempt(
    *, actor, follow_up_id, method: str, result: str, at=None, notes: str = ""
) -> ContactAttempt:
    """Log one contact attempt; an open follow-up becomes attempted (per FollowUp.TRANSITIONS).
    Refuses attempts on a closed follow-up (`illegal_transition`) and unknown method/result
    (ValueError: forms and serializers check these first)."""
    if method not in ContactAttempt.Method.values or result not in ContactAttempt.Result.values:
        raise ValueError("unknown contact method or result")
    with transaction.atomic():
        follow_up = _follow_up_for_update(follow_up_id)
        if not follow_up.is_open:
            raise ServiceConflict("illegal_transition", "This follow-up is closed; no more attempts.")
        attempt = ContactAttempt.objects.create(
            follow_up=follow_up, at=at or timezone.now(), method=method, result=result, notes=notes, by=actor
        )
        changes = {"attempt": [None, {"method": method, "result": result, "at": attempt.at.isoformat()}]}
        if follow_up.status == FollowUp.Status.OPEN:
            _check_transition(follow_up, FollowUp.Status.ATTEMPTED)
            changes["status"] = [follow_up.status, FollowUp.Status.ATTEMPTED]
            follow_up.status = FollowUp.Status.ATTEMPTED
            follow_up.save(update_fields=["status", "updated_at"])
        _history(follow_up, FollowUpChange.Kind.ATTEMPT, actor, changes)
        _notify_queue(follow_up, "attempt")
    return attempt


def follow_up_transition(
    *, actor, follow_up_id, status: str, close_reason: str = "", provider: Service | None = None
) -> FollowUp:
    """Move a follow-up along FollowUp.TRANSITIONS. Connecting needs a provider (given here or
    already set); connecting a substance-use follow-up needs written consent to share (42 CFR
    Part 2); closing needs a reason from FollowUp.CloseReason, and only closing takes one.
    Refuses with `illegal_transition`, `provider_required`, `written_consent_required`,
    `close_reason_required`."""
    with transaction.atomic():
        follow_up = _follow_up_for_update(follow_up_id)
        _check_transition(follow_up, status)
        changes = {"status": [follow_up.status, status]}
        if status == FollowUp.Status.CLOSED:
            if close_reason not in FollowUp.CloseReason.values:
                raise ServiceConflict("close_reason_required", "Closing needs a reason.")
            follow_up.close_reason = close_reason
            follow_up.closed_at = timezone.now()
            changes["close_reason"] = [None, close_reason]
        elif close_reason:
            raise ServiceConflict("close_reason_required", "Only closing takes a reason.")
        if provider is not None and provider.pk != follow_up.provider_id:
            changes["provider"] = [follow_up.provider_id, provider.pk]
            follow_up.provider = provider
        if status == FollowUp.Status.CONNECTED:
            if follow_up.provider_id is None:
                raise ServiceConflict("provider_required", "Pick the provider the person was connected to.")
            if (
                follow_up.service_type == FollowUp.ServiceType.SUBSTANCE_USE
                and follow_up.written_consent_to_share is not True
            ):
                raise ServiceConflict(
                    "written_consent_required",
                    "Substance-use information goes to a provider only with written consent (42 CFR Part 2).",
                )
        follow_up.status = status
        follow_up.save()
        _history(follow_up, FollowUpChange.Kind.STATUS, actor, changes)
        _notify_queue(follow_up, "status")
    return follow_up


FOLLOW_UP_EDITABLE = ("provider", "consent", "written_consent_to_share", "due_at", "notes", "case_manager")


def follow_up_update(*, actor, follow_up_id, **values) -> FollowUp:
    """Change a follow-up's details (FOLLOW_UP_EDITABLE) and keep the difference as history.
    Refuses other fields (ValueError) and changes to a closed follow-up (`not_open`)."""
    unknown = set(values) - set(FOLLOW_UP_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        follow_up = _follow_up_for_update(follow_up_id)
        if not follow_up.is_open:
            raise ServiceConflict("not_open", "This follow-up is closed.")
        changes = {}
        for name, new in values.items():
            old = getattr(follow_up, name)
            if old != new:
                changes[name] = [_jsonable(old), _jsonable(new)]
                setattr(follow_up, name, new)
        if changes:
            follow_up.save()
            _history(follow_up, FollowUpChange.Kind.UPDATED, actor, changes)
            _notify_queue(follow_up, "updated")
    return follow_up


# --- Police referrals ---------------------------------------------------------------------------
@dataclass
class ReferralData:
    """A referral as an officer's form or the police API gives it, already validated."""

    urgency: str
    call_type_code: str
    address: str
    situation: str
    officer_name: str
    officer_callback: str
    consent_to_contact: bool
    latitude: float | None = None
    longitude: float | None = None
    location_details: str = ""
    safety_notes: str = ""
    external_id: str = ""
    person_name: str = ""
    person_alias: str = ""
    person_date_of_birth: date | None = None
    person_phone: str = ""
    person_description: str = ""
    screening: dict = field(default_factory=dict)
    service_needed: str = ""
    # The program it is filed with (a slug, an id or a Program); None: the filer's only one.
    program: object = None


def referral_file(*, actor, data: ReferralData, remember_callback: bool = False) -> PoliceReferral:
    """File a police referral. `now` becomes a police_referral incident in the dispatch queue
    (and on every dispatch console) in the same transaction; `later` joins the outreach queue.
    With the person's consent and a service they asked for, a follow-up is opened too. A
    person is recorded only when the officer gave something identifying. With
    `remember_callback` (an officer's own form), the callback is kept for their next one."""
    if data.urgency not in PoliceReferral.Urgency.values:
        raise ValueError(f"unknown urgency {data.urgency!r}")
    if data.service_needed and data.service_needed not in FollowUp.ServiceType.values:
        raise ValueError(f"unknown service type {data.service_needed!r}")
    # The call's place, looked up before the transaction: a slow geocoder holds no lock.
    urgent = data.urgency == PoliceReferral.Urgency.NOW
    place = address_geocode(data.address, data.latitude, data.longitude) if urgent else None
    with transaction.atomic():
        program = program_resolve(data.program, actor=actor, action=Action.REFERRAL_FILE)
        person = None
        if data.person_name or data.person_alias or data.person_date_of_birth or data.person_phone:
            person = person_create(
                actor=actor,
                program=program,
                name=data.person_name,
                alias=data.person_alias,
                date_of_birth=data.person_date_of_birth,
                phone=data.person_phone,
            )
        screening = data.screening or {}
        referral = PoliceReferral.objects.create(
            program=program,
            filed_by=actor,
            external_id=data.external_id,
            urgency=data.urgency,
            call_type_code=CallType.normalise_code(data.call_type_code),
            person=person,
            person_description=data.person_description,
            address=data.address,
            latitude=data.latitude,
            longitude=data.longitude,
            location_details=data.location_details,
            situation=data.situation,
            safety_notes=data.safety_notes,
            officer_name=data.officer_name,
            officer_callback=data.officer_callback,
            consent_to_contact=data.consent_to_contact,
            screen_weapons=screening.get("weapons"),
            screen_violence=screening.get("violence"),
            screen_medical_emergency=screening.get("medical_emergency"),
            screen_police_only=screening.get("police_only"),
            state=(
                PoliceReferral.State.DISPATCH
                if data.urgency == PoliceReferral.Urgency.NOW
                else PoliceReferral.State.QUEUED
            ),
            # The filer knows it was received: referral.updated tells what changes after.
            officer_status=PoliceReferral.OfficerStatus.RECEIVED,
        )
        if urgent:
            fields = fields_placed(_incident_fields(referral), place)
            referral.incident = incident_create(fields=fields, actor=actor, geocode=False, program=program)
            referral.save(update_fields=["incident"])
        if data.service_needed and data.consent_to_contact:
            follow_up_create(
                actor=actor,
                service_type=data.service_needed,
                consent=True,
                person=person,
                incident=referral.incident,
                referral=referral,
                notes="Asked for by the referring officer.",
            )
        if remember_callback and data.officer_callback:
            officer_contact_remember(user=actor, callback=data.officer_callback)
    return referral


def officer_contact_remember(*, user, callback: str) -> None:
    """Keep the officer's callback number for the next referral's form."""
    OfficerContact.objects.update_or_create(user=user, defaults={"callback": callback[:40]})


def _incident_fields(referral: PoliceReferral, *, received_at=None, narrative="") -> IncidentFields:
    parts = [f"Police referral: {referral.situation}"]
    if referral.person_description:
        parts.append(f"Person: {referral.person_description}")
    if referral.safety_notes:
        parts.append(f"Safety: {referral.safety_notes}")
    if referral.consent_to_contact is False:
        parts.append("The person did not agree to be contacted.")
    if narrative:
        parts.append(narrative)
    return IncidentFields(
        source=Incident.Source.POLICE_REFERRAL,
        call_type_code=referral.call_type_code,
        received_at=received_at or referral.created_at,
        address=referral.address,
        latitude=referral.latitude,
        longitude=referral.longitude,
        location_details=referral.location_details,
        caller_name=referral.officer_name,
        caller_phone=referral.officer_callback,
        narrative="\n".join(parts)[:10_000],
        screen_weapons=referral.screen_weapons,
        screen_violence=referral.screen_violence,
        screen_medical_emergency=referral.screen_medical_emergency,
        screen_police_only=referral.screen_police_only,
    )


OUTREACH_OVERRIDE = "Claimed from the outreach queue by the team."


def referral_claim(*, actor, referral_id, unit) -> PoliceReferral:
    """A unit on shift takes a non-urgent referral from the outreach queue, and works it like
    any call: a police_referral incident is created and assigned to the unit (dispatch's
    assignment_create, acknowledged: the team chose it), so the tablet has it offline, with
    its steps, and its outcome is the one every call ends in. Refuses one that is not waiting
    in the queue (`already_claimed`), and what assignment_create refuses (`unit_unavailable`:
    the unit is on another call)."""
    with transaction.atomic():
        referral = PoliceReferral.objects.select_for_update().get(pk=referral_id)
        if referral.state != PoliceReferral.State.QUEUED:
            raise ServiceConflict("already_claimed", "Another unit has this referral, or it is finished.")
        now = timezone.now()
        program_same(referral.program_id, unit, unit.callsign, field="unit")
        incident = incident_create(
            fields=_incident_fields(referral, received_at=now), actor=actor, program=referral.program
        )
        # The officer's screening may be unsure (not eligible on its own): the team that
        # claims it decides, as a dispatcher's override would.
        try:
            assignment = assignment_create(
                incident_id=incident.pk,
                callsign=unit.callsign,
                actor=actor,
                override_reason=OUTREACH_OVERRIDE,
            )
        except ServiceConflict as exc:
            if exc.code != "unit_unavailable":
                raise
            raise ServiceConflict(
                "unit_unavailable",
                f"{unit.callsign} is on another call: clear it first, then claim this referral.",
            ) from exc
        assignment_acknowledge(assignment_id=assignment.pk, actor=actor)
        referral.state = PoliceReferral.State.CLAIMED
        referral.claimed_by_unit = unit
        referral.claimed_by = actor
        referral.claimed_at = now
        referral.incident = incident
        referral.save()
        referral_status_announce(referral)
    return referral


def referral_require_held(referral: PoliceReferral, unit) -> None:
    """Refuses with `not_claimed` unless `unit` holds the referral: the one check before a unit
    gives back an outreach referral."""
    if referral.state != PoliceReferral.State.CLAIMED or referral.claimed_by_unit_id != unit.pk:
        raise ServiceConflict("not_claimed", "Your unit does not hold this referral.")


def referral_release(*, actor, referral_id, unit) -> PoliceReferral:
    """Give a claimed referral back to the queue: its call is cancelled (the unit is free, the
    tablet told) and the referral waits for a unit again, with no call. Refuses unless `unit`
    holds it (`not_claimed`), and once the team has reached the scene (`already_on_scene`:
    record the outcome instead)."""
    with transaction.atomic():
        referral = PoliceReferral.objects.select_for_update().get(pk=referral_id)
        referral_require_held(referral, unit)
        if referral.incident_id is not None:
            incident = referral.incident
            if incident.assignments.filter(on_scene_at__isnull=False).exists():
                raise ServiceConflict(
                    "already_on_scene", "Your team has been on scene: record the outcome of the call instead."
                )
            incident_cancel(incident=incident, actor=actor, reason="Given back to the outreach queue.")
        referral.state = PoliceReferral.State.QUEUED
        referral.claimed_by_unit = referral.claimed_by = referral.claimed_at = None
        referral.incident = None
        referral.save()
        referral_status_announce(referral)
    return referral


def referral_outcome_recorded(*, incident, contact_made: bool, at) -> PoliceReferral | None:
    """The outcome of an outreach referral's call was recorded (field.services.outcome_record,
    in its transaction): the referral is finished. Returns it, or None when the incident is
    not a claimed outreach referral's (an urgent referral's call carries its own progress)."""
    referral = (
        PoliceReferral.objects.select_for_update()
        .filter(incident=incident, state=PoliceReferral.State.CLAIMED)
        .first()
    )
    if referral is None:
        return None
    referral.state = PoliceReferral.State.FINISHED
    referral.contact_made = contact_made
    referral.finished_at = at
    referral.save(update_fields=["state", "contact_made", "finished_at", "updated_at"])
    referral_status_announce(referral)
    return referral


def referral_status_announce(referral: PoliceReferral) -> bool:
    """Tell the filer that what they may see of the referral changed (referral.updated, which
    their police client's webhook carries; referrals.selectors.referral_event_data), in the
    caller's transaction, which holds the change. A status already told is not told again.
    Returns whether it told."""
    status = referral_officer_status(referral)
    if status == referral.officer_status:
        return False
    PoliceReferral.objects.filter(pk=referral.pk).update(officer_status=status)
    referral.officer_status = status
    event_record(EventType.REFERRAL_UPDATED, referral_event_data(referral))
    return True


_INCIDENT_EVENTS = {EventType.INCIDENT_CREATED, EventType.INCIDENT_UPDATED}
_ASSIGNMENT_EVENTS = {
    EventType.ASSIGNMENT_CREATED,
    EventType.ASSIGNMENT_UPDATED,
    EventType.ASSIGNMENT_CANCELLED,
}


def referrals_follow_their_incidents(sender, events, **kwargs) -> None:
    """Receiver of dispatch.events.events_recorded: an urgent referral's status follows its
    incident (assigned, contact made, closed), which dispatch changes without knowing of
    referrals. Costs nothing for an incident that did not come from a referral (the event
    says where it came from)."""
    incident_ids = set()
    for event in events:
        if event.type in _INCIDENT_EVENTS:
            incident = event.data
        elif event.type in _ASSIGNMENT_EVENTS:
            incident = event.data.get("incident") or {}
        else:
            continue
        if incident.get("source") == Incident.Source.POLICE_REFERRAL:
            incident_ids.add(incident["id"])
    if not incident_ids:
        return
    referrals = (
        PoliceReferral.objects.filter(incident_id__in=incident_ids)
        .select_related("incident")
        .prefetch_related("incident__assignments")
    )
    for referral in referrals:
        referral_status_announce(referral)


# --- The service directory --------------------------------------------------------------------------
def directory_save(*, form):
    """Save a validated directory ModelForm (organization or service) with its many-to-many
    links in one transaction."""
    with transaction.atomic():
        return form.save()
