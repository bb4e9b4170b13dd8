"""Reads of dispatch state. Who may see which rows is decided here, once."""

from django.db.models import Prefetch, QuerySet

from dispatch.models import Assignment, Incident
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
