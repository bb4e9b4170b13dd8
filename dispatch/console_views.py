"""The dispatcher console: the queue, the unit board, alerts, intake and the clinicians' queue.

One template (dispatch/console.html) renders the whole page and each region as a partial.
The page's script re-fetches a region when a live event says it changed; every action
answers with the regions it changed as htmx out-of-band swaps (or, without JavaScript, a
redirect back to the console or the page with its errors).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from dispatch import selectors, services
from dispatch.formatting import duration
from dispatch.forms import AssignForm, CancelForm, IntakeForm, PhoneContactForm, TransferForm
from dispatch.models import ACTIVE_ASSIGNMENT_STATUSES, Alert, Assignment, ClinicianTransfer, Incident, Unit
from dispatch.roles import Action, may_work_clinician_queue, role_required
from dispatch.screening import DISQUALIFIERS, REASON_LABELS

TEMPLATE = "dispatch/console.html"
# The regions a live event may ask the page to re-fetch.
REGIONS = ("queue", "units", "alerts", "clinician")
# Short labels for the queue; the intake form shows the supervisors' full prompts.
SCREENING_LABELS = {
    "weapons": "Weapons",
    "violence": "Violence",
    "medical_emergency": "Medical",
    "police_only": "Police-only",
}
ANSWER_LABELS = {True: "Yes", False: "No", None: "Not asked"}


NO_UNIT_OPTION = mark_safe('<option value="">No unit available</option>')


def _unit_options(ranked, form) -> SafeString:
    """The Assign control's <option>s, best first, the chosen one selected. Built here in one
    pass rather than by a template loop: the queue re-renders on every live event and a loop
    over every unit for every call was most of its time."""
    chosen = (form.data.get("unit") if form.is_bound else form.initial.get("unit")) or ""
    rows = []
    for index, (unit, km) in enumerate(ranked):
        where = f"{km:.1f} km" if km is not None else "position unknown"
        label = f"{unit.callsign}{' (recommended)' if index == 0 else ''} · {where}"
        rows.append((unit.callsign, " selected" if unit.callsign == chosen else "", label))
    if not rows:
        return NO_UNIT_OPTION
    return format_html_join("", '<option value="{}"{}>{}</option>', rows)


def _transfer_of(incident: Incident) -> ClinicianTransfer | None:
    try:
        return incident.clinician_transfer
    except ClinicianTransfer.DoesNotExist:
        return None


# --- What each region shows ---------------------------------------------------------------------
def _queue_context(request, bound_forms=None) -> dict:
    bound_forms = bound_forms or {}
    now = timezone.now()
    available = list(Unit.objects.filter(status=Unit.Status.AVAILABLE))
    rows = []
    for incident in selectors.incident_queue():
        pending = incident.status == Incident.Status.PENDING
        ranked = selectors.units_ranked_for(incident, available) if pending else []
        form = bound_forms.get(incident.pk)
        if form is None and pending:
            form = AssignForm(incident=incident, initial={"unit": ranked[0][0].callsign if ranked else ""})
        rows.append(
            {
                "incident": incident,
                "age": duration((now - incident.received_at).total_seconds()),
                "screening": [
                    (SCREENING_LABELS[key], ANSWER_LABELS[incident.screening[key]], incident.screening[key])
                    for key in DISQUALIFIERS
                ],
                "reasons": [REASON_LABELS.get(r, r) for r in incident.eligibility_reasons],
                "assignment": incident.active_assignments[0] if incident.active_assignments else None,
                "transfer": _transfer_of(incident),
                "form": form,
                "unit_options": _unit_options(ranked, form) if form is not None else "",
                "has_units": bool(ranked),
            }
        )
    return {"queue_rows": rows}


def _units_context(request) -> dict:
    now = timezone.now()
    active = {
        a.unit_id: a
        for a in Assignment.objects.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES).select_related("incident")
    }
    rows = []
    for unit in selectors.unit_list().order_by("callsign"):
        rows.append(
            {
                "unit": unit,
                "in_status": duration((now - unit.status_changed_at).total_seconds())
                if unit.status_changed_at
                else "",
                "members": [s.user.get_full_name() or s.user.username for s in unit.on_shift],
                "assignment": active.get(unit.pk),
            }
        )
    return {"unit_rows": rows}


def _alerts_context(request) -> dict:
    now = timezone.now()
    return {
        "alerts": [
            {"alert": alert, "age": duration((now - alert.raised_at).total_seconds())}
            for alert in selectors.alert_list_open()
        ]
    }


def _clinician_context(request, bound_forms=None) -> dict:
    if not may_work_clinician_queue(request.user):
        return {"is_clinician": False, "clinician_count": selectors.clinician_queue().count()}
    bound_forms = bound_forms or {}
    available = list(Unit.objects.filter(status=Unit.Status.AVAILABLE))
    now = timezone.now()
    rows = []
    for transfer in selectors.clinician_queue():
        incident = transfer.incident
        ranked = selectors.units_ranked_for(incident, available)
        assign_form = bound_forms.get(("assign", incident.pk)) or AssignForm(
            incident=incident, initial={"unit": ranked[0][0].callsign if ranked else ""}
        )
        rows.append(
            {
                "transfer": transfer,
                "waiting": duration((now - transfer.transferred_at).total_seconds()),
                "incident": incident,
                "reasons": [REASON_LABELS.get(r, r) for r in incident.eligibility_reasons],
                "screening": [
                    (SCREENING_LABELS[key], ANSWER_LABELS[incident.screening[key]], incident.screening[key])
                    for key in DISQUALIFIERS
                ],
                "contact_form": bound_forms.get(("contact", incident.pk)) or PhoneContactForm(),
                "assign_form": assign_form,
                "unit_options": _unit_options(ranked, assign_form),
                "has_units": bool(ranked),
            }
        )
    return {"is_clinician": True, "clinician_rows": rows}


def _intake_context(request, form=None, created=None) -> dict:
    created_reasons = [REASON_LABELS.get(r, r) for r in created.eligibility_reasons] if created else []
    return {"intake_form": form or IntakeForm(), "created": created, "created_reasons": created_reasons}


BUILDERS = {
    "queue": _queue_context,
    "units": _units_context,
    "alerts": _alerts_context,
    "clinician": _clinician_context,
}


def _full_context(request, **overrides) -> dict:
    # Read the newest event id before the state: an event in between is replayed and only
    # re-fetches a region, while reading it after could skip one.
    context = {"last_event_id": selectors.event_last_id()}
    context.update(_intake_context(request))
    for build in BUILDERS.values():
        context.update(build(request))
    context.update(overrides)
    return context


def _answer(request, *, regions: dict, flash: str, status: int = 200, page_overrides=None):
    """Answer an action. htmx: the changed regions and the message as out-of-band swaps.
    Without JavaScript: back to the console on success, or the page with its errors."""
    error = status >= 400
    if request.htmx:
        parts = [
            render_to_string(f"{TEMPLATE}#{name}", {**context, "oob": True}, request)
            for name, context in regions.items()
        ]
        parts.append(
            render_to_string(
                f"{TEMPLATE}#flash", {"flash": flash, "flash_error": error, "oob": True}, request
            )
        )
        return HttpResponse("".join(parts), status=status)
    if not error:
        messages.success(request, flash)
        return redirect("dispatch:console")
    context = _full_context(request)
    for region_context in regions.values():
        context.update(region_context)
    context.update(page_overrides or {})
    context.update({"flash": flash, "flash_error": True})
    return render(request, TEMPLATE, context, status=status)


def _conflict_message(conflict: services.ServiceConflict) -> str:
    return CONFLICT_MESSAGES.get(conflict.code, conflict.detail)


CONFLICT_MESSAGES = {
    "unit_unavailable": "That unit is no longer available. Choose another.",
    "already_assigned": "A team is already on this call.",
    "incident_not_open": "This call is closed or cancelled.",
    "not_eligible": "This call is not eligible: give a reason to send a team anyway.",
    "already_transferred": "This call was already transferred to a clinician.",
    "not_transferred": "This call is not waiting in the clinicians' queue.",
}


def _incident(incident_id) -> Incident:
    return get_object_or_404(Incident, pk=incident_id)


# --- Pages and regions ----------------------------------------------------------------------------
@role_required(Action.DISPATCH_CONSOLE)
@require_GET
def console(request):
    return render(request, TEMPLATE, _full_context(request))


@role_required(Action.DISPATCH_CONSOLE)
@require_GET
def console_region(request, name):
    """One region of the console, re-fetched by the page when a live event touches it."""
    if name not in REGIONS:
        raise Http404
    return render(request, f"{TEMPLATE}#{name}", BUILDERS[name](request))


# --- Actions --------------------------------------------------------------------------------------
@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def incident_assign(request, incident_id):
    incident = _incident(incident_id)
    form = AssignForm(request.POST, incident=incident)
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        return _answer(
            request,
            regions={
                "queue": _queue_context(request, {incident.pk: form}),
                "clinician": _clinician_context(request, {("assign", incident.pk): form}),
            },
            flash=f"Not assigned: {errors}",
            status=400,
        )
    try:
        assignment = services.assignment_create(
            incident_id=incident.pk,
            callsign=form.cleaned_data["unit"],
            actor=request.user,
            override_reason=form.cleaned_data["override_reason"],
        )
    except services.ServiceConflict as conflict:
        return _answer(
            request,
            regions={"queue": _queue_context(request), "units": _units_context(request)},
            flash=f"Not assigned: {_conflict_message(conflict)}",
            status=409,
        )
    return _answer(
        request,
        regions={
            "queue": _queue_context(request),
            "units": _units_context(request),
            "clinician": _clinician_context(request),
        },
        flash=f"{assignment.unit.callsign} sent to {incident.call_type_code} at {incident.address}.",
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def incident_cancel(request, incident_id):
    incident = _incident(incident_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _answer(
            request,
            regions={"queue": _queue_context(request)},
            flash="Not cancelled: the reason is too long.",
            status=400,
        )
    try:
        services.incident_cancel(incident=incident, actor=request.user, reason=form.cleaned_data["reason"])
    except services.ServiceConflict as conflict:
        return _answer(
            request,
            regions={"queue": _queue_context(request)},
            flash=f"Not cancelled: {_conflict_message(conflict)}",
            status=409,
        )
    return _answer(
        request,
        regions={
            "queue": _queue_context(request),
            "units": _units_context(request),
            "clinician": _clinician_context(request),
        },
        flash=f"Cancelled {incident.call_type_code} at {incident.address}.",
    )


@role_required(Action.INCIDENT_CREATE_BY_HAND)
@require_POST
def intake(request):
    """A hotline, 988 or direct-line call taken in the console (dispatch model 3)."""
    form = IntakeForm(request.POST)
    if not form.is_valid():
        return _answer(
            request,
            regions={"intake": _intake_context(request, form)},
            flash="The call was not saved: correct the marked answers.",
            status=400,
            page_overrides={"intake_open": True},
        )
    incident = services.incident_create(fields=form.incident_fields(), actor=request.user)
    verdict = "eligible for a team" if incident.eligible else "not eligible without an override"
    return _answer(
        request,
        regions={
            "intake": _intake_context(request, created=incident),
            "queue": _queue_context(request),
        },
        flash=f"Saved {incident.call_type_code} at {incident.address}: {verdict}.",
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def incident_transfer(request, incident_id):
    """A call taker hands a pending call to the clinicians' queue (dispatch model 2)."""
    incident = _incident(incident_id)
    form = TransferForm(request.POST)
    if not form.is_valid():
        return _answer(
            request,
            regions={"queue": _queue_context(request)},
            flash="Not transferred: the note is too long (500 characters at most).",
            status=400,
        )
    try:
        services.incident_transfer_to_clinician(
            incident_id=incident.pk, actor=request.user, note=form.cleaned_data["note"]
        )
    except services.ServiceConflict as conflict:
        return _answer(
            request,
            regions={"queue": _queue_context(request)},
            flash=f"Not transferred: {_conflict_message(conflict)}",
            status=409,
        )
    return _answer(
        request,
        regions={"queue": _queue_context(request), "clinician": _clinician_context(request)},
        flash=f"Transferred {incident.call_type_code} at {incident.address} to a clinician.",
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def phone_contact(request, incident_id):
    """A clinician records a phone contact and may resolve the call by phone."""
    if not may_work_clinician_queue(request.user):
        raise PermissionDenied
    incident = _incident(incident_id)
    form = PhoneContactForm(request.POST)
    if not form.is_valid():
        return _answer(
            request,
            regions={"clinician": _clinician_context(request, {("contact", incident.pk): form})},
            flash="Not recorded: write what was said on the phone.",
            status=400,
        )
    resolve = form.cleaned_data["action"] == PhoneContactForm.RESOLVE
    try:
        services.phone_contact_record(
            incident_id=incident.pk, actor=request.user, notes=form.cleaned_data["notes"], resolve=resolve
        )
    except services.ServiceConflict as conflict:
        return _answer(
            request,
            regions={"clinician": _clinician_context(request)},
            flash=f"Not recorded: {_conflict_message(conflict)}",
            status=409,
        )
    done = "resolved by phone; no team sent" if resolve else "phone contact recorded"
    return _answer(
        request,
        regions={"clinician": _clinician_context(request), "queue": _queue_context(request)},
        flash=f"{incident.call_type_code} at {incident.address}: {done}.",
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def alert_acknowledge(request, alert_id):
    alert = get_object_or_404(Alert, pk=alert_id)
    services.alert_acknowledge(alert_id=alert.pk, actor=request.user)
    return _answer(
        request, regions={"alerts": _alerts_context(request)}, flash=f"Acknowledged: {alert.message}"
    )
