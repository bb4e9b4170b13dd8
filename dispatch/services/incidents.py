"""Incidents: created from every channel, screened, placed, updated by their sender, cancelled,
closed, linked to the call they duplicate."""

import copy
import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from math import cos, radians

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dispatch import geocoding
from dispatch.eido import EidoIncident
from dispatch.events import EventType, event_record, events_record
from dispatch.geo import distance_km
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    ApiClient,
    Assignment,
    CallType,
    ClinicianTransfer,
    Incident,
    IncidentChange,
    Program,
    Unit,
)
from dispatch.programs import program_for_location, program_slug
from dispatch.roles import Action
from dispatch.screening import eligibility, local_call_type
from dispatch.services.conflicts import ServiceConflict, ServiceInvalid
from dispatch.services.payloads import assignment_event_data, incident_event_data, unit_event_data
from dispatch.services.programs import program_resolve, program_same
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
    # Whether latitude/longitude came from geocoding the address (incident_geocode).
    geocoded: bool = False

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
    # The incident's program decides with its local changes to the standard applied.
    local = local_call_type(incident.program_id, incident.call_type)
    decision = eligibility(incident.call_type, incident.screening, local)
    if incident.eligible != decision.eligible or list(incident.eligibility_reasons) != decision.reasons:
        changes["eligibility"] = [
            {"eligible": incident.eligible, "reasons": list(incident.eligibility_reasons)},
            decision.as_dict(),
        ]
    incident.eligible = decision.eligible
    incident.eligibility_reasons = decision.reasons
    incident.address_key = geocoding.address_key(incident.address)
    return changes


# --- Places: geocoding ----------------------------------------------------------------------
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """Where an incident is: its coordinates (None when unknown) and whether geocoding the
    address found them."""

    latitude: float | None
    longitude: float | None
    geocoded: bool


def address_geocode(address: str, latitude: float | None = None, longitude: float | None = None) -> Place:
    """The place of an incident: given coordinates stand; an address without them is looked up
    in dispatch.geocoding (the HTTP geocoder when one is set, else or failing that the
    gazetteer). Nobody knowing the address leaves it unplaced, for a dispatcher to place.

    Never raises and never refuses: a geocoder that fails or does not answer within
    GEOCODER_TIMEOUT_SECONDS costs that long at most. Call it before opening the transaction
    that writes the incident, so a slow geocoder holds no lock."""
    if latitude is not None and longitude is not None:
        return Place(latitude, longitude, geocoded=False)
    if not (address or "").strip():
        return Place(None, None, geocoded=False)
    try:
        found = geocoding.geocode(address)
    except Exception:  # the geocoder promises not to raise; an incident never depends on it
        log.exception("geocoding %r failed", address[:80])
        found = None
    if found is None:
        return Place(None, None, geocoded=False)
    return Place(found.latitude, found.longitude, geocoded=True)


def incident_geocode(fields: IncidentFields) -> IncidentFields:
    """The fields placed by address_geocode (every channel's incident passes through here or
    through address_geocode before its transaction)."""
    if fields.latitude is not None and fields.longitude is not None:
        return fields
    return fields_placed(fields, address_geocode(fields.address))


def fields_placed(fields: IncidentFields, place: Place) -> IncidentFields:
    return dataclasses.replace(
        fields, latitude=place.latitude, longitude=place.longitude, geocoded=place.geocoded
    )


# --- Places: possible duplicates ------------------------------------------------------------
DUPLICATE_WINDOW = Incident.DUPLICATE_WINDOW
DUPLICATE_RADIUS_KM = Incident.DUPLICATE_RADIUS_KM
_OPEN = (Incident.Status.PENDING, Incident.Status.ASSIGNED)


def _same_place(incident: Incident, other: Incident) -> bool:
    if incident.address_key and other.address_key == incident.address_key:
        return True
    if None in (incident.latitude, incident.longitude, other.latitude, other.longitude):
        return False
    return distance_km(incident.latitude, incident.longitude, other.latitude, other.longitude) <= (
        DUPLICATE_RADIUS_KM
    )


