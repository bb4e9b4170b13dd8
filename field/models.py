from django.conf import settings
from django.db import models
from django.db.models import Q


class Shift(models.Model):
    """A responder on a unit, from start to end of shift. Both partners hold one on the same unit."""

    unit = models.ForeignKey("dispatch.Unit", on_delete=models.PROTECT, related_name="shifts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shifts")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(ended_at__isnull=True), name="one_open_shift_per_responder"
            )
        ]

    def __str__(self):
        return f"{self.user} on {self.unit}"
