"""The console's pages, regions and rows (reads)."""

from django.http import Http404
from django.views.decorators.http import require_GET

from dispatch import selectors
from dispatch.console_views import regions
from dispatch.console_views.answers import page, partial
from dispatch.geocoding import address_suggest
from dispatch.roles import Action, programs_for, role_required

# The regions a live event (or a reconnect) may ask the page to re-fetch whole.
BUILDERS = {
    "queue": regions.queue_context,
    "units": regions.units_context,
    "alerts": regions.alerts_context,
    "clinician": regions.clinician_context,
}


@role_required(Action.DISPATCH_CONSOLE)
@require_GET
def console(request):
    """The console; `?program=<slug>` narrows it to one of the dispatcher's programs (kept
    for their session), `?program=` shows all of them again."""
    if "program" in request.GET:
        wanted = request.GET["program"]
        chosen = programs_for(request.user, Action.DISPATCH_CONSOLE).filter(slug=wanted).first()
        if chosen is not None:
            request.session[regions.CONSOLE_PROGRAM_KEY] = chosen.pk
        else:
            request.session.pop(regions.CONSOLE_PROGRAM_KEY, None)
    return page(request)


@role_required(Action.DISPATCH_CONSOLE)
@require_GET
def console_region(request, name):
    """One region of the console, whole: after a reconnect, a resync, or a burst of changes."""
    if name not in BUILDERS:
        raise Http404
    return partial(request, name, BUILDERS[name](request))


@role_required(Action.DISPATCH_CONSOLE)
@require_GET
def incident_row(request, incident_id):
    """One call's row, as a live event about it re-fetches it (with its details when the page
    has them open: `?details=1`). A call no longer open answers an empty row marked gone, and
    the page takes it out."""
    context = regions.row_context(request, incident_id, details=request.GET.get("details") == "1")
    return partial(request, "incident_row", context)


@role_required(Action.DISPATCH_CONSOLE)
@require_GET
def incident_details(request, incident_id):
    """A call's details, fetched when the dispatcher opens its row."""
    incident = selectors.incident_console(request.user, incident_id)
    if incident is None:
        raise Http404
    return partial(request, "details", {"d": regions.details_context(incident)})


@role_required(Action.DISPATCH_CONSOLE)
@require_GET
def unit_row(request, callsign):
    """One unit's row on the board (an empty row marked gone when there is no such unit)."""
    return partial(request, "unit_row_alone", regions.unit_row_context(request, callsign))


@role_required(Action.INCIDENT_CREATE_BY_HAND)
@require_GET
def address_suggestions(request):
    """Known addresses starting with what the call taker has typed, for the intake's list."""
    typed = request.GET.get("address", "")[:300]
    return partial(request, "address_suggestions", {"suggestions": address_suggest(typed)})
