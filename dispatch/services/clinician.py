"""The embedded clinician (dispatch model 2): the clinicians' queue and phone resolutions."""

from django.db import transaction
from django.utils import timezone

from dispatch.events import EventType, event_record
from dispatch.models import ClinicianTransfer, Incident, IncidentChange, PhoneContact
from dispatch.services.conflicts import ServiceConflict
from dispatch.services.incidents import incident_close, transfer_close
from dispatch.services.payloads import incident_event_data


def _pending_incident_for_update(incident_id) -> Incident:
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
        incident = _pending_incident_for_update(incident_id)
        if ClinicianTransfer.objects.filter(incident=incident).exists():
            raise ServiceConflict("already_transferred", "This call was already transferred to a clinician.")
        transfer = ClinicianTransfer.objects.create(
            incident=incident,
            program_id=incident.program_id,
            transferred_by=actor,
            transferred_at=timezone.now(),
            note=note.strip()[:500],
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
        incident = _pending_incident_for_update(incident_id)
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
        transfer.save(update_fields=["clinician"])
        if resolve:
            transfer_close(incident, ClinicianTransfer.Outcome.RESOLVED_BY_PHONE, now=now, transfer=transfer)
            incident_close(
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
        event_record(EventType.INCIDENT_UPDATED, incident_event_data(incident))
    return transfer
