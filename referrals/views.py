"""Pages for officers, responders (outreach), case managers and supervisors. Thin: forms
validate, referrals.services writes, referrals.selectors reads and decides visibility."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dispatch import selectors as dispatch_selectors
from dispatch import services as dispatch_services
from dispatch.models import Unit
from dispatch.roles import Action, may_edit_statewide_services, program_ids_for, role_required
from dispatch.services import ServiceConflict, ServiceInvalid
from referrals import history, selectors, services
from referrals.forms import (
    AttemptForm,
    AuditFilterForm,
    FollowUpCreateForm,
    FollowUpDetailsForm,
    MergeForm,
    OrganizationForm,
    ReferralForm,
    ServiceForm,
    TransitionForm,
)
from referrals.models import FollowUp, Organization, PoliceReferral, Service


# --- Officers -------------------------------------------------------------------------------------
@role_required(Action.REFERRAL_FILE)
@require_GET
def officer_home(request):
    referrals = [
        selectors.referral_officer_view(r) for r in selectors.referral_list_for_filer(request.user)[:100]
    ]
    template = "referrals/officer_home.html#mine" if request.htmx else "referrals/officer_home.html"
    return render(request, template, {"referrals": referrals})


@role_required(Action.REFERRAL_FILE)
@require_http_methods(["GET", "POST"])
def referral_new(request):
    initial = {
        "officer_name": request.user.get_full_name(),
        "officer_callback": selectors.officer_callback(request.user),
    }
    form = ReferralForm(
        request.POST if request.method == "POST" else None, initial=initial, officer=request.user
    )
    if request.method == "POST" and form.is_valid():
        referral = services.referral_file(
            actor=request.user, data=form.to_referral_data(), remember_callback=True
        )
        messages.success(
            request,
            "Referral sent to dispatch."
            if referral.urgency == "now"
            else "Referral added to the outreach queue.",
        )
        return redirect("referrals:officer_referral", referral_id=referral.pk)
    return render(request, "referrals/referral_form.html", {"form": form}, status=400 if form.errors else 200)


@role_required(Action.REFERRAL_FILE)
@require_GET
def officer_referral(request, referral_id):
    """One referral as its officer may see it; htmx re-reads the status part every few seconds
    until the referral is closed, so the page follows it live."""
    referral = get_object_or_404(selectors.referral_list_for_filer(request.user), pk=referral_id)
    view = selectors.referral_officer_view(referral)
    steps = PoliceReferral.OfficerStatus.choices
    reached = [value for value, _ in steps].index(view["status"])
    context = {"r": view, "steps": steps, "done": [value for value, _ in steps[:reached]]}
    template = "referrals/officer_referral.html#status" if request.htmx else "referrals/officer_referral.html"
    return render(request, template, context)


# --- Outreach (responders on shift) ---------------------------------------------------------------
def _shift_unit(request) -> Unit | None:
    unit_id = dispatch_selectors.shift_unit_id(request.user)
    return Unit.objects.get(pk=unit_id) if unit_id is not None else None


@role_required(Action.OUTREACH_WORK)
@require_GET
def outreach_list(request):
    unit = _shift_unit(request)
    context = {"unit": unit, "referrals": selectors.outreach_list_near(unit) if unit else []}
    template = "referrals/outreach.html#queue" if request.htmx else "referrals/outreach.html"
    return render(request, template, context)


def _outreach_referral(request, referral_id):
    unit = Unit.objects.get(pk=dispatch_services.shift_unit_require(request.user))
    referral = get_object_or_404(
        PoliceReferral, pk=referral_id, urgency=PoliceReferral.Urgency.LATER, program_id=unit.program_id
    )
    return unit, referral


def _conflict_page(request, exc: ServiceConflict, back: str):
    return render(request, "referrals/conflict.html", {"error": exc, "back": back}, status=409)


@role_required(Action.OUTREACH_WORK)
@require_POST
def outreach_claim(request, referral_id):
    """Claiming makes the referral the unit's call: the tablet works it from there."""
    try:
        unit, referral = _outreach_referral(request, referral_id)
        services.referral_claim(actor=request.user, referral_id=referral.pk, unit=unit)
    except ServiceConflict as exc:
        return _conflict_page(request, exc, reverse("referrals:outreach"))
    messages.success(request, "Referral claimed: it is your unit's call now.")
    return redirect("field:home")


