"""What a dispatcher does from the console (writes): thin views over dispatch.services."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from dispatch import services
from dispatch.console_views import regions
from dispatch.console_views.answers import CONFLICT, INVALID, answer
from dispatch.forms import (
    AssignForm,
    CancelForm,
    DuplicateLinkForm,
    IntakeForm,
    PhoneContactForm,
    TransferForm,
)
from dispatch.models import ACTIVE_ASSIGNMENT_STATUSES, Alert, Incident
from dispatch.roles import Action, may_work_clinician_queue, role_required, scope

CONFLICT_MESSAGES = {
    "unit_unavailable": "That unit is no longer available. Choose another.",
    "already_assigned": "A team is already on this call.",
    "incident_not_open": "This call is closed or cancelled.",
    "not_eligible": "This call is not eligible: give a reason to send a team anyway.",
    "already_transferred": "This call was already transferred to a clinician.",
    "not_transferred": "This call is not waiting in the clinicians' queue.",
    "original_not_usable": (
        "That call was cancelled or is itself a duplicate: link to the call it duplicates."
    ),
}


def _conflict_message(conflict: services.ServiceConflict) -> str:
    return CONFLICT_MESSAGES.get(conflict.code, conflict.detail)


def _refused(request, not_done: str, conflict: services.ServiceConflict, **changed):
    """A 409 for an action the call's state refused ("Not cancelled: ..."), with the regions
    it concerns refreshed so the dispatcher sees the state that refused it."""
    return answer(request, flash=f"{not_done}: {_conflict_message(conflict)}", status=CONFLICT, **changed)


def _incident(request, incident_id) -> Incident:
    """The call, when it is of one of the dispatcher's programs (else 404, as for no call)."""
    return get_object_or_404(
        scope(Incident.objects.all(), request.user, Action.DISPATCH_CONSOLE), pk=incident_id
    )


