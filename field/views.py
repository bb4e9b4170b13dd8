"""The tablet's pages: the one-screen app, its live panel fragment, shift start and end, and
the PWA's service worker and manifest (served from the site root so the worker's scope is /)."""

import re
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dispatch import selectors as dispatch_selectors
from dispatch import services as dispatch_services
from dispatch.models import Assignment, CallType
from dispatch.roles import Action, role_required
from dispatch.services import ServiceConflict
from field import selectors
from field.forms import ShiftStartForm
from field.models import BackupRequest, Outcome
from referrals.models import FollowUp

SERVICE_WORKER = Path(settings.BASE_DIR) / "static" / "sw.js"


def _panel_context(user, shift) -> dict:
    unit_id = shift.unit_id if shift else None
    current = selectors.assignment_current(user) if shift else None
    return {
        "shift": shift,
        "partners": dispatch_selectors.unit_partners(unit_id, user) if shift else [],
        "assignment": current,
        "incident": current.incident if current else None,
        # A dialler wants digits: "+1 (555) 010-0100" becomes tel:+15550100100.
        "caller_tel": re.sub(r"[^\d+]", "", current.incident.caller_phone) if current else "",
        "ack_event_id": selectors.assignment_created_event_id(current) if current else None,
        "premise_history": selectors.premise_history(current.incident) if current else [],
        "cancelled": None if current or not shift else selectors.assignment_recently_cancelled(user),
        "missing_outcomes": list(selectors.assignment_list_missing_outcome(user)[:20]) if shift else [],
        "backups": list(selectors.backup_list_recent(unit_id)) if shift else [],
        "last_event_id": selectors.event_latest_id(),
    }


@role_required(Action.FIELD_APP)
def home(request):
    shift = dispatch_selectors.shift_current(request.user)
    context = _panel_context(request.user, shift)
    context.update(
        {
            "start_form": ShiftStartForm() if shift is None else None,
            "transitions": Assignment.TRANSITIONS,
            "status_labels": dict(Assignment.Status.choices),
            "call_types": CallType.objects.order_by("code"),
            "dispositions": Outcome.Disposition.choices,
            "services": Outcome.Service.choices,
            "police_choices": Outcome.PoliceInvolvement.choices,
            "ems_choices": Outcome.EmsInvolvement.choices,
            "follow_up_types": FollowUp.ServiceType.choices,
            "backup_kinds": BackupRequest.Kind.choices,
        }
    )
    return render(request, "field/home.html", context)


@role_required(Action.FIELD_APP)
@require_GET
def panel(request):
    """The live part of the screen, fetched again whenever an event arrives."""
    shift = dispatch_selectors.shift_current(request.user)
    return render(request, "field/home.html#panel", _panel_context(request.user, shift))


@role_required(Action.FIELD_APP)
@require_POST
def shift_start(request):
    form = ShiftStartForm(request.POST)
    if form.is_valid():
        try:
            dispatch_services.shift_start(user=request.user, unit_id=form.cleaned_data["unit"].pk)
        except ServiceConflict as exc:
            messages.error(request, exc.detail)
        return redirect("field:home")
    context = _panel_context(request.user, None)
    context["start_form"] = form
    return render(request, "field/home.html", context, status=400)


@role_required(Action.FIELD_APP)
@require_POST
def shift_end(request):
    try:
        dispatch_services.shift_end(user=request.user)
    except ServiceConflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Shift ended.")
    return redirect("field:home")


@require_GET
def service_worker(request):
    """At the root so its scope covers the whole site; never cached by the browser itself, so
    a new version reaches every tablet on its next visit."""
    response = HttpResponse(SERVICE_WORKER.read_bytes(), content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request):
    data = {
        "name": "Community response — tablet",
        "short_name": "Responder",
        "start_url": reverse("field:home"),
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#0d0d0d",
        "theme_color": "#0b4fa8",
        "icons": [
            {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("icons/icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return JsonResponse(data, content_type="application/manifest+json")