@role_required(Action.OUTREACH_WORK)
@require_POST
def outreach_release(request, referral_id):
    try:
        unit, referral = _outreach_referral(request, referral_id)
        services.referral_release(actor=request.user, referral_id=referral.pk, unit=unit)
    except ServiceConflict as exc:
        return _conflict_page(request, exc, reverse("referrals:outreach"))
    return redirect("referrals:outreach")


# --- Case managers: the follow-up queue -----------------------------------------------------------
def _queue_context(request) -> dict:
    params = request.GET
    provider = None
    if params.get("provider", "").isdigit():
        provider = Service.objects.filter(pk=int(params["provider"])).first()
    filters = {
        "view": params.get("view", "") if params.get("view") in ("mine", "unassigned", "overdue") else "",
        "status": params.get("status", "") if params.get("status") in FollowUp.Status.values else "",
        "service_type": params.get("service_type", "")
        if params.get("service_type") in FollowUp.ServiceType.values
        else "",
        "provider": provider,
        "q": params.get("q", "").strip()[:100],
    }
    return {
        "follow_ups": selectors.follow_up_queue(request.user, **filters)[:200],
        "counts": selectors.follow_up_counts(request.user),
        "filters": filters,
        "statuses": FollowUp.Status.choices,
        "service_types": FollowUp.ServiceType.choices,
        "providers": selectors.services_in_programs(
            Service.objects.select_related("organization").order_by("name"),
            program_ids_for(request.user, Action.FOLLOW_UP_WORK),
        ),
    }


@role_required(Action.FOLLOW_UP_WORK)
@require_GET
def case_manager_home(request):
    context = _queue_context(request)
    # Audited before the answer that shows the rows (names, phones) is sent.
    context["follow_ups"] = list(context["follow_ups"])
    services.follow_up_queue_record(
        user=request.user, follow_ups=context["follow_ups"], filters=context["filters"]
    )
    template = "referrals/queue.html#queue" if request.htmx else "referrals/queue.html"
    return render(request, template, context)


