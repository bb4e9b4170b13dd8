"""Pages for people: sign-in landing and health (the catalogue is dispatch.screening_views)."""

import asyncio
import logging
import uuid
import weakref

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.http import require_GET

from dispatch.roles import HOME_URL_NAMES, role_of

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


# Each layer's health channel, per event loop: made once and asked again on every check. On
# Redis pub/sub a channel is a subscription that stays until a receive on it is cancelled, so a
# new channel per check (a load balancer asks every few seconds) was one more for ever.
_HEALTH_CHANNELS: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


async def _channel_layer_ok() -> bool:
    layer = get_channel_layer()
    channels = _HEALTH_CHANNELS.setdefault(layer, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    if loop not in channels:
        channels[loop] = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    try:
        await layer.send(channels[loop], {"type": "healthz.ping", "token": token})
        async with asyncio.timeout(2):
            # A ping of an earlier check that timed out may still come first.
            while (await layer.receive(channels[loop])).get("token") != token:
                pass
    except BaseException:
        channels.pop(loop, None)  # a cancelled receive gave the channel up: the next check makes one
        raise
    return True


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
