"""The supervisor's administration pages: units, people and who is on shift. Thin: forms check
the input, dispatch.services.administration changes and audits, dispatch.selectors reads."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dispatch import selectors, services
from dispatch.formatting import duration, user_name
from dispatch.models import Unit
from dispatch.roles import CLINICIAN_GROUP, HUMAN_ROLES, Action, Role, role_required
from dispatch.services import ServiceConflict, ServiceInvalid
from dispatch.supervisor_forms import PasswordForm, PersonCreateForm, PersonForm, ShiftDayForm, UnitForm

User = get_user_model()


# --- Units ----------------------------------------------------------------------------------------
def _unit_row(unit: Unit) -> dict:
    on_shift = getattr(unit, "on_shift", [])
    return {
        "unit": unit,
        "members": [user_name(s.user) for s in on_shift],
        "busy": bool(getattr(unit, "active_assignments", [])),
        "retired": unit.retired_at is not None,
        "out_of_service": unit.status == Unit.Status.OUT_OF_SERVICE,
    }


def _units_page(request, *, form=None, status=200):
    rows = [_unit_row(unit) for unit in selectors.unit_list_for_admin(request.user)]
    return render(
        request,
        "dispatch/supervisor_units.html",
        {"rows": rows, "form": form or UnitForm()},
        status=status,
    )


def _unit_row_answer(request, unit_id, *, error=None, rename_error=None):
    """The unit's row again (htmx), or the whole page with the message (a plain form post)."""
    unit = get_object_or_404(selectors.unit_list_for_admin(request.user), pk=unit_id)
    status = 409 if error else 400 if rename_error else 200
    if request.htmx:
        context = {"row": _unit_row(unit), "error": error, "rename_error": rename_error}
        return render(request, "dispatch/supervisor_units.html#row", context, status=status)
    if error or rename_error:
        messages.error(request, error.detail if error else rename_error)
    return redirect("dispatch:supervisor_units")


@role_required(Action.UNIT_ADMIN)
@require_http_methods(["GET", "POST"])
def units(request):
    if request.method == "GET":
        return _units_page(request)
    form = UnitForm(request.POST)
    if form.is_valid():
        try:
            unit = services.unit_create(actor=request.user, callsign=form.cleaned_data["callsign"])
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, f"Added {unit.callsign}. It is off duty until a team starts a shift on it."
            )
            return redirect("dispatch:supervisor_units")
    return _units_page(request, form=form, status=400)


@role_required(Action.UNIT_ADMIN)
@require_POST
def unit_rename(request, unit_id):
    get_object_or_404(selectors.unit_list_for_admin(request.user), pk=unit_id)
    form = UnitForm(request.POST)
    if not form.is_valid():
        return _unit_row_answer(request, unit_id, rename_error=" ".join(form.errors["callsign"]))
    try:
        services.unit_rename(actor=request.user, unit_id=unit_id, callsign=form.cleaned_data["callsign"])
    except ServiceInvalid as exc:
        return _unit_row_answer(request, unit_id, rename_error=exc.message)
    except ServiceConflict as exc:
        return _unit_row_answer(request, unit_id, error=exc)
    return _unit_row_answer(request, unit_id)


@role_required(Action.UNIT_ADMIN)
@require_POST
def unit_service(request, unit_id):
    get_object_or_404(selectors.unit_list_for_admin(request.user), pk=unit_id)
    in_service = request.POST.get("in_service") == "1"
    try:
        services.unit_set_in_service(actor=request.user, unit_id=unit_id, in_service=in_service)
    except ServiceConflict as exc:
        return _unit_row_answer(request, unit_id, error=exc)
    return _unit_row_answer(request, unit_id)


@role_required(Action.UNIT_ADMIN)
@require_POST
def unit_retire(request, unit_id):
    get_object_or_404(selectors.unit_list_for_admin(request.user), pk=unit_id)
    try:
        services.unit_retire(actor=request.user, unit_id=unit_id)
    except ServiceConflict as exc:
        return _unit_row_answer(request, unit_id, error=exc)
    return _unit_row_answer(request, unit_id)


# --- People ---------------------------------------------------------------------------------------
ROLE_LABELS = {role.value: role.label for role in HUMAN_ROLES}


def _groups_of(user) -> set[str]:
    return {group.name for group in user.groups.all()}  # prefetched by the selector


def _role_in(names: set[str]) -> str:
    return next((role.value for role in HUMAN_ROLES if role.value in names), "")


def _person_row(user) -> dict:
    names = _groups_of(user)
    role = _role_in({membership.role for membership in user.memberships.all()})  # prefetched
    return {
        "user": user,
        "name": user_name(user),
        "role": role,
        "role_label": ROLE_LABELS.get(role, "No role"),
        "clinician": CLINICIAN_GROUP in names,
    }