@role_required(Action.FOLLOW_UP_WORK)
@require_http_methods(["GET", "POST"])
def follow_up_new(request):
    form = FollowUpCreateForm(
        request.POST if request.method == "POST" else None,
        program_ids=program_ids_for(request.user, Action.FOLLOW_UP_WORK),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            follow_up = services.follow_up_create(
                actor=request.user,
                service_type=d["service_type"],
                consent=d["consent"],
                notes=d["notes"].strip(),
                person=d["person"],
                written_consent_to_share=d["written_consent_to_share"],
                due_at=d["due_at"],
                provider=d["provider"],
            )
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        else:
            return redirect("referrals:follow_up", follow_up_id=follow_up.pk)
    return render(request, "referrals/follow_up_new.html", {"form": form}, status=400 if form.errors else 200)


@role_required(Action.FOLLOW_UP_WORK)
@require_POST
def follow_up_claim(request, follow_up_id):
    get_object_or_404(selectors.follow_up_list_visible(request.user), pk=follow_up_id)
    error = None
    try:
        services.follow_up_claim(actor=request.user, follow_up_id=follow_up_id)
    except ServiceConflict as exc:
        error = exc
    if request.htmx:
        follow_up = selectors.follow_up_queue(request.user, status="").filter(pk=follow_up_id).first()
        follow_up = follow_up or selectors.follow_up_detail(follow_up_id)
        return render(
            request,
            "referrals/queue.html#row",
            {"f": follow_up, "error": error},
            status=409 if error else 200,
        )
    if error:
        return _conflict_page(request, error, reverse("referrals:case_manager_home"))
    return redirect("referrals:follow_up", follow_up_id=follow_up_id)


def _follow_up_page(request, follow_up_id, *, status=200, **forms_and_error):
    follow_up = get_object_or_404(selectors.follow_up_list_visible(request.user), pk=follow_up_id)
    follow_up = selectors.follow_up_detail(follow_up.pk)
    if follow_up.person is not None:
        services.person_access_record(
            user=request.user, person=follow_up.person, detail=f"via follow-up #{follow_up.pk}"
        )
    context = {
        "f": follow_up,
        "contact": selectors.follow_up_contact(follow_up),
        "person_tel": history.tel_href(follow_up.person.phone) if follow_up.person else "",
        "history": history.follow_up_history(follow_up),
        "attempts": [
            {"attempt": attempt, "sentence": history.attempt_sentence(attempt)}
            for attempt in follow_up.attempts.all()
        ],
        "attempt_form": forms_and_error.get("attempt_form") or AttemptForm(),
        "transition_form": forms_and_error.get("transition_form")
        or TransitionForm(initial={"provider": follow_up.provider_id}, program_ids=[follow_up.program_id]),
        "details_form": forms_and_error.get("details_form")
        or FollowUpDetailsForm(
            program_ids=[follow_up.program_id],
            initial={
                "provider": follow_up.provider_id,
                "written_consent_to_share": follow_up.written_consent_to_share,
                "due_at": follow_up.due_at,
            },
        ),
        "allowed": FollowUp.TRANSITIONS[follow_up.status],
        "error": forms_and_error.get("error"),
    }
    return render(request, "referrals/follow_up.html", context, status=status)


@role_required(Action.FOLLOW_UP_WORK)
@require_GET
def follow_up_detail(request, follow_up_id):
    return _follow_up_page(request, follow_up_id)


@role_required(Action.FOLLOW_UP_WORK)
@require_POST
def follow_up_attempt(request, follow_up_id):
    get_object_or_404(selectors.follow_up_list_visible(request.user), pk=follow_up_id)
    form = AttemptForm(request.POST)
    if not form.is_valid():
        return _follow_up_page(request, follow_up_id, status=400, attempt_form=form)
    try:
        services.follow_up_record_attempt(actor=request.user, follow_up_id=follow_up_id, **form.cleaned_data)
    except ServiceConflict as exc:
        return _follow_up_page(request, follow_up_id, status=409, error=exc)
    return redirect("referrals:follow_up", follow_up_id=follow_up_id)


@role_required(Action.FOLLOW_UP_WORK)
@require_POST
def follow_up_transition(request, follow_up_id):
    follow_up = get_object_or_404(selectors.follow_up_list_visible(request.user), pk=follow_up_id)
    form = TransitionForm(request.POST, program_ids=[follow_up.program_id])
    if not form.is_valid():
        return _follow_up_page(request, follow_up_id, status=400, transition_form=form)
    try:
        services.follow_up_transition(actor=request.user, follow_up_id=follow_up_id, **form.cleaned_data)
    except ServiceInvalid as exc:
        form.add_service_error(exc)
        return _follow_up_page(request, follow_up_id, status=400, transition_form=form)
    except ServiceConflict as exc:
        return _follow_up_page(request, follow_up_id, status=409, error=exc, transition_form=form)
    return redirect("referrals:follow_up", follow_up_id=follow_up_id)


@role_required(Action.FOLLOW_UP_WORK)
@require_POST
def follow_up_details(request, follow_up_id):
    follow_up = get_object_or_404(selectors.follow_up_list_visible(request.user), pk=follow_up_id)
    form = FollowUpDetailsForm(request.POST, program_ids=[follow_up.program_id])
    if not form.is_valid():
        return _follow_up_page(request, follow_up_id, status=400, details_form=form)
    try:
        services.follow_up_update(actor=request.user, follow_up_id=follow_up_id, **form.cleaned_data)
    except ServiceInvalid as exc:
        form.add_service_error(exc)
        return _follow_up_page(request, follow_up_id, status=400, details_form=form)
    except ServiceConflict as exc:
        return _follow_up_page(request, follow_up_id, status=409, error=exc)
    return redirect("referrals:follow_up", follow_up_id=follow_up_id)


# --- People ---------------------------------------------------------------------------------------
@role_required(Action.PERSON_READ)
@require_GET
def people(request):
    q = request.GET.get("q", "").strip()[:100]
    people = list(selectors.person_search(q, viewer=request.user)) if q else []
    if q:
        services.person_search_record(user=request.user, q=q, people=people)
    return render(request, "referrals/people.html", {"q": q, "people": people})


@role_required(Action.PERSON_READ)
@require_GET
def person_detail(request, person_id):
    person = get_object_or_404(selectors.person_list_visible(request.user), pk=person_id)
    services.person_access_record(user=request.user, person=person)
    return render(
        request,
        "referrals/person.html",
        {
            "person": person,
            "person_tel": history.tel_href(person.phone),
            "timeline": selectors.person_timeline(person),
        },
    )


@role_required(Action.PERSON_READ)
@require_http_methods(["GET", "POST"])
def person_merge(request):
    form = MergeForm(
        request.POST if request.method == "POST" else (request.GET or None),
        people=selectors.person_list_visible(request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            survivor = services.person_merge(
                actor=request.user, survivor=form.cleaned_data["survivor"], merged=form.cleaned_data["merged"]
            )
        except ServiceConflict as exc:
            return _conflict_page(request, exc, reverse("referrals:person_merge"))
        except ServiceInvalid as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Records merged.")
            return redirect("referrals:person", person_id=survivor.pk)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "referrals/person_merge.html", {"form": form}, status=status)


@role_required(Action.PERSON_AUDIT_READ)
@require_GET
def person_audit(request):
    """The whole audit on one page: administration and security changes, reads of identities
    (searches, the queue, records opened) and exports, newest first, paged and filtered."""
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = filters.get("page") or 1
    rows, more = selectors.audit_page(
        viewer=request.user,
        person_id=filters.get("person"),
        username=filters.get("user") or "",
        day_from=filters.get("day_from"),
        day_to=filters.get("day_to"),
        page=page,
        per_page=AUDIT_PER_PAGE,
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "referrals/person_audit.html",
        {
            "form": form,
            "rows": rows,
            "page": page,
            "more": more,
            "query": query.urlencode(),
        },
        status=400 if form.errors else 200,
    )


AUDIT_PER_PAGE = 50


# --- The service directory ------------------------------------------------------------------------
@role_required(Action.DIRECTORY_EDIT)
@require_GET
def directory(request):
    q = request.GET.get("q", "").strip()[:100]
    service_type = request.GET.get("service_type", "")
    if service_type not in FollowUp.ServiceType.values:
        service_type = ""
    visible = program_ids_for(request.user, Action.DIRECTORY_EDIT)
    return render(
        request,
        "referrals/directory.html",
        {
            "services": selectors.services_in_programs(
                selectors.service_list(q=q, service_type=service_type).select_related("program"), visible
            ),
            "organizations": Organization.objects.all(),
            "q": q,
            "service_type": service_type,
            "service_types": FollowUp.ServiceType.choices,
        },
    )


def _directory_edit(request, form_class, instance, title, **form_kwargs):
    form = form_class(request.POST if request.method == "POST" else None, instance=instance, **form_kwargs)
    if request.method == "POST" and form.is_valid():
        services.directory_save(form=form)
        messages.success(request, f"Saved {form.instance}.")
        return redirect("referrals:directory")
    return render(
        request,
        "referrals/directory_form.html",
        {"form": form, "title": title},
        status=400 if form.errors else 200,
    )


@role_required(Action.DIRECTORY_EDIT)
@require_http_methods(["GET", "POST"])
def organization_edit(request, pk=None):
    instance = get_object_or_404(Organization, pk=pk) if pk else None
    return _directory_edit(request, OrganizationForm, instance, "Organization")


@role_required(Action.DIRECTORY_EDIT)
@require_http_methods(["GET", "POST"])
def service_edit(request, pk=None):
    """A service of the caller's programs, or a statewide one (changed only by those who may
    keep statewide services: everyone's people depend on it); another program's is not found."""
    visible = selectors.services_in_programs(
        Service.objects.all(), program_ids_for(request.user, Action.DIRECTORY_EDIT)
    )
    instance = get_object_or_404(visible, pk=pk) if pk else None
    if instance is not None and instance.program_id is None and not may_edit_statewide_services(request.user):
        raise PermissionDenied
    return _directory_edit(request, ServiceForm, instance, "Service", user=request.user)
