"""How the console answers: the whole page, one region or row, or an action's result.

An action answers htmx with the pieces it changed as out-of-band swaps (the message, a form
with its errors) and names, in an `HX-Trigger` header, the calls and units whose rows the page
should re-fetch: the same path a live event takes, so an action and an event never disagree.
Without JavaScript: back to the console on success, or the whole page with the errors.
Form errors answer 422: django-htmx's debug script (DEBUG=1) replaces the whole document on an
htmx 400, 403, 404 or 500, and a dispatcher must never lose the console to a typo.
"""

import json

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string

from dispatch import selectors
from dispatch.console_views import regions

TEMPLATE = "dispatch/console.html"
# What a form error answers (see the module's docstring).
INVALID = 422
CONFLICT = 409


def full_context(request, *, open_details: dict | None = None, **overrides) -> dict:
    # Read the newest event id before the state: an event in between is replayed and only
    # re-fetches a row, while reading it after could skip one.
    context = {
        "last_event_id": selectors.event_last_id(),
        "map_tile_url": getattr(settings, "MAP_TILE_URL", ""),
        "map_tile_attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", ""),
    }
    context.update(regions.console_programs_context(request))
    context.update(regions.intake_context(request))
    context.update(regions.queue_context(request, open_details=open_details))
    context.update(regions.units_context(request))
    context.update(regions.alerts_context(request))
    context.update(regions.clinician_context(request))
    context.update(overrides)
    return context


def page(request, *, status: int = 200, open_details: dict | None = None, **overrides):
    return render(
        request, TEMPLATE, full_context(request, open_details=open_details, **overrides), status=status
    )


def partial(request, name: str, context: dict, status: int = 200):
    return render(request, f"{TEMPLATE}#{name}", context, status=status)


def answer(
    request,
    *,
    flash: str,
    status: int = 200,
    parts: list[tuple[str, dict]] = (),
    incidents=(),
    units=(),
    regions_changed=(),
    open_details: dict | None = None,
    page_overrides: dict | None = None,
):
    """Answer an action. `parts`: (partial name, context) swapped out of band; `incidents`,
    `units`, `regions_changed`: what the page re-fetches as a live event would have it do."""
    error = status >= 400
    if not request.htmx:
        if not error:
            messages.success(request, flash)
            return redirect("dispatch:console")
        return page(
            request,
            status=status,
            open_details=open_details,
            flash=flash,
            flash_error=True,
            **(page_overrides or {}),
        )
    pieces = [
        render_to_string(f"{TEMPLATE}#{name}", {**context, "oob": True}, request) for name, context in parts
    ]
    pieces.append(
        render_to_string(f"{TEMPLATE}#flash", {"flash": flash, "flash_error": error, "oob": True}, request)
    )
    response = HttpResponse("".join(pieces), status=status)
    changed = {
        "incidents": [str(i) for i in incidents],
        "units": list(units),
        "regions": list(regions_changed),
    }
    if any(changed.values()):
        response["HX-Trigger"] = json.dumps({"console-changed": changed})
    return response
