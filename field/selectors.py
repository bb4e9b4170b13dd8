"""Reads for the tablet. A responder sees only the unit they are on shift with; what that
means for assignments is decided once, in dispatch.selectors.assignment_list_visible."""

import re
from collections import defaultdict
from datetime import timedelta

from django.db.models import Max, QuerySet
from django.utils import timezone

from dispatch.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, ClinicianTransfer, Event, Incident, Unit
from dispatch.roles import Action, scope
from dispatch.selectors import assignment_list_visible, shift_current, unit_partners
from dispatch.timestamps import utc_iso
from field.models import NEMSIS_CANCELLED_ON_SCENE, NEMSIS_UNIT_DISPOSITIONS, BackupRequest, Outcome
from referrals.models import FollowUp
from referrals.selectors import follow_up_services_for_calls

PREMISE_HISTORY_DAYS = 90


def unit_list_startable(user=None) -> QuerySet[Unit]:
    """Units a responder may start a shift on: any not out of service."""
    units = Unit.objects.exclude(status=Unit.Status.OUT_OF_SERVICE).order_by("callsign")
    return units if user is None else scope(units, user, Action.FIELD_APP)


def assignment_list_for_tablet(user) -> QuerySet[Assignment]:
    return assignment_list_visible(user).select_related("incident__call_type")


def assignment_current(user) -> Assignment | None:
    """The unit's active assignment, if it has one."""
    return assignment_list_for_tablet(user).filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).first()


def assignment_recently_cancelled(user, *, minutes=30) -> Assignment | None:
    """A call dispatch took back in the last half hour, so the tablet can say so after a reload."""
    since = timezone.now() - timedelta(minutes=minutes)
    return (
        assignment_list_for_tablet(user)
        .filter(status=Assignment.Status.CANCELLED, cancelled_at__gte=since)
        .order_by("-cancelled_at")
        .first()
    )


def assignment_list_missing_outcome(user) -> QuerySet[Assignment]:
    """The unit's cleared assignments that still need an outcome, oldest first."""
    return (
        assignment_list_for_tablet(user)
        .filter(status=Assignment.Status.CLEARED, outcome__isnull=True)
        .order_by("cleared_at")
    )


def assignment_created_event_id(assignment) -> int | None:
    """The id of the event that pushed this assignment, which the tablet's `ack` names."""
    from dispatch.events import EventType

    return (
        Event.objects.filter(
            unit_id=assignment.unit_id, type=EventType.ASSIGNMENT_CREATED, data__id=str(assignment.pk)
        )
        .values_list("id", flat=True)
        .first()
    )


def event_latest_id() -> int:
    """Where a freshly rendered tablet resumes from: everything it shows is at most this new."""
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def backup_list_recent(unit_id, *, hours=12) -> QuerySet[BackupRequest]:
    since = timezone.now() - timedelta(hours=hours)
    return BackupRequest.objects.filter(unit_id=unit_id, requested_at__gte=since).select_related("alert")[:5]


def premise_history(incident: Incident, *, days=PREMISE_HISTORY_DAYS) -> list[dict]:
    """Earlier contacts at the same address in the last `days` days: when, what call type,
    and the outcome's coarse category. Nothing else leaves this function — no narrative, no
    screening, no person, no services or destination — so no template can show it."""
    since = timezone.now() - timedelta(days=days)
    earlier = (
        Incident.objects.filter(
            program_id=incident.program_id, address__iexact=incident.address.strip(), received_at__gte=since
        )
        .exclude(pk=incident.pk)
        .exclude(received_at__gt=incident.received_at)
        .order_by("-received_at")
        .values("pk", "received_at", "call_type_code", "status")[:20]
    )
    rows = list(earlier)
    dispositions = dict(
        Outcome.objects.filter(assignment__incident_id__in=[r["pk"] for r in rows]).values_list(
            "assignment__incident_id", "disposition"
        )
    )
    history = []
    for row in rows:
        disposition = dispositions.get(row["pk"])
        category = Outcome.CATEGORIES[disposition] if disposition else Incident.Status(row["status"]).label
        history.append({"date": row["received_at"], "call_type": row["call_type_code"], "outcome": category})
    return history


def outcome_counts(*, since=None) -> dict:
    """Outcomes recorded, dispatched calls and self-initiated encounters counted apart."""
    qs = Outcome.objects.all()
    if since is not None:
        qs = qs.filter(recorded_at__gte=since)
    return {
        "dispatched": qs.filter(self_initiated=False).count(),
        "self_initiated": qs.filter(self_initiated=True).count(),
    }


