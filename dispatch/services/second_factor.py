"""The second factor: a TOTP authenticator app, and recovery codes for the day the phone is lost
(django-otp's TOTP and static devices). Required for the roles in OTP_REQUIRED_ROLES, offered
to everyone. Enrolling and using a recovery code are audited (AuditEntry.Kind.SECURITY)."""

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user, match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from dispatch.models import AuditEntry
from dispatch.roles import role_of
from dispatch.services.audit import audit_record

RECOVERY_CODES = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def second_factor_required(user) -> bool:
    """Whether the person's role must sign in with a second factor (API clients never: they
    hold a token, not a password)."""
    if getattr(user, "api_client", None) is not None:
        return False
    return role_of(user) in settings.OTP_REQUIRED_ROLES


def second_factor_enrolled(user) -> bool:
    return user_has_device(user, confirmed=True)


def totp_pending(user) -> TOTPDevice:
    """The authenticator app being set up: one unconfirmed device, made on first asking."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def totp_confirm(*, user, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the app with a code it shows: it replaces any earlier app, and a fresh set of
    recovery codes replaces any earlier set. Returns the recovery codes (shown once), or None
    when the code does not match (nothing changes)."""
    if device.user_id != user.pk or device.confirmed:
        return None
    token = (token or "").replace(" ", "")
    if not (token.isdigit() and device.verify_is_allowed()[0] and device.verify_token(token)):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
        audit_record(
            actor=user,
            kind=AuditEntry.Kind.SECURITY,
            action="second_factor.enrol",
            target=f"user {user.username}",
        )
    return codes


def _recovery_codes_replace(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def second_factor_verify(user, token: str):
    """The device that accepts `token` (an app's code, or a recovery code, which is then used
    up), or None. The devices throttle repeated failures themselves."""
    token = (token or "").strip().replace(" ", "")
    if not token or len(token) > 16:
        return None
    device = match_token(user, token)
    if isinstance(device, StaticDevice):
        audit_record(
            actor=user,
            kind=AuditEntry.Kind.SECURITY,
            action="second_factor.recovery_code",
            target=f"user {user.username}",
            detail={"left": device.token_set.count()},
        )
    return device


def second_factor_devices(user) -> list:
    return list(devices_for_user(user, confirmed=True))
