"""What each region of the console shows: the contexts its template partials render.

The console is one page (dispatch/console.html) made of regions and rows, each a template
partial. The page renders them all; a live event re-fetches only the rows it names (one call's
row, one unit's row), so what travels after a change is the size of that change.
"""

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from dispatch import selectors
from dispatch.formatting import duration, user_name
from dispatch.forms import AssignForm, IntakeForm, PhoneContactForm
from dispatch.geo import distance_km
from dispatch.models import (
    ACTIVE_ASSIGNMENT_STATUSES,
    Assignment,
    ClinicianTransfer,
    Incident,
    Unit,
)
from dispatch.programs import program_label
from dispatch.roles import Action, may_work_clinician_queue, programs_for
from dispatch.screening import DISQUALIFIERS, REASON_LABELS

# Short labels for the queue; the intake form shows the supervisors' full prompts.
SCREENING_LABELS = {
    "weapons": "Weapons",
    "violence": "Violence",
    "medical_emergency": "Medical",
    "police_only": "Police-only",
}
ANSWER_LABELS = {True: "Yes", False: "No", None: "Not asked"}
# The urgent calls a dispatcher has marked seen in the alert bar (per dispatcher: their session).
SEEN_URGENT_KEY = "console_seen_urgent"
SEEN_URGENT_KEPT = 200
# How a backup request's kind (field.models.BackupRequest.Kind, kept in the alert's data) reads.
BACKUP_KIND_LABELS = {"police": "police", "ems": "EMS"}


def _age(now: datetime, moment: datetime | None) -> str:
    return duration((now - moment).total_seconds()) if moment else ""


def km_text(km: float | None) -> str:
    return f"{km:.1f} km" if km is not None else "position unknown"


def _transfer_of(incident: Incident) -> ClinicianTransfer | None:
    try:
        return incident.clinician_transfer
    except ClinicianTransfer.DoesNotExist:
        return None


def _sort_key(incident: Incident) -> str:
    """The queue's order as one string the page can compare: eligible first, then priority
    (none last), then the oldest call (selectors.incident_queue orders the same way)."""
    moment = "%Y%m%d%H%M%S%f"
    created = incident.created_at or incident.received_at
    return (
        f"{0 if incident.eligible else 1}{incident.priority or 9}"
        f"{incident.received_at.astimezone(UTC).strftime(moment)}{created.astimezone(UTC).strftime(moment)}"
    )


def _screening(incident: Incident) -> list[tuple[str, str, bool | None]]:
    return [
        (SCREENING_LABELS[key], ANSWER_LABELS[incident.screening[key]], incident.screening[key])
        for key in DISQUALIFIERS
    ]


