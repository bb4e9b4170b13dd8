from field.models import Shift


def shift_unit_id(user) -> int | None:
    """The unit the responder is on shift with now, or None."""
    return Shift.objects.filter(user=user, ended_at__isnull=True).values_list("unit_id", flat=True).first()