# --- What the tablet keeps to work offline ----------------------------------------------------
def tablet_state(user) -> dict:
    """Everything the tablet's screen shows, as data: the page embeds it, GET /field/state
    answers it, and the tablet keeps the newest copy in IndexedDB, so a reload or a restart in
    a dead zone still shows the call (static/js/field/state.js). `as_of` says how new it is;
    `last_event_id` is where the tablet's socket resumes from: read first, so nothing the
    state leaves out is skipped."""
    last_event_id = event_latest_id()
    state = {
        "as_of": utc_iso(timezone.now()),
        "user": user.pk,
        "last_event_id": last_event_id,
        "unit": None,
        "assignment": None,
        "cancelled": None,
        "missing_outcomes": [],
        "backups": [],
    }
    shift = shift_current(user)
    if shift is None:
        return state
    unit = shift.unit
    state["unit"] = {
        "id": unit.pk,
        "callsign": unit.callsign,
        "status": unit.status,
        "status_label": unit.get_status_display(),
        "partners": unit_partners(unit.pk, user),
    }
    current = assignment_current(user)
    missing = list(assignment_list_missing_outcome(user)[:20])
    calls = [*([current] if current else []), *missing]
    backups, follow_ups = _backups_by_assignment(calls), _follow_ups_by_incident(calls)
    if current is not None:
        state["assignment"] = {
            **_assignment_brief(current, backups, follow_ups),
            "acknowledged": current.acknowledged_at is not None,
            "ack_event_id": assignment_created_event_id(current),
            "incident": _incident_for_tablet(current.incident),
            "premise_history": [
                {**row, "date": timezone.localdate(row["date"]).isoformat()}
                for row in premise_history(current.incident)
            ],
        }
    else:
        cancelled = assignment_recently_cancelled(user)
        if cancelled is not None:
            state["cancelled"] = {
                "id": str(cancelled.pk),
                "label": _label(cancelled),
                "cancelled_at": utc_iso(cancelled.cancelled_at),
            }
    state["missing_outcomes"] = [_assignment_brief(a, backups, follow_ups) for a in missing]
    state["backups"] = [
        {
            "id": b.pk,
            "kind": b.kind,
            "kind_label": b.get_kind_display(),
            "urgent": b.urgent,
            "requested_at": utc_iso(b.requested_at),
            "acknowledged": bool(b.alert and b.alert.acknowledged_at),
        }
        for b in backup_list_recent(unit.pk)
    ]
    return state


def _label(assignment) -> str:
    return f"{assignment.incident.call_type_code} at {assignment.incident.address}"


def _assignment_brief(assignment, backups: dict, follow_ups: dict) -> dict:
    """An assignment as the tablet's outcome form needs it: what defaults the form takes from
    the call (the backup asked for on it, the follow-ups already asked for)."""
    kinds = backups.get(assignment.pk, set())
    return {
        "id": str(assignment.pk),
        "label": _label(assignment),
        "status": assignment.status,
        "steps": {name: utc_iso(getattr(assignment, name)) for name in Assignment.TIMESTAMPS},
        "transport_destination": assignment.transport_destination,
        "backup": {kind: kind in kinds for kind in BackupRequest.Kind.values},
        "requested_follow_ups": follow_ups.get(assignment.incident_id, []),
        "source": assignment.incident.source,
    }


def _incident_for_tablet(incident: Incident) -> dict:
    return {
        "call_type": incident.call_type_code,
        "call_type_name": incident.call_type.name if incident.call_type else "",
        "priority": incident.priority,
        "source": incident.source,
        "address": incident.address,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "location_details": incident.location_details,
        "caller_name": incident.caller_name,
        "caller_phone": incident.caller_phone,
        # A dialler wants digits: "+1 (555) 010-0100" becomes tel:+15550100100.
        "caller_tel": re.sub(r"[^\d+]", "", incident.caller_phone),
        "tandem": list(incident.tandem or []),
        "screening": incident.screening,
        "narrative": incident.narrative,
    }


def _backups_by_assignment(assignments) -> dict:
    kinds = defaultdict(set)
    rows = BackupRequest.objects.filter(assignment__in=[a.pk for a in assignments]).values_list(
        "assignment_id", "kind"
    )
    for assignment_id, kind in rows:
        kinds[assignment_id].add(kind)
    return kinds


def _follow_ups_by_incident(assignments) -> dict:
    labels = dict(FollowUp.ServiceType.choices)
    asked = follow_up_services_for_calls([a.incident_id for a in assignments])
    return {incident_id: [labels[s] for s in services] for incident_id, services in asked.items()}


# --- An incident's end, in codes others understand ------------------------------------------


def incident_disposition(incident: Incident) -> dict | None:
    """How a closed or cancelled incident ended, as an EIDO's disposition carries it (settings
    EIDO_DISPOSITION; dispatch.selectors.incident_eido): `code`, NEMSIS eDisposition.27, and
    `text`, the outcome's own words. From the team's outcome when one was recorded; a call the
    clinicians resolved by phone, or one cancelled, without it; None while a cleared call still
    waits for its outcome."""
    outcome = (
        Outcome.objects.filter(assignment__incident=incident)
        .exclude(assignment__status=Assignment.Status.CANCELLED)
        .order_by("-recorded_at", "-id")
        .first()
    )
    disposition = outcome.disposition if outcome is not None else None
    if disposition is None:
        resolved_by_phone = ClinicianTransfer.objects.filter(
            incident=incident, outcome=ClinicianTransfer.Outcome.RESOLVED_BY_PHONE
        ).exists()
        if resolved_by_phone:
            disposition = Outcome.Disposition.RESOLVED_BY_PHONE
        elif incident.status == Incident.Status.CANCELLED:
            if incident.assignments.filter(on_scene_at__isnull=False).exists():
                return {
                    "code": NEMSIS_CANCELLED_ON_SCENE,
                    "text": NEMSIS_UNIT_DISPOSITIONS[NEMSIS_CANCELLED_ON_SCENE],
                }
            disposition = Outcome.Disposition.CANCELLED_BEFORE_ARRIVAL
    if disposition is None:
        return None
    return {
        "code": Outcome.NEMSIS_UNIT_DISPOSITION[disposition],
        "text": Outcome.Disposition(disposition).label,
    }
