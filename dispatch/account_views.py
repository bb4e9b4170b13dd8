"""Signing in and the second factor; the supervisors' page of sign-in lockouts.

Sign-in is two steps for a person with a second factor: the password (django's form, watched by
django-axes for lockouts), then a code from the app or a recovery code. Until the code is
right the session only remembers who is half-way through (SIGNIN_PENDING), for a few minutes;
nobody is signed in. A person whose role requires a second factor and who has none is sent to
enrolment by dispatch.middleware.SecondFactorMiddleware.
"""

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from dispatch import selectors
from dispatch.roles import Action, role_required
from dispatch.services import ServiceConflict
from dispatch.services import second_factor as sf
from dispatch.services.signin import lockout_lift
from dispatch.session_guard import now_seconds

SIGNIN_PENDING = "signin_pending"
PENDING_SECONDS = 300
PENDING_TRIES = 5


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=16,
        label="Code",
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class SignInView(LoginView):
    """The password step; with a second factor, the code step follows."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if not sf.second_factor_enrolled(user):
            return super().form_valid(form)
        self.request.session[SIGNIN_PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "at": now_seconds(),
            "tries": 0,
            "next": self.get_success_url(),
        }
        return redirect("signin_code")


def _pending(request):
    pending = request.session.get(SIGNIN_PENDING)
    if not isinstance(pending, dict) or now_seconds() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(SIGNIN_PENDING, None)
        return None
    return pending


def _safe_next(request, url):
    if url and url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return url
    return resolve_url("home")


@require_http_methods(["GET", "POST"])
def signin_code(request):
    """The code step: after the password, or for a session signed in before its role needed
    a second factor."""
    pending = None
    if request.user.is_authenticated:
        user = request.user
        if user.is_verified() or not sf.second_factor_enrolled(user):
            return redirect("home")
        target = request.GET.get("next", "")
    else:
        pending = _pending(request)
        if pending is None:
            messages.info(request, "Sign in with your password first.")
            return redirect("login")
        user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
        if user is None:
            request.session.pop(SIGNIN_PENDING, None)
            return redirect("login")
        target = pending.get("next", "")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        device = sf.second_factor_verify(user, form.cleaned_data["code"])
        if device is not None:
            if pending is not None:
                request.session.pop(SIGNIN_PENDING, None)
                login(request, user, backend=pending["backend"])
            otp_login(request, device)
            return redirect(_safe_next(request, target))
        form.add_error("code", "That code did not match. Try the newest code your app shows.")
        if pending is not None:
            pending["tries"] += 1
            if pending["tries"] >= PENDING_TRIES:
                request.session.pop(SIGNIN_PENDING, None)
                messages.error(request, "Too many wrong codes: sign in with your password again.")
                return redirect("login")
            request.session[SIGNIN_PENDING] = pending
    if request.method == "POST":
        status = 400
    return render(request, "registration/signin_code.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request):
    """Enrolment: scan the code (or type the secret) into an authenticator app, then prove it
    with one of its codes; the recovery codes are shown once."""
    user = request.user
    enrolled = sf.second_factor_enrolled(user)
    if enrolled and request.method == "GET" and "again" not in request.GET:
        return render(
            request,
            "registration/second_factor.html",
            {"enrolled": True, "required": sf.second_factor_required(user)},
        )
    if enrolled and not user.is_verified():
        # Setting up again replaces the app: only with the current one proven first.
        return redirect(f"{resolve_url('signin_code')}?next={request.path}")
    device = sf.totp_pending(user)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        codes = sf.totp_confirm(user=user, device=device, token=form.cleaned_data["code"])
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            return render(request, "registration/recovery_codes.html", {"codes": codes})
        form.add_error("code", "That code did not match. Check the app's clock and try the newest code.")
    if request.method == "POST":
        status = 400
    qr = segno.make(device.config_url, error="m")
    svg = qr.svg_inline(scale=4, title="QR code to scan with an authenticator app", dark="#000", light="#fff")
    context = {
        "enrolled": enrolled,
        "required": sf.second_factor_required(user),
        "form": form,
        "qr_svg": mark_safe(svg),
        "secret": _base32(device.bin_key),
    }
    return render(request, "registration/second_factor.html", context, status=status)


def _base32(key: bytes) -> str:
    from base64 import b32encode

    text = b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


# --- Lockouts ------------------------------------------------------------------------------------
@role_required(Action.PEOPLE_ADMIN)
@require_http_methods(["GET"])
def lockouts(request):
    context = {
        "lockouts": selectors.signin_lockouts(),
        "limit": settings.AXES_FAILURE_LIMIT,
        "minutes": settings.AXES_COOLOFF_MINUTES,
    }
    return render(request, "dispatch/supervisor_lockouts.html", context)


@role_required(Action.PEOPLE_ADMIN)
@require_POST
def lockout_lift_view(request, attempt_id):
    try:
        lockout_lift(actor=request.user, attempt_id=attempt_id)
    except ServiceConflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Lockout lifted: they may sign in again now.")
    return redirect("dispatch:supervisor_lockouts")