def _errors(form) -> str:
    return "; ".join(e for errors in form.errors.values() for e in errors)


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def incident_assign(request, incident_id):
    incident = _incident(request, incident_id)
    form = AssignForm(request.POST, incident=incident)
    from_clinician = request.POST.get("from") == "c"
    if not form.is_valid():
        if from_clinician:
            parts = [("clinician", regions.clinician_context(request, {("assign", incident.pk): form}))]
        else:
            parts = [("details_oob", {"d": regions.details_context(incident, form=form)})]
        return answer(
            request,
            flash=f"Not assigned: {_errors(form)}",
            status=INVALID,
            parts=parts,
            open_details={incident.pk: form},
        )
    callsign = form.cleaned_data["unit"]
    try:
        assignment = services.assignment_create(
            incident_id=incident.pk,
            callsign=callsign,
            actor=request.user,
            override_reason=form.cleaned_data["override_reason"],
        )
    except services.ServiceInvalid as invalid:
        return answer(request, flash=f"Not assigned: {invalid.message}", status=INVALID)
    except services.ServiceConflict as conflict:
        return _refused(request, "Not assigned", conflict, incidents=[incident.pk], units=[callsign])
    return answer(
        request,
        flash=f"{assignment.unit.callsign} sent to {incident.call_type_code} at {incident.address}.",
        incidents=[incident.pk],
        units=[assignment.unit.callsign],
        regions_changed=["clinician", "alerts"],
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def incident_cancel(request, incident_id):
    incident = _incident(request, incident_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return answer(request, flash="Not cancelled: the reason is too long.", status=INVALID)
    active = incident.assignments.filter(status__in=ACTIVE_ASSIGNMENT_STATUSES)
    callsigns = list(active.values_list("unit__callsign", flat=True))
    try:
        services.incident_cancel(incident=incident, actor=request.user, reason=form.cleaned_data["reason"])
    except services.ServiceConflict as conflict:
        return _refused(request, "Not cancelled", conflict, incidents=[incident.pk])
    return answer(
        request,
        flash=f"Cancelled {incident.call_type_code} at {incident.address}.",
        incidents=[incident.pk],
        units=callsigns,
        regions_changed=["clinician", "alerts"],
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def incident_link_duplicate(request, incident_id):
    """Close a call as a duplicate of the call it repeats (one action, from its details)."""
    incident = _incident(request, incident_id)
    form = DuplicateLinkForm(request.POST)
    if not form.is_valid():
        return answer(request, flash=f"Not linked: {_errors(form)}", status=INVALID)
    original_id = form.cleaned_data["original"]
    try:
        services.incident_link_duplicate(incident_id=incident.pk, original_id=original_id, actor=request.user)
    except Incident.DoesNotExist:
        return answer(request, flash="Not linked: that call does not exist.", status=INVALID)
    except services.ServiceInvalid as invalid:
        return answer(request, flash=f"Not linked: {invalid.message}", status=INVALID)
    except services.ServiceConflict as conflict:
        return _refused(request, "Not linked", conflict, incidents=[incident.pk])
    original = Incident.objects.get(pk=original_id)  # linked: of the same program
    return answer(
        request,
        flash=f"Closed {incident.call_type_code} at {incident.address} as a duplicate of "
        f"{original.call_type_code} at {original.address}.",
        incidents=[incident.pk, original.pk],
        regions_changed=["clinician", "alerts"],
    )


@role_required(Action.INCIDENT_CREATE_BY_HAND)
@require_POST
def intake(request):
    """A hotline, 988 or direct-line call taken in the console (dispatch model 3)."""
    form = IntakeForm(request.POST, **regions.intake_programs(request))
    if not form.is_valid():
        return answer(
            request,
            flash="The call was not saved: correct the marked answers.",
            status=INVALID,
            parts=[("intake", regions.intake_context(request, form))],
            page_overrides={"intake_open": True, **regions.intake_context(request, form)},
        )
    incident = services.incident_create(
        fields=form.incident_fields(), actor=request.user, program=form.chosen_program
    )
    verdict = "eligible for a team" if incident.eligible else "not eligible without an override"
    return answer(
        request,
        flash=f"Saved {incident.call_type_code} at {incident.address}: {verdict}.",
        parts=[("intake", regions.intake_context(request, created=incident))],
        incidents=[incident.pk],
        regions_changed=["alerts"] if incident.priority == 1 else [],
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def incident_transfer(request, incident_id):
    """A call taker hands a pending call to the clinicians' queue (dispatch model 2)."""
    incident = _incident(request, incident_id)
    form = TransferForm(request.POST)
    if not form.is_valid():
        return answer(
            request, flash="Not transferred: the note is too long (500 characters at most).", status=INVALID
        )
    try:
        services.incident_transfer_to_clinician(
            incident_id=incident.pk, actor=request.user, note=form.cleaned_data["note"]
        )
    except services.ServiceConflict as conflict:
        return _refused(request, "Not transferred", conflict, incidents=[incident.pk])
    return answer(
        request,
        flash=f"Transferred {incident.call_type_code} at {incident.address} to a clinician.",
        incidents=[incident.pk],
        regions_changed=["clinician"],
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def phone_contact(request, incident_id):
    """A clinician records a phone contact and may resolve the call by phone."""
    if not may_work_clinician_queue(request.user):
        raise PermissionDenied
    incident = _incident(request, incident_id)
    form = PhoneContactForm(request.POST)
    if not form.is_valid():
        return answer(
            request,
            flash="Not recorded: write what was said on the phone.",
            status=INVALID,
            parts=[("clinician", regions.clinician_context(request, {("contact", incident.pk): form}))],
        )
    resolve = form.cleaned_data["action"] == PhoneContactForm.RESOLVE
    try:
        services.phone_contact_record(
            incident_id=incident.pk, actor=request.user, notes=form.cleaned_data["notes"], resolve=resolve
        )
    except services.ServiceConflict as conflict:
        return _refused(request, "Not recorded", conflict, regions_changed=["clinician"])
    done = "resolved by phone; no team sent" if resolve else "phone contact recorded"
    return answer(
        request,
        flash=f"{incident.call_type_code} at {incident.address}: {done}.",
        parts=[("clinician", regions.clinician_context(request))],
        incidents=[incident.pk],
        regions_changed=["alerts"] if resolve else [],
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def alert_acknowledge(request, alert_id):
    alert = get_object_or_404(scope(Alert.objects.all(), request.user, Action.DISPATCH_CONSOLE), pk=alert_id)
    services.alert_acknowledge(alert_id=alert.pk, actor=request.user)
    return answer(
        request,
        flash=f"Acknowledged: {alert.message}",
        parts=[("alerts", regions.alerts_context(request))],
        units=[alert.unit.callsign] if alert.unit_id else [],
    )


@role_required(Action.DISPATCH_CONSOLE)
@require_POST
def urgent_seen(request, incident_id):
    """The dispatcher has seen an urgent call in the alert bar: it leaves their bar (not the
    queue, nor anyone else's bar) until it is sent a team."""
    incident = _incident(request, incident_id)
    regions.urgent_seen_add(request, incident.pk)
    return answer(
        request,
        flash=f"Seen: urgent {incident.call_type_code} at {incident.address}.",
        parts=[("alerts", regions.alerts_context(request))],
    )
