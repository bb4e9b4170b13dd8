"""Incidents: created from every channel, screened, updated by their sender, cancelled, closed."""

import copy
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch.eido import EidoIncident
from dispatch.events import EventType, event_record, events_record
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    ApiClient,
    Assignment,
    CallType,
    ClinicianTransfer,
    Incident,
    IncidentChange,
    Unit,
)
from dispatch.screening import eligibility
from dispatch.services.conflicts import ServiceConflict
from dispatch.services.payloads import assignment_event_data, incident_event_data, unit_event_data
from dispatch.services.units import unit_set_status


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


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _apply_fields(incident: Incident, fields: IncidentFields) -> dict:
    """Set fields and eligibility on the incident; return {field: [old, new]} of what changed."""
    changes = {}
    values = dict(fields.__dict__)
    values["tandem"] = list(values["tandem"] or [])
    values["call_type_code"] = CallType.normalise_code(values["call_type_code"])
    values["call_type"] = CallType.objects.filter(code=values["call_type_code"]).first()
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


def incident_create(
    *,
    fields: IncidentFields,
    actor,
    api_client: ApiClient | None = None,
    external_id: str = "",
    eido_updated_at: datetime | None = None,
) -> Incident:
    """Create an incident, screen it, record its history and announce it to dispatch."""
    with transaction.atomic():
        incident = Incident(
            api_client=api_client, external_id=external_id, created_by=actor, eido_updated_at=eido_updated_at
        )
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
    return _upsert(client, data)


def incident_upsert_from_eido(*, client: ApiClient, eido: EidoIncident, data: dict) -> tuple[Incident, bool]:
    """incident_upsert_from_api for a NENA EIDO: `data` is what the EIDO says in the incident
    API's terms (eido.as_incident_input(), validated), and the EIDO's `$id` its external_id.

    Promises, beside what incident_upsert_from_api does: an EIDO that says nothing of a call
    type, an address or a screening question is stored all the same (pending, with the reasons
    unknown_call_type / screening_incomplete); on an update, what it does not say keeps what
    the incident already holds (a dispatcher's completed screening survives the CAD's next
    re-issue); the EIDO's lastUpdateTimeStamp is kept, and an EIDO last updated before the one
    already stored changes nothing (returns the incident, not created)."""
    return _upsert(client, data, eido=eido)


def _upsert(client: ApiClient, data: dict, *, eido: EidoIncident | None = None) -> tuple[Incident, bool]:
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
                        fields=fields,
                        actor=client.user,
                        api_client=client,
                        external_id=external_id,
                        eido_updated_at=eido.last_update if eido is not None else None,
                    )
                    if data.get("cancelled"):
                        incident_cancel(incident=incident, actor=client.user)
                    return incident, True
                if eido is not None:
                    if eido.is_older_than(incident.eido_updated_at):
                        return incident, False
                    data = _unsaid_kept(data, incident)
                _incident_update(
                    incident,
                    IncidentFields.from_api(data, existing=incident),
                    client.user,
                    cancel=data.get("cancelled") is True,
                )
                if eido is not None and incident.eido_updated_at != eido.last_update:
                    # Bookkeeping, not a change anyone is told of: the next re-issue is compared with it.
                    Incident.objects.filter(pk=incident.pk).update(eido_updated_at=eido.last_update)
                    incident.eido_updated_at = eido.last_update
                return incident, False
        except IntegrityError:
            # A concurrent post created the same external_id first: go round as an update.
            continue
    raise ServiceConflict("concurrent_update", "The incident changed while this request ran; send it again.")