# --- The queue: one row per call ------------------------------------------------------------
def _coordinate(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _flags(answers: dict) -> SafeString:
    """The screening in a few words: each disqualifier answered yes, how many were not asked,
    or that all four were asked and none applies."""
    parts = [
        format_html('<span class="flag flag-yes">{}</span> ', SCREENING_LABELS[key])
        for key in DISQUALIFIERS
        if answers[key] is True
    ]
    unasked = sum(1 for key in DISQUALIFIERS if answers[key] is None)
    if unasked:
        parts.append(format_html('<span class="flag flag-unasked">{} not asked</span>', unasked))
    elif not parts:
        parts.append(CLEAR_FLAG)
    return mark_safe("".join(parts))  # every part came out of format_html


CLEAR_FLAG = mark_safe('<span class="flag flag-clear">Clear</span>')
NO_PRIORITY = mark_safe(
    '<span class="pri pri-none"><span aria-hidden="true">–</span>'
    '<span class="sr-only">No priority</span></span>'
)
SOURCE_LABELS = dict(Incident.Source.choices)


def queue_row(incident: Incident, *, now, open_ids: set[str] | None = None, duplicated_by: int = 0) -> dict:
    """One call's row: what decides it at a glance. `open_ids` (the whole queue's) narrows its
    possible duplicates to calls still in the queue. The values are prepared here rather than
    in the template: the console renders two hundred of these, and each template lookup and
    filter costs more than the line of Python that replaces it."""
    answers = incident.screening
    active = getattr(incident, "active_assignments", None)
    if active is None:
        active = list(
            incident.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).select_related("unit")
        )
    assignment = active[0] if active else None
    transfer = _transfer_of(incident)
    transferred = transfer is not None and transfer.outcome == ClinicianTransfer.Outcome.OPEN
    duplicates = list(incident.possible_duplicates)
    if open_ids is not None:
        duplicates = [d for d in duplicates if d in open_ids]
    needs_screening = any(answers[key] is None for key in DISQUALIFIERS)
    sort = _sort_key(incident)
    classes = ["incident", "is-eligible" if incident.eligible else "is-ineligible"]
    if assignment is not None:
        classes.append("is-assigned")
    if duplicates:
        classes.append("is-duplicate")
    code, address = incident.call_type_code, incident.address
    return {
        "incident": incident,
        "id": str(incident.pk),
        "classes": " ".join(classes),
        "data": format_html(
            ' data-incident="{}" data-sort="{}" data-status="{}" data-eligible="{}" data-needs-screening="{}"'
            ' data-transferred="{}" data-priority="{}" data-call-type="{}" data-address="{}" data-lat="{}"'
            ' data-lon="{}" data-duplicates="{}"',
            incident.pk,
            sort,
            incident.status,
            "1" if incident.eligible else "0",
            "1" if needs_screening else "0",
            "1" if transferred else "0",
            incident.priority or "",
            code,
            address,
            _coordinate(incident.latitude),
            _coordinate(incident.longitude),
            " ".join(duplicates),
        ),
        "label": f"{code} at {address}",
        "code": code,
        # Which program's call: shown when the deployment has several.
        "program": program_label(incident.program_id),
        "address": address,
        "place_title": f"{address} · {incident.location_details}" if incident.location_details else address,
        "source": SOURCE_LABELS.get(incident.source, incident.source),
        "eligible": incident.eligible,
        "priority_badge": (
            format_html('<span class="pri pri-{}">P{}</span>', incident.priority, incident.priority)
            if incident.priority
            else NO_PRIORITY
        ),
        "received_iso": incident.received_at.isoformat(),
        "age": _age(now, incident.received_at),
        "sort": sort,
        "flags": _flags(answers),
        "reasons_text": "; ".join(REASON_LABELS.get(r, r) for r in incident.eligibility_reasons),
        "needs_screening": needs_screening,
        "transfer": transfer,
        "transferred": transferred,
        "assignment": assignment,
        "state": f"{assignment.unit.callsign} · {assignment.get_status_display()}" if assignment else "",
        "placed": incident.latitude is not None and incident.longitude is not None,
        "duplicates": duplicates,
        "duplicated_by": duplicated_by,
        "details": None,
    }


def queue_context(request, *, open_details: dict | None = None) -> dict:
    """Every open call's row. `open_details`: {incident id: assign form} for rows rendered
    open, with that (bound) form in their details: a form error answered without JavaScript."""
    now = timezone.now()
    incidents = list(selectors.incident_queue(request.user, console_program(request)))
    open_ids = {str(i.pk) for i in incidents}
    later: dict[str, int] = {}
    for incident in incidents:
        for original in incident.possible_duplicates:
            if original in open_ids:
                later[original] = later.get(original, 0) + 1
    rows = [
        queue_row(incident, now=now, open_ids=open_ids, duplicated_by=later.get(str(incident.pk), 0))
        for incident in incidents
    ]
    if open_details:
        available = list(selectors.unit_list(request.user).filter(status=Unit.Status.AVAILABLE))
        for row in rows:
            if row["incident"].pk in open_details:
                row["details"] = details_context(
                    row["incident"], form=open_details[row["incident"].pk], available=available, now=now
                )
    return {
        "queue_rows": rows,
        "queue_counts": {
            "needs_screening": sum(1 for r in rows if r["needs_screening"]),
            "transferred": sum(1 for r in rows if r["transferred"]),
            "eligible": sum(1 for r in rows if r["incident"].eligible),
        },
    }


def row_context(request, incident_id, *, details: bool) -> dict:
    """One call's row, alone: what a live event re-fetches. `row` is None when the call is no
    longer in the queue (closed, cancelled, never was, or is of a program the console does not
    show now), and the page removes it."""
    incident = selectors.incident_console(request.user, incident_id)
    shown = selectors.console_program_ids(request.user, console_program(request))
    if incident is None or not incident.is_open or (shown is not None and incident.program_id not in shown):
        return {"row": None, "incident_id": incident_id}
    now = timezone.now()
    row = queue_row(incident, now=now, duplicated_by=selectors.incident_duplicated_by_count(incident))
    if details:
        row["details"] = details_context(incident, now=now)
    return {"row": row, "incident_id": incident_id}


# --- Which programs the console shows ----------------------------------------------------------
# The program a dispatcher of several narrowed their console to (its id; per session).
CONSOLE_PROGRAM_KEY = "console_program"


def console_program(request) -> int | None:
    """The program this console is narrowed to (an id), or None: every program of the viewer."""
    return request.session.get(CONSOLE_PROGRAM_KEY)