def _duplicates_find(incident: Incident) -> list[str]:
    """The ids of the open incidents at the incident's place received in the hour before it
    (received at the same moment: created before it), oldest first. One query, bounded by the
    received_at index and the place."""
    place = Q(address_key=incident.address_key) if incident.address_key else Q(pk__in=[])
    if incident.latitude is not None and incident.longitude is not None:
        # A box around the point first (150 m in degrees), the exact distance after.
        dlat = DUPLICATE_RADIUS_KM / 111.0
        dlon = dlat / max(0.01, cos(radians(incident.latitude)))
        place |= Q(
            latitude__range=(incident.latitude - dlat, incident.latitude + dlat),
            longitude__range=(incident.longitude - dlon, incident.longitude + dlon),
        )
    candidates = (
        Incident.objects.filter(
            place,
            program_id=incident.program_id,
            status__in=_OPEN,
            received_at__gte=incident.received_at - DUPLICATE_WINDOW,
            received_at__lte=incident.received_at,
        )
        .exclude(pk=incident.pk)
        .only("id", "received_at", "created_at", "address_key", "latitude", "longitude")
        .order_by("received_at", "created_at")
    )
    found = []
    for other in candidates:
        # Received at the same moment: the one written first is the original.
        if (
            other.received_at == incident.received_at
            and incident.created_at is not None
            and other.created_at >= incident.created_at
        ):
            continue
        if _same_place(incident, other):
            found.append(str(other.pk))
    return found


def _duplicates_forget(incident: Incident) -> list:
    """An incident that is no longer open is nobody's possible duplicate: take it out of the
    later incidents that list it, and return their incident.updated events to record."""
    later = Incident.objects.filter(
        status__in=_OPEN,
        received_at__gte=incident.received_at,
        received_at__lte=incident.received_at + DUPLICATE_WINDOW,
    ).exclude(pk=incident.pk)
    gone = str(incident.pk)
    events = []
    for other in later:
        if gone in other.possible_duplicates:
            other.possible_duplicates = [i for i in other.possible_duplicates if i != gone]
            other.save(update_fields=["possible_duplicates", "updated_at"])
            events.append((EventType.INCIDENT_UPDATED, incident_event_data(other), None))
    return events


def incident_create(
    *,
    fields: IncidentFields,
    actor,
    api_client: ApiClient | None = None,
    external_id: str = "",
    geocode: bool = True,
    eido_updated_at: datetime | None = None,
    program=None,
) -> Incident:
    """Create an incident, place it, screen it, find its possible duplicates, record its
    history and announce it to dispatch. An address without coordinates is geocoded first
    (incident_geocode), outside this function's transaction; pass `geocode=False` when the
    caller has placed the fields already (before its own transaction).

    `program`: the program it belongs to (dispatch.services.programs.program_resolve: the API
    client's, else the one given, else the creator's only one, else the deployment's)."""
    if program is None and api_client is not None and api_client.program_id is not None:
        program = api_client.program
    program = program_resolve(program, actor=actor, action=Action.INCIDENT_READ)
    if geocode:
        fields = incident_geocode(fields)
    with transaction.atomic():
        incident = Incident(
            api_client=api_client,
            external_id=external_id,
            created_by=actor,
            eido_updated_at=eido_updated_at,
            program=program,
        )
        changes = _apply_fields(incident, fields)
        changes.pop("eligibility", None)
        incident.possible_duplicates = _duplicates_find(incident)
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
        # A call just created has no assignment yet: nothing to read.
        event_record(EventType.INCIDENT_CREATED, incident_event_data(incident, assignments=[]))
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


def api_program_route(client: ApiClient, data: dict) -> Program:
    """The program an API client's new incident goes to (CONTRACT.md "Programs"): a program's
    client's own (naming another: PermissionDenied, a 403); a statewide client's named one
    (unknown: ServiceInvalid on `program`), else the program whose service area holds the
    location's coordinates (none, or no coordinates: ServiceConflict no_program_for_location)."""
    slug = data.get("program") or None
    if client.program_id is not None:
        if slug is not None and slug != program_slug(client.program_id):
            raise PermissionDenied("This client works for another program.")
        return client.program
    if slug is not None:
        program = Program.objects.filter(slug=slug).first()
        if program is None:
            raise ServiceInvalid("program", f"There is no program {slug}.")
        return program
    location = data.get("location") or {}
    program = program_for_location(location.get("latitude"), location.get("longitude"))
    if program is None:
        raise ServiceConflict(
            "no_program_for_location",
            "No program's service area holds this location: send its coordinates or name the program.",
        )
    return program


