"""The audit trail: one call records who did or saw what."""

from dispatch.models import AuditEntry


def audit_record(
    *, actor, kind: str, action: str, target: str = "", detail: dict | None = None, program=None
) -> AuditEntry:
    """Write one audit entry, in the caller's transaction when it has one (so a change and its
    record commit or roll back together). `actor` may be None for the system itself; an
    anonymous user counts as None. `detail` must be JSON: ids, counts, the filters used, never
    the personal data that was read. `program`: the program it was in (None: the whole
    deployment, as a statewide role's read of several)."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEntry.objects.create(
        actor=actor,
        kind=kind,
        action=action[:60],
        target=target[:200],
        detail=detail or {},
        program=program,
    )