@role_required(Action.PEOPLE_ADMIN)
@require_GET
def people(request):
    q = request.GET.get("q", "").strip()[:100]
    rows = [_person_row(user) for user in selectors.person_list_for_admin(request.user, q=q)]
    return render(request, "dispatch/supervisor_people.html", {"rows": rows, "q": q})


@role_required(Action.PEOPLE_ADMIN)
@require_http_methods(["GET", "POST"])
def person_new(request):
    form = PersonCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_create(
                actor=request.user,
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                clinician=data["clinician"],
                password=data["password"],
            )
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Added {user_name(user)}. They can sign in now.")
            return redirect("dispatch:supervisor_person", user_id=user.pk)
    return render(
        request, "dispatch/supervisor_person_new.html", {"form": form}, status=400 if form.errors else 200
    )


def _person_page(request, person, *, form=None, password_form=None, error=None, status=200):
    row = _person_row(person)
    form = form or PersonForm(
        initial={
            "first_name": person.first_name,
            "last_name": person.last_name,
            "role": row["role"] or Role.RESPONDER,
            "clinician": row["clinician"],
        }
    )
    context = {
        "row": row,
        "person": person,
        "form": form,
        "password_form": password_form or PasswordForm(),
        "error": error,
        "shift": selectors.shift_current(person),
        "is_self": person.pk == request.user.pk,
    }
    return render(request, "dispatch/supervisor_person.html", context, status=status)


def _person(request, user_id):
    return get_object_or_404(selectors.person_list_for_admin(request.user), pk=user_id)


@role_required(Action.PEOPLE_ADMIN)
@require_http_methods(["GET", "POST"])
def person(request, user_id):
    person = _person(request, user_id)
    if request.method == "GET":
        return _person_page(request, person)
    form = PersonForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update(
                actor=request.user,
                user_id=person.pk,
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                clinician=data["clinician"],
            )
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        except ServiceConflict as exc:
            return _person_page(request, _person(request, user_id), form=form, error=exc, status=409)
        else:
            messages.success(request, "Saved.")
            return redirect("dispatch:supervisor_person", user_id=person.pk)
    return _person_page(request, person, form=form, status=400)


@role_required(Action.PEOPLE_ADMIN)
@require_POST
def person_password(request, user_id):
    person = _person(request, user_id)
    form = PasswordForm(request.POST)
    if form.is_valid():
        try:
            services.user_set_password(
                actor=request.user, user_id=person.pk, password=form.cleaned_data["password"]
            )
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        except ServiceConflict as exc:
            return _person_page(request, person, error=exc, status=409)
        else:
            messages.success(request, "New password set. Hand it over in person.")
            return redirect("dispatch:supervisor_person", user_id=person.pk)
    return _person_page(request, person, password_form=form, status=400)


@role_required(Action.PEOPLE_ADMIN)
@require_POST
def person_active(request, user_id):
    """Deactivate (active=0) or reactivate (active=1) a person."""
    person = _person(request, user_id)
    active = request.POST.get("active") == "1"
    change = services.user_reactivate if active else services.user_deactivate
    try:
        change(actor=request.user, user_id=person.pk)
    except ServiceConflict as exc:
        return _person_page(request, person, error=exc, status=409)
    name = user_name(person)
    messages.success(request, f"{name} can sign in again." if active else f"{name} can no longer sign in.")
    return redirect("dispatch:supervisor_person", user_id=person.pk)


# --- Shifts ---------------------------------------------------------------------------------------
def _shift_row(shift, now) -> dict:
    end = shift.ended_at or now
    return {
        "shift": shift,
        "name": user_name(shift.user),
        "length": duration((end - shift.started_at).total_seconds()),
    }


@role_required(Action.SHIFT_READ)
@require_GET
def shifts(request):
    """Who is on shift now, and every shift that overlapped one day (today unless asked)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now()
    today = timezone.localdate(now, timezone=zone)
    form = ShiftDayForm(request.GET or None)
    day = today
    if form.is_bound and form.is_valid() and form.cleaned_data["day"]:
        day = form.cleaned_data["day"]
    low = datetime.combine(day, time.min, tzinfo=zone)
    high = low + timedelta(days=1)
    context = {
        "form": form,
        "day": day,
        "today": today,
        "previous": day - timedelta(days=1),
        "next": day + timedelta(days=1) if day < today else None,
        "on_shift": [_shift_row(s, now) for s in selectors.shift_list_open(request.user)],
        "that_day": [_shift_row(s, now) for s in selectors.shift_list_between(request.user, low, high)],
    }
    return render(
        request,
        "dispatch/supervisor_shifts.html",
        context,
        status=400 if form.is_bound and form.errors else 200,
    )
