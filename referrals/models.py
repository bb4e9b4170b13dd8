from datetime import timedelta

from django.conf import settings
from django.db import models


class Person(models.Model):
    """Someone the program has contacted. Identity is optional: many are anonymous."""

    name = models.CharField(max_length=200, blank=True)
    alias = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # Set when this record was merged into another; everything linked follows the survivor.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name or self.alias or f"Person #{self.pk}"


class FollowUp(models.Model):
    """A follow-up service connection, worked by a case manager."""

    DEFAULT_DUE = timedelta(hours=48)

    class ServiceType(models.TextChoices):
        MENTAL_HEALTH = "mental_health", "Mental health"
        SUBSTANCE_USE = "substance_use", "Substance use treatment"
        HOUSING = "housing", "Housing / shelter"
        MEDICAL = "medical", "Medical"
        BENEFITS = "benefits", "Benefits"
        FOOD = "food", "Food"
        LEGAL = "legal", "Legal"
        PEER_SUPPORT = "peer_support", "Peer support"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ATTEMPTED = "attempted", "Attempted"
        CONNECTED = "connected", "Connected"
        CLOSED = "closed", "Closed"

    class CloseReason(models.TextChoices):
        ENGAGED = "engaged", "Engaged"
        DECLINED = "declined", "Declined"
        UNABLE_TO_REACH = "unable_to_reach", "Unable to reach"
        MOVED = "moved", "Moved"
        OTHER = "other", "Other"

    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
    incident = models.ForeignKey(
        "dispatch.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
    service_type = models.CharField(max_length=20, choices=ServiceType.choices)
    consent = models.BooleanField(help_text="The person agreed to be contacted about this service.")
    # 42 CFR Part 2: sharing substance-use information with a provider needs written consent.
    written_consent_to_share = models.BooleanField(null=True, blank=True)
    notes = models.TextField(blank=True)
    case_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="caseload"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    due_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "due_at"], name="followup_status_due")]

    def __str__(self):
        return f"{self.get_service_type_display()} follow-up ({self.get_status_display().lower()})"
