"""The programs of the deployment, as the state's supervisors see them: every program's service
area on one map, its hours on its own clock, and which services of the directory cover it; and
the forms that create and change a program. Thin: dispatch.services.program_admin writes and
audits; the map is drawn by static/js/programs/map.js from data the page carries as JSON
(json_script), never from an inline script."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_http_methods

from dispatch import program_hours, services
from dispatch.roles import Action, may_administer_programs, programs_for, role_required
from dispatch.services import ServiceInvalid
from dispatch.supervisor_forms import ProgramForm

# Distinct, colour-blind-safe fills for the programs' areas (Okabe–Ito), in program order.
AREA_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")


def _services_by_program(programs) -> dict:
    """The service directory's answer (referrals, named in settings.PROGRAM_SERVICES: dispatch
    never imports the apps built on it)."""
    path = getattr(settings, "PROGRAM_SERVICES", "")
    return import_string(path)(programs) if path else {"statewide": [], "local": {}, "places": []}


@role_required(Action.PROGRAM_ADMIN)
@require_GET
def programs(request):
    """Every program the caller may see: its area on the map, its hours, whether it is open
    now on its own clock, and the services that cover it."""
    visible = list(
        programs_for(request.user, Action.PROGRAM_ADMIN).prefetch_related("hours").order_by("name")
    )
    now = timezone.now()
    directory = _services_by_program(visible)
    rows, areas = [], []
    for i, program in enumerate(visible):
        hours = list(program.hours.all())
        colour_index = i % len(AREA_COLOURS)
        colour = AREA_COLOURS[colour_index]
        open_now = program_hours.is_open_at(hours, program.time_zone, now)
        local = directory["local"].get(program.pk, [])
        rows.append(
            {
                "program": program,
                "colour": colour,
                "colour_index": colour_index,
                "week": program_hours.week_rows(hours),
                "open_now": open_now,
                "local_time": timezone.localtime(now, timezone=_zone(program)),
                "local_services": local,
                "has_area": program.service_area is not None,
            }
        )
        if program.service_area is not None:
            areas.append(
                {
                    "slug": program.slug,
                    "name": program.name,
                    "colour": colour,
                    "open_now": open_now,
                    "area": program.service_area,
                }
            )
    return render(
        request,
        "dispatch/supervisor_programs.html",
        {
            "rows": rows,
            "statewide_services": directory["statewide"],
            "map_data": {
                "areas": areas,
                "places": directory["places"],
                "tile_url": getattr(settings, "MAP_TILE_URL", ""),
                "tile_attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", ""),
            },
            "may_administer": may_administer_programs(request.user),
        },
    )


def _zone(program) -> ZoneInfo:
    return ZoneInfo(program.time_zone)


def _administrator(request) -> None:
    if not may_administer_programs(request.user):
        raise PermissionDenied


def _program_form_page(request, form, program=None, status=200):
    return render(
        request, "dispatch/supervisor_program_form.html", {"form": form, "program": program}, status=status
    )


def _save(request, form, program=None):
    data = form.cleaned_data
    values = {
        "slug": data["slug"],
        "name": data["name"],
        "time_zone": data["time_zone"],
        "service_area": data["service_area"],
        "hours": data["hours"],
    }
    if program is None:
        return services.program_create(actor=request.user, **values)
    return services.program_update(actor=request.user, program_id=program.pk, **values)


@role_required(Action.PROGRAM_ADMIN)
@require_http_methods(["GET", "POST"])
def program_new(request):
    _administrator(request)
    form = ProgramForm(request.POST or None, initial={"time_zone": settings.TIME_ZONE})
    if request.method == "POST" and form.is_valid():
        try:
            program = _save(request, form)
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Added {program.name}. Give its people their roles under Staff.")
            return redirect("dispatch:supervisor_programs")
    return _program_form_page(request, form, status=400 if form.errors else 200)


@role_required(Action.PROGRAM_ADMIN)
@require_http_methods(["GET", "POST"])
def program_edit(request, slug):
    _administrator(request)
    program = get_object_or_404(programs_for(request.user, Action.PROGRAM_ADMIN), slug=slug)
    form = ProgramForm(request.POST or None, initial=ProgramForm.initial_for(program))
    if request.method == "POST" and form.is_valid():
        try:
            program = _save(request, form, program)
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Saved {program.name}.")
            return redirect("dispatch:supervisor_programs")
    return _program_form_page(request, form, program, status=400 if form.errors else 200)
