from datetime import UTC

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.utils import timezone

from dispatch import session_guard


class ApiBodyLimitMiddleware:
    """For /api/: refuse bodies over 64 KiB with 413 before anything reads them, and answer in UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"code": "bad_content_length", "detail": "Content-Length is not a number."}, status=400
            )
        if length > settings.API_MAX_BODY_BYTES:
            return JsonResponse(
                {"code": "too_large", "detail": f"Request body is over {settings.API_MAX_BODY_BYTES} bytes."},
                status=413,
            )
        with timezone.override(UTC):
            return self.get_response(request)


class PrivacyHeadersMiddleware:
    """Every answer the app renders (pages, fragments, API answers; static files are served
    before this by WhiteNoise) is `Cache-Control: no-store` unless its view chose otherwise:
    they hold names, addresses and narratives, and a shared computer's browser cache or a
    proxy must not keep them. And the Permissions-Policy of settings.PERMISSIONS_POLICY."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        if settings.PERMISSIONS_POLICY:
            response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class IdleLockMiddleware:
    """The idle lock (CJIS 5.5.5): a session nobody has used for SESSION_IDLE_SECONDS is ended.

    A page asked for then goes to sign-in with a message saying why; a request from a script (the
    tablet's outbox, htmx, the API) gets its usual answer for someone not signed in (401/403),
    so the tablet keeps what it was sending. Requests a page makes on its own carry
    `X-Background: 1` and do not count as use; every other request does."""

    # How often the moment of last use is written back: not on every request.
    WRITE_EVERY_SECONDS = 30

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        session = request.session
        if session_guard.is_idle(session):
            session_guard.session_ended(session.session_key, session_guard.Ended.IDLE)
            logout(request)
            minutes = max(1, round(settings.SESSION_IDLE_SECONDS / 60))
            messages.info(request, f"You were signed out after {minutes} minutes idle. Sign in again.")
            if request.method == "GET" and not request.path.startswith(SCRIPT_PREFIXES) and not request.htmx:
                return redirect_to_login(request.get_full_path())
            if request.htmx:
                response = HttpResponse(status=401)
                response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
                return response
            return self.get_response(request)
        if request.META.get(session_guard.BACKGROUND_HEADER) != "1":
            last = session.get(session_guard.LAST_ACTIVE_KEY)
            now = session_guard.now_seconds()
            if not isinstance(last, int | float) or now - last >= self.WRITE_EVERY_SECONDS:
                session[session_guard.LAST_ACTIVE_KEY] = now
        return self.get_response(request)


# Paths answered to scripts, not people: they keep their own answer for a caller not signed in.
SCRIPT_PREFIXES = ("/api/", "/field/api/", "/field/state")


def note_sign_in(sender, request, user, **kwargs):
    """user_logged_in: the session's use starts now."""
    if request is not None and hasattr(request, "session"):
        request.session[session_guard.LAST_ACTIVE_KEY] = session_guard.now_seconds()


class SecondFactorMiddleware:
    """People whose role requires a second factor (OTP_REQUIRED_ROLES) use nothing but sign-in
    and enrolment until their session has passed it: without a device they are sent to
    enrolment, with one to the code step. Scripts are answered 403 `second_factor_required`."""

    OPEN_PREFIXES = ("/signin/", "/signout/", "/account/second-factor/", "/static/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from dispatch.services import second_factor as sf

        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or request.path.startswith(self.OPEN_PREFIXES)
            or user.is_verified()
            or not sf.second_factor_required(user)
        ):
            return self.get_response(request)
        if request.path.startswith(SCRIPT_PREFIXES):
            return JsonResponse(
                {"code": "second_factor_required", "detail": "Sign in with your second factor first."},
                status=403,
            )
        if sf.second_factor_enrolled(user):
            return redirect_to_login(request.get_full_path(), login_url=resolve_url("signin_code"))
        return redirect_to_login(request.get_full_path(), login_url=resolve_url("second_factor"))
