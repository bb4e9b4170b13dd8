"""Reads of dispatch state. Who may see which rows is decided here, once."""

from django.db.models import Prefetch, QuerySet

from dispatch.models import Assignment, Incident, Unit
from dispatch.roles import Role, role_of


def incident_list_visible(user) -> QuerySet[Incident]:
    """Incidents the caller may read: a CAD or hotline client its own, dispatch all."""
    qs = Incident.objects.select_related("call_type").prefetch_related(
        Prefetch("assignments", queryset=Assignment.objects.select_related("unit").order_by("dispatched_at"))
    )
    role = role_of(user)
    if role == Role.CAD:
        return qs.filter(api_client__user=user)
    if role in (Role.DISPATCHER, Role.SUPERVISOR):
        return qs
    return qs.none()


def unit_list() -> QuerySet[Unit]:
    """Every unit with the responders on shift with it (as `on_shift`)."""
    from field.models import Shift

    return Unit.objects.prefetch_related(
        Prefetch(
            "shifts",
            queryset=Shift.objects.filter(ended_at__isnull=True)
            .select_related("user")
            .order_by("started_at"),
            to_attr="on_shift",
        )
    )


def assignment_list_visible(user) -> QuerySet[Assignment]:
    """Assignments the caller may act on: a responder only their own unit's on shift now;
    a CAD client those on its own incidents; dispatch all."""
    from field.selectors import shift_unit_id

    qs = Assignment.objects.select_related("unit", "incident")
    role = role_of(user)
    if role in (Role.DISPATCHER, Role.SUPERVISOR):
        return qs
    if role == Role.CAD:
        return qs.filter(incident__api_client__user=user)
    if role == Role.RESPONDER:
        unit_id = shift_unit_id(user)
        return qs.filter(unit_id=unit_id) if unit_id is not None else qs.none()
    return qs.none()