def console_programs_context(request) -> dict:
    """The console's program control: shown to a dispatcher of more than one program."""
    programs = list(programs_for(request.user, Action.DISPATCH_CONSOLE).order_by("name"))
    return {
        "console_programs": programs if len(programs) > 1 else [],
        "console_program": console_program(request),
        "program_names": {program.pk: program.name for program in programs} if len(programs) > 1 else {},
    }


# --- A call's details: opened in place --------------------------------------------------------
def unit_options(ranked: list[tuple[Unit, float | None]], chosen: str) -> list[tuple[str, bool, str]]:
    """The Assign control's choices, best first: (callsign, selected, label)."""
    options = []
    for index, (unit, km) in enumerate(ranked):
        label = f"{unit.callsign}{' (recommended)' if index == 0 else ''} · {km_text(km)}"
        options.append((unit.callsign, unit.callsign == chosen, label))
    return options


def details_context(incident: Incident, *, form: AssignForm | None = None, available=None, now=None) -> dict:
    """What a call's details show: all of its screening, its place and how it was found, the
    possible duplicates with the one action that links it to one, and its actions (the
    assign control with every available unit ranked by distance)."""
    now = now or timezone.now()
    pending = incident.status == Incident.Status.PENDING
    if available is None and pending:
        available = list(Unit.objects.filter(status=Unit.Status.AVAILABLE, program_id=incident.program_id))
    ranked = selectors.units_ranked_for(incident, available) if pending else []
    if form is None and pending:
        form = AssignForm(incident=incident, initial={"unit": ranked[0][0].callsign if ranked else ""})
    chosen = ""
    if form is not None:
        chosen = (form.data.get("unit") if form.is_bound else form.initial.get("unit")) or ""
    active = getattr(incident, "active_assignments", None)
    if active is None:
        active = list(
            incident.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).select_related("unit")
        )
    originals = []
    if incident.possible_duplicates:
        found = Incident.objects.filter(
            pk__in=incident.possible_duplicates, program_id=incident.program_id
        ).select_related("call_type")
        by_id = {str(o.pk): o for o in found}
        for original_id in incident.possible_duplicates:
            original = by_id.get(original_id)
            if original is None:
                continue
            km = None
            if None not in (incident.latitude, incident.longitude, original.latitude, original.longitude):
                km = distance_km(incident.latitude, incident.longitude, original.latitude, original.longitude)
            originals.append(
                {
                    "incident": original,
                    "earlier": duration((incident.received_at - original.received_at).total_seconds()),
                    "metres": round(km * 1000) if km is not None else None,
                    "same_address": bool(incident.address_key)
                    and original.address_key == incident.address_key,
                }
            )
    return {
        "incident": incident,
        "received_age": _age(now, incident.received_at),
        "screening": _screening(incident),
        "reasons": [REASON_LABELS.get(r, r) for r in incident.eligibility_reasons],
        "assignment": active[0] if active else None,
        "transfer": _transfer_of(incident),
        "form": form,
        "unit_options": unit_options(ranked, chosen),
        "recommended": ranked[0] if ranked else None,
        "recommended_km": km_text(ranked[0][1]) if ranked else "",
        "placed": incident.latitude is not None and incident.longitude is not None,
        "originals": originals,
        "linked": list(incident.duplicates.select_related("call_type").order_by("received_at")),
    }


# --- The unit board ---------------------------------------------------------------------------
def _unit_row(unit: Unit, *, now, assignment, backups) -> dict:
    backup = backups[0] if backups else None
    return {
        "unit": unit,
        "program": program_label(unit.program_id),
        "in_status": _age(now, unit.status_changed_at),
        "members": [user_name(s.user) for s in unit.on_shift],
        "on_shift": bool(unit.on_shift),
        "assignment": assignment,
        "dispatched_ago": _age(now, assignment.dispatched_at) if assignment else "",
        "backup": backup,
        "backup_open": backup is not None and backup.acknowledged_at is None,
        "backup_kind": BACKUP_KIND_LABELS.get(backup.data.get("kind"), "backup") if backup else "",
        "located": unit.latitude is not None and unit.longitude is not None,
        "position_age": _age(now, unit.location_at),
    }


def _console_units(request):
    units = selectors.unit_list(request.user)
    shown = selectors.console_program_ids(request.user, console_program(request))
    return units if shown is None else units.filter(program_id__in=shown)


def units_context(request) -> dict:
    now = timezone.now()
    units = list(_console_units(request).order_by("callsign"))
    active = {
        a.unit_id: a
        for a in Assignment.objects.filter(
            status__in=ACTIVE_ASSIGNMENT_STATUSES, unit__in=[u.pk for u in units]
        ).select_related("incident")
    }
    backups = selectors.unit_backups(request.user)
    rows = [
        _unit_row(unit, now=now, assignment=active.get(unit.pk), backups=backups.get(unit.pk, []))
        for unit in units
    ]
    return {"unit_rows": rows, "units_on_shift": sum(1 for r in rows if r["on_shift"])}


