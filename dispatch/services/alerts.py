"""Alerts: what a dispatcher must see and acknowledge."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dispatch.events import EventType, event_record
from dispatch.models import ACTIVE_ASSIGNMENT_STATUSES, Alert, Assignment
from dispatch.programs import sole_program
from dispatch.services.payloads import alert_event_data


def alert_create(*, kind: str, message: str, unit=None, assignment=None, urgent=False, data=None) -> Alert:
    """The alert row alone, inside the caller's transaction: for a service that records the
    alert's event together with its own (alert_event_data), in one call."""
    program_id = getattr(unit, "program_id", None) or getattr(assignment, "program_id", None)
    if program_id is None:
        program_id = sole_program().pk
    return Alert.objects.create(
        program_id=program_id,
        kind=kind,
        message=message[:300],
        unit=unit,
        assignment=assignment,
        urgent=urgent,
        data=data or {},
        raised_at=timezone.now(),
    )


def alert_raise(*, kind: str, message: str, unit=None, assignment=None, urgent=False, data=None) -> Alert:
    """Raise an alert on every dispatch console (and tell the unit's tablet, when it has one)."""
    with transaction.atomic():
        alert = alert_create(
            kind=kind, message=message, unit=unit, assignment=assignment, urgent=urgent, data=data
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