def _upsert(client: ApiClient, data: dict, *, eido: EidoIncident | None = None) -> tuple[Incident, bool]:
    external_id = data["external_id"]
    # Placed before the transaction: a slow geocoder must not hold the incident's lock.
    place = _api_place(client, data)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                incident = (
                    Incident.objects.select_for_update()
                    .filter(api_client=client, external_id=external_id)
                    .first()
                )
                if incident is None:
                    program = api_program_route(client, data)
                    fields = _placed(IncidentFields.from_api(data), place, None)
                    incident = incident_create(
                        program=program,
                        fields=fields,
                        actor=client.user,
                        api_client=client,
                        external_id=external_id,
                        geocode=False,
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
                    _placed(IncidentFields.from_api(data, existing=incident), place, incident),
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


def _kept_place(data: dict, stored: Incident | None) -> bool:
    """An update that repeats the address of an incident placed by geocoding, without
    coordinates, keeps that point: a CAD re-sends its whole incident on every change, and
    neither a second lookup nor a geocoder down this time should move or unplace it."""
    location = data["location"]
    return (
        stored is not None
        and stored.geocoded
        and location.get("latitude") is None
        and stored.address == location["address"]
    )


def _api_place(client: ApiClient, data: dict) -> IncidentFields | None:
    """The geocoded fields for an API post that needs them (an address, no coordinates, and
    not the unchanged address of an incident already placed), else None."""
    location = data["location"]
    if location.get("latitude") is not None:
        return None
    stored = (
        Incident.objects.filter(api_client=client, external_id=data["external_id"])
        .only("address", "geocoded", "latitude", "longitude")
        .first()
    )
    if _kept_place(data, stored):
        return None
    return incident_geocode(IncidentFields.from_api(data))


def _placed(fields: IncidentFields, place: IncidentFields | None, stored: Incident | None) -> IncidentFields:
    """`fields` with the place decided for them: given coordinates stand; the stored geocoded
    point stays for an unchanged address (judged again on the locked row); else the
    geocoder's answer, asked before the transaction (or now, if the row changed meanwhile)."""
    if fields.latitude is not None:
        return dataclasses.replace(fields, geocoded=False)
    if stored is not None and stored.geocoded and stored.address == fields.address:
        return fields_placed(fields, Place(stored.latitude, stored.longitude, geocoded=True))
    if place is None or place.address != fields.address:
        place = incident_geocode(fields)
    return fields_placed(fields, Place(place.latitude, place.longitude, place.geocoded))


# A change to any of these may put the incident at another place, or in another hour.
PLACE_FIELDS = ("address", "latitude", "longitude", "received_at")


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
        if any(name in changes for name in PLACE_FIELDS):
            duplicates = _duplicates_find(incident)
            if duplicates != incident.possible_duplicates:
                changes["possible_duplicates"] = [incident.possible_duplicates, duplicates]
                incident.possible_duplicates = duplicates
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
        events.extend(_duplicates_forget(incident))
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
    once it has made all its changes; the later calls that listed it as a possible duplicate
    lose it here, with their own incident.updated."""
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
    forgotten = _duplicates_forget(incident)
    if forgotten:
        events_record(forgotten)


def incident_link_duplicate(*, incident_id, original_id, actor) -> Incident:
    """Close an open call as a duplicate of another call about the same thing (its
    `duplicate_of`), with that reason in its history; a wait in the clinicians' queue ends
    with it. Dispatch is told of the closed call.

    Refuses: linking a call to itself (ServiceInvalid on `original`); `incident_not_open`
    when the call is closed or cancelled already; `already_assigned` when a team is on it
    (cancel or clear that first: the team's tablet must be told); `original_not_usable` when
    the original was cancelled or was itself closed as a duplicate (link to its original).
    Raises Incident.DoesNotExist for an id that names no incident."""
    if str(incident_id) == str(original_id):
        raise ServiceInvalid("original", "A call cannot be a duplicate of itself.")
    with transaction.atomic():
        # Both rows locked, in id order, as any two services locking the same pair would.
        locked = {
            str(i.pk): i
            for i in Incident.objects.select_for_update()
            .filter(pk__in=[incident_id, original_id])
            .order_by("pk")
        }
        incident, original = locked.get(str(incident_id)), locked.get(str(original_id))
        if incident is None or original is None:
            raise Incident.DoesNotExist
        program_same(incident.program_id, original, "That call", field="original")
        if not incident.is_open:
            raise ServiceConflict("incident_not_open", f"The call is {incident.status}.")
        if incident.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).exists():
            raise ServiceConflict(
                "already_assigned", "A team is on this call: cancel or clear its assignment first."
            )
        if original.status == Incident.Status.CANCELLED or original.duplicate_of_id is not None:
            raise ServiceConflict(
                "original_not_usable",
                "That call was cancelled or is itself a duplicate: link to the call it duplicates.",
            )
        now = timezone.now()
        incident.duplicate_of = original
        incident.save(update_fields=["duplicate_of", "updated_at"])
        transfer_close(incident, ClinicianTransfer.Outcome.CANCELLED, now=now)
        incident_close(
            incident,
            actor=actor,
            now=now,
            changes={"duplicate_of": [None, str(original.pk)], "resolution": [None, "duplicate"]},
        )
        event_record(EventType.INCIDENT_UPDATED, incident_event_data(incident))
    return incident


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