def _unsaid_kept(data: dict, incident: Incident) -> dict:
    """An EIDO's update with what it leaves blank taken from the stored incident: the call type,
    the address, the point, each screening answer it does not give."""
    data = copy.deepcopy(data)
    if not data["call_type"]:
        data["call_type"] = incident.call_type_code
    location = data["location"]
    if not location["address"]:
        location["address"] = incident.address
    if location.get("latitude") is None and incident.latitude is not None:
        location["latitude"], location["longitude"] = incident.latitude, incident.longitude
    if not location.get("details"):
        location["details"] = incident.location_details
    stored = incident.screening
    data["screening"] = {
        key: stored[key] if answer is None else answer for key, answer in data["screening"].items()
    }
    return data


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
        incident_data = incident_event_data(incident)
        active = incident.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).select_related("unit")
        events_record(
            [
                (EventType.INCIDENT_UPDATED, incident_data, None),
                # The team on the call sees a change to it (new screening, new narrative) at once.
                *(
                    (EventType.ASSIGNMENT_UPDATED, assignment_event_data(a, incident_data), a.unit)
                    for a in active
                ),
            ]
        )
    if cancel:
        incident_cancel(incident=incident, actor=actor)


def incident_cancel(*, incident: Incident, actor, reason: str = "") -> Incident:
    """Cancel an open incident. Its active assignment is cancelled too, the unit is free
    again, the unit's tablet is told at once, and a call waiting for a clinician leaves
    their queue. Cancelling a cancelled incident is a no-op; a closed one is refused with
    `incident_not_open`."""
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
        transfer_close(incident, ClinicianTransfer.Outcome.CANCELLED, now=now)
        history = {"status": [old_status, "cancelled"]}
        if reason:
            history["reason"] = [None, reason]
        IncidentChange.objects.create(
            incident=incident, kind=IncidentChange.Kind.CANCELLED, actor=actor, changes=history
        )
        # After the incident is saved: the tablet's assignment.cancelled carries the incident,
        # and it must say cancelled (the tablet gets no incident.updated).
        events = _assignment_cancel(active, now) if active is not None else []
        events.append((EventType.INCIDENT_UPDATED, incident_event_data(incident), None))
        events_record(events)
    return incident


def _assignment_cancel(assignment: Assignment, now) -> list:
    """Cancel the incident's active assignment and free its unit; returns the events to record."""
    unit = Unit.objects.select_for_update().get(pk=assignment.unit_id)
    assignment.status = Assignment.Status.CANCELLED
    assignment.cancelled_at = now
    assignment.save(update_fields=["status", "cancelled_at"])
    unit_changed = unit_set_status(unit, Unit.Status.AVAILABLE, now=now, announce=False)
    assignment.unit = unit
    return [
        *([(EventType.UNIT_UPDATED, unit_event_data(unit), unit)] if unit_changed else []),
        (EventType.ASSIGNMENT_CANCELLED, assignment_event_data(assignment), unit),
    ]


def incident_close(incident: Incident, *, actor, now, changes: dict) -> None:
    """Close an incident inside the caller's transaction (which holds its lock), with its
    history: the end of every call, whether its unit cleared it or nobody was sent (resolved
    by phone, an outreach encounter finished). The caller records the incident.updated event
    once it has made all its changes."""
    old_status = incident.status
    incident.status = Incident.Status.CLOSED
    incident.closed_at = now
    incident.save(update_fields=["status", "closed_at", "updated_at"])
    IncidentChange.objects.create(
        incident=incident,
        kind=IncidentChange.Kind.STATUS,
        actor=actor,
        changes={"status": [old_status, "closed"], **changes},
    )


def transfer_close(incident: Incident, outcome: str, *, now, transfer=None) -> bool:
    """Close the incident's clinician transfer, if one is still open, with `outcome`: whatever
    assigns, cancels or resolves a call ends its wait in the clinicians' queue. Pass
    `transfer` when the caller holds it already, to spare a query. Returns whether it closed
    one."""
    if transfer is None:
        waiting = ClinicianTransfer.objects.filter(incident=incident, outcome=ClinicianTransfer.Outcome.OPEN)
        return bool(waiting.update(outcome=outcome, closed_at=now))
    if transfer.outcome != ClinicianTransfer.Outcome.OPEN:
        return False
    transfer.outcome = outcome
    transfer.closed_at = now
    transfer.save(update_fields=["outcome", "closed_at"])
    return True
