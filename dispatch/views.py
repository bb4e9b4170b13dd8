"""Pages for people: sign-in landing, the supervisor's catalogue, health."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import defaults
from django.views.decorators.http import require_GET, require_http_methods

from dispatch.forms import CallTypeForm, ScreeningQuestionForm
from dispatch.models import CallType, ScreeningQuestion
from dispatch.roles import HOME_URL_NAMES, Action, role_of, role_required

log = logging.getLogger(__name__)


@login_required
def home(request):
    """Send each role to its own home page."""
    role = role_of(request.user)
    if role not in HOME_URL_NAMES:
        return render(request, "no_role.html", status=403)
    return redirect(HOME_URL_NAMES[role])


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        connection.close_if_unusable_or_obsolete()


async def _channel_layer_ok() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return message.get("type") == "healthz.ping"


@require_GET
async def healthz(request):
    """200 only when both the database and the channel layer answer."""
    checks = {}
    try:
        checks["database"] = await sync_to_async(_database_ok)()
    except Exception as exc:
        log.warning("healthz: database check failed: %s", exc)
        checks["database"] = False
    try:
        checks["channel_layer"] = await _channel_layer_ok()
    except Exception as exc:
        log.warning("healthz: channel layer check failed: %s", exc)
        checks["channel_layer"] = False
    ok = all(checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


# --- Supervisor: the call-type catalogue and the screening questions ---------------------------
@role_required(Action.CATALOGUE_EDIT)
def supervisor_home(request):
    return render(
        request,
        "dispatch/supervisor_home.html",
        {"call_types": CallType.objects.all(), "questions": ScreeningQuestion.objects.all()},
    )


@role_required(Action.CATALOGUE_EDIT)
@require_http_methods(["GET", "POST"])
def call_type_edit(request, pk=None):
    call_type = get_object_or_404(CallType, pk=pk) if pk else None
    form = CallTypeForm(request.POST or None, instance=call_type)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"Saved {saved.code}.")
        return redirect("dispatch:supervisor_home")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "dispatch/call_type_form.html", {"form": form, "call_type": call_type}, status=status
    )


@role_required(Action.CATALOGUE_EDIT)
@require_http_methods(["GET", "POST"])
def screening_question_edit(request, pk):
    question = get_object_or_404(ScreeningQuestion, pk=pk)
    form = ScreeningQuestionForm(request.POST or None, instance=question)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved the question on {question.get_key_display().lower()}.")
        return redirect("dispatch:supervisor_home")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "dispatch/screening_form.html", {"form": form, "question": question}, status=status
    )


def not_found(request, exception=None):
    """Django's 404 for a URL nothing matched: the contract's JSON shape under /api/ (a machine
    client parses it), the page otherwise."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """Django's 500: under /api/ in the contract's JSON shape, never an HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
