"""Sign-in lockouts (django-axes): a supervisor lifts one, and that is audited."""

from axes.models import AccessAttempt
from django.db import transaction

from dispatch.models import AuditEntry
from dispatch.services.audit import audit_record
from dispatch.services.conflicts import ServiceConflict


def lockout_lift(*, actor, attempt_id) -> None:
    """Forget the failed sign-ins of one user name from one address, so it may try again now.
    Refuses one already lifted or aged out (`lockout_gone`)."""
    with transaction.atomic():
        attempt = AccessAttempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None:
            raise ServiceConflict("lockout_gone", "That lockout was already lifted or has run out.")
        audit_record(
            actor=actor,
            kind=AuditEntry.Kind.SECURITY,
            action="signin.lockout_lift",
            target=f"user {attempt.username}",
            detail={"ip_address": attempt.ip_address, "failures": attempt.failures_since_start},
        )
        attempt.delete()
