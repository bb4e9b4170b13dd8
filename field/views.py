"""The tablet's pages: the one-screen app, its state as data, shift start and end, and
the PWA's service worker and manifest (served from the site root so the worker's scope is /)."""

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
from field.models import Outcome
from referrals.models import FollowUp

SERVICE_WORKER = Path(settings.BASE_DIR) / "static" / "sw.js"


def _home_context(request, *, start_form=None) -> dict:
    return {
        "shift": dispatch_selectors.shift_current(request.user),
        "state": selectors.tablet_state(request.user),
        "start_form": start_form or ShiftStartForm(user=request.user),
        "transitions": Assignment.TRANSITIONS,
        "status_labels": dict(Assignment.Status.choices),
        "call_types": CallType.objects.order_by("code"),
        "dispositions": Outcome.Disposition.choices,
        "services": Outcome.Service.choices,
        "police_choices": Outcome.PoliceInvolvement.choices,
        "ems_choices": Outcome.EmsInvolvement.choices,
        "follow_up_types": FollowUp.ServiceType.choices,
    }


@role_required(Action.FIELD_APP)
def home(request):
    return render(request, "field/home.html", _home_context(request))


@role_required(Action.FIELD_APP)
@require_GET
def state(request):
    """The tablet's state (field.selectors.tablet_state), fetched again whenever an event
    arrives; never cached on the way: the tablet keeps its own copy."""
    response = JsonResponse(selectors.tablet_state(request.user))
    response["Cache-Control"] = "no-store"
    return response


@role_required(Action.FIELD_APP)
@require_POST
def shift_start(request):
    form = ShiftStartForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            dispatch_services.shift_start(user=request.user, unit_id=form.cleaned_data["unit"].pk)
        except ServiceConflict as exc:
            messages.error(request, exc.detail)
        return redirect("field:home")
    return render(request, "field/home.html", _home_context(request, start_form=form), status=400)


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