def unit_row_context(request, callsign: str) -> dict:
    """One unit's row, alone (None when there is no such unit, or none the console shows)."""
    unit = _console_units(request).filter(callsign=callsign).first()
    if unit is None:
        return {"unit_row": None, "callsign": callsign}
    assignment = (
        Assignment.objects.filter(unit=unit, status__in=ACTIVE_ASSIGNMENT_STATUSES)
        .select_related("incident")
        .first()
    )
    backups = selectors.unit_backups(request.user).get(unit.pk, [])
    return {
        "unit_row": _unit_row(unit, now=timezone.now(), assignment=assignment, backups=backups),
        "callsign": callsign,
    }


# --- The alert bar ----------------------------------------------------------------------------
def alerts_context(request) -> dict:
    """What the alert bar shows, most pressing first: urgent alerts (urgent backup requests,
    assignments not acknowledged in time), then urgent calls no team has been sent to (until
    this dispatcher marks them seen), then the other alerts."""
    now = timezone.now()
    program = console_program(request)
    alerts = list(selectors.alert_list_open(request.user, program))
    seen = set(request.session.get(SEEN_URGENT_KEY, []))
    calls = [i for i in selectors.incident_urgent_waiting(request.user, program) if str(i.pk) not in seen]
    items = [
        {
            "kind": "alert",
            "key": f"alert-{a.pk}",
            "alert": a,
            "urgent": a.urgent,
            "age": _age(now, a.raised_at),
        }
        for a in alerts
    ]
    call_items = [
        {
            "kind": "call",
            "key": f"call-{i.pk}",
            "incident": i,
            "urgent": True,
            "age": _age(now, i.received_at),
        }
        for i in calls
    ]
    first_routine = next((n for n, item in enumerate(items) if not item["urgent"]), len(items))
    items[first_routine:first_routine] = call_items
    return {"alert_items": items, "alert_count": len(items)}


def urgent_seen_add(request, incident_id) -> None:
    """Remember, for this dispatcher's session, that they have seen an urgent call."""
    seen = [i for i in request.session.get(SEEN_URGENT_KEY, []) if i != str(incident_id)]
    seen.append(str(incident_id))
    request.session[SEEN_URGENT_KEY] = seen[-SEEN_URGENT_KEPT:]


# --- The clinicians' queue and intake ----------------------------------------------------------
def clinician_context(request, bound_forms=None) -> dict:
    if not may_work_clinician_queue(request.user):
        count = selectors.clinician_queue(request.user, console_program(request)).count()
        return {"is_clinician": False, "clinician_count": count}
    bound_forms = bound_forms or {}
    available = list(selectors.unit_list(request.user).filter(status=Unit.Status.AVAILABLE))
    now = timezone.now()
    rows = []
    for transfer in selectors.clinician_queue(request.user, console_program(request)):
        incident = transfer.incident
        ranked = selectors.units_ranked_for(incident, available)
        assign_form = bound_forms.get(("assign", incident.pk)) or AssignForm(
            incident=incident, initial={"unit": ranked[0][0].callsign if ranked else ""}
        )
        chosen = (
            assign_form.data.get("unit") if assign_form.is_bound else assign_form.initial.get("unit")
        ) or ""
        rows.append(
            {
                "transfer": transfer,
                "waiting": _age(now, transfer.transferred_at),
                "incident": incident,
                "reasons": [REASON_LABELS.get(r, r) for r in incident.eligibility_reasons],
                "screening": _screening(incident),
                "contact_form": bound_forms.get(("contact", incident.pk)) or PhoneContactForm(),
                "assign_form": assign_form,
                "unit_options": unit_options(ranked, chosen),
            }
        )
    return {"is_clinician": True, "clinician_rows": rows}


def intake_programs(request) -> dict:
    """What IntakeForm needs to know of the caller: the programs they may take calls for."""
    return {"programs": programs_for(request.user, Action.INCIDENT_CREATE_BY_HAND).order_by("name", "slug")}


def intake_context(request, form=None, created=None) -> dict:
    context = {"intake_form": form or IntakeForm(**intake_programs(request)), "created": created}
    if created is not None:
        ranked = selectors.units_ranked_for(created)
        context.update(
            {
                "created_reasons": [REASON_LABELS.get(r, r) for r in created.eligibility_reasons],
                "created_placed": created.latitude is not None and created.longitude is not None,
                "created_recommended": ranked[0][0] if ranked else None,
                "created_recommended_km": km_text(ranked[0][1]) if ranked else "",
            }
        )
    return context
