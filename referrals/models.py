import re
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models

from dispatch.models import ChangeRecord, Program, Screened


class Person(models.Model):
    """Someone the program has contacted. Identity is optional: many are anonymous."""

    # The program that knows this person: people are never matched or merged across programs.
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200, blank=True)
    alias = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # The phone's digits alone, so "(720) 555-0199" is found by "7205550199"; kept by save().
    phone_digits = models.CharField(max_length=40, blank=True, db_index=True, editable=False)
    # Set when this record was merged into another; everything linked follows the survivor.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name or self.alias or f"Person #{self.pk}"

    def save(self, *args, **kwargs):
        self.phone_digits = re.sub(r"\D", "", self.phone or "")
        if kwargs.get("update_fields") is not None and "phone" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "phone_digits"}
        super().save(*args, **kwargs)


class PersonAccess(models.Model):
    """The audit of people's records: who opened or changed which record, and when.

    It stays on the record that was viewed, even after a merge: the audit says what a reader
    actually saw, so merging deliberately does not move these rows."""

    class Kind(models.TextChoices):
        VIEW = "view", "Viewed"
        MERGE = "merge", "Merged"
        LISTED = "listed", "Shown in a list"  # a search's results, the follow-up queue's rows

    # Read by referrals.services.person_merge: these rows are history, not links to follow.
    MERGE_KEEPS_ORIGINAL = True

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="accesses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.VIEW)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.user} {self.get_kind_display().lower()} {self.person_id} at {self.at:%Y-%m-%d %H:%M}"


# --- The service directory (Open Referral HSDS, lean) ---------------------------------------------
class Organization(models.Model):
    """An HSDS organization: the provider behind one or more services."""

    hsds_id = models.CharField(
        max_length=100, unique=True, null=True, blank=True, help_text="id in HSDS data"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    url = models.URLField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Location(models.Model):
    """An HSDS location (physical), with its one address folded in."""

    hsds_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="locations"
    )
    name = models.CharField(max_length=200, blank=True)
    address_1 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state_province = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name", "address_1"]

    def __str__(self):
        return self.name or self.address_1 or f"Location #{self.pk}"


class Service(models.Model):
    """An HSDS service: what a case manager connects a person to (the follow-up's provider)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        DEFUNCT = "defunct", "Defunct"
        TEMPORARILY_CLOSED = "temporarily closed", "Temporarily closed"

    hsds_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="services")
    # Resource mapping: None, a statewide service every program's people may be connected to
    # (a state crisis line, a statewide benefits office); else the one program it serves.
    program = models.ForeignKey(
        "dispatch.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Which follow-up service types this service answers; blank when the import could not tell.
    service_type = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    email = models.EmailField(blank=True)
    url = models.URLField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    locations = models.ManyToManyField(Location, blank=True, related_name="services")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.organization.name})"


class ServiceCapacity(models.Model):
    """HSDS service_capacity: how much of a service is available now (beds, slots)."""

    hsds_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="capacities")
    available = models.DecimalField(max_digits=10, decimal_places=2)
    maximum = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    unit = models.CharField(max_length=50, blank=True, help_text="e.g. beds, appointments")
    description = models.CharField(max_length=300, blank=True)
    updated = models.DateTimeField()

    class Meta:
        ordering = ["-updated"]

    def __str__(self):
        return f"{self.available} {self.unit} at {self.service.name}"


# --- Police referrals ------------------------------------------------------------------------------
class PoliceReferral(Screened):
    """A person or scene an officer hands to the community responders.

    `state` is the program's own working state; what the officer may see is derived from it
    (and from the incident) by referrals.selectors.referral_officer_status, and nothing else."""

    class Urgency(models.TextChoices):
        NOW = "now", "Now: send a team"
        LATER = "later", "Later: outreach"

    class State(models.TextChoices):
        DISPATCH = "dispatch", "Sent to dispatch"  # urgent: the incident carries the progress
        QUEUED = "queued", "In the outreach queue"
        CLAIMED = "claimed", "Claimed by a unit"
        FINISHED = "finished", "Finished as an encounter"

    # What an officer sees, and nothing finer.
    class OfficerStatus(models.TextChoices):
        RECEIVED = "received", "Received"
        ASSIGNED = "assigned", "Assigned"
        CONTACT_MADE = "contact_made", "Contact made"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    # The officer who filed it, or the police records system's service user.
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=64, blank=True, help_text="The police report number, if any.")
    urgency = models.CharField(max_length=8, choices=Urgency.choices)
    call_type_code = models.CharField(max_length=32)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="police_referrals"
    )
    person_description = models.CharField(max_length=500, blank=True)
    address = models.CharField(max_length=300)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_details = models.CharField(max_length=500, blank=True)
    situation = models.TextField()
    safety_notes = models.TextField(blank=True)
    officer_name = models.CharField(max_length=200)
    officer_callback = models.CharField(max_length=40)
    consent_to_contact = models.BooleanField()

    state = models.CharField(max_length=10, choices=State.choices)
    incident = models.ForeignKey(
        "dispatch.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="police_referrals"
    )
    claimed_by_unit = models.ForeignKey(
        "dispatch.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    contact_made = models.BooleanField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What the filer was last told of it (referral.updated): a change is told once. Blank for a
    # referral filed before this was kept.
    officer_status = models.CharField(max_length=12, choices=OfficerStatus.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["filed_by", "created_at"], name="referral_filer_created"),
            models.Index(fields=["state", "created_at"], name="referral_state_created"),
        ]

    def __str__(self):
        return f"Referral {self.get_urgency_display().split(':')[0].lower()} at {self.address}"


class OfficerContact(models.Model):
    """How the program reaches an officer who refers: remembered from their last referral so
    the phone form comes prefilled (an officer on a scene should not retype it)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="officer_contact"
    )
    callback = models.CharField(max_length=40)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user} · {self.callback}"


# --- Follow-up service connections -----------------------------------------------------------------
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

    # The lifecycle, in one table: from each status, the statuses it may move to.
    TRANSITIONS: dict[str, tuple[str, ...]] = {
        "open": ("attempted", "connected", "closed"),
        "attempted": ("attempted", "connected", "closed"),
        "connected": ("closed",),
        "closed": (),
    }

    # Its person's, incident's and referral's program: referrals.services refuses others.
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
    incident = models.ForeignKey(
        "dispatch.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
    referral = models.ForeignKey(
        PoliceReferral, null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
    service_type = models.CharField(max_length=20, choices=ServiceType.choices)
    provider = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups"
    )
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
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "due_at"], name="followup_status_due"),
            models.Index(fields=["created_at"], name="followup_created"),  # the reports' range
        ]

    def __str__(self):
        return f"{self.get_service_type_display()} follow-up ({self.get_status_display().lower()})"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED


class ContactAttempt(models.Model):
    """One try at reaching the person about a follow-up."""

    class Method(models.TextChoices):
        PHONE = "phone", "Phone call"
        TEXT = "text", "Text message"
        IN_PERSON = "in_person", "In person"
        EMAIL = "email", "Email"
        OTHER = "other", "Other"

    class Result(models.TextChoices):
        REACHED = "reached", "Reached"
        NO_ANSWER = "no_answer", "No answer"
        LEFT_MESSAGE = "left_message", "Left a message"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        OTHER = "other", "Other"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.PROTECT, related_name="attempts")
    at = models.DateTimeField()
    method = models.CharField(max_length=12, choices=Method.choices)
    result = models.CharField(max_length=14, choices=Result.choices)
    notes = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.get_method_display()}: {self.get_result_display()}"


class FollowUpChange(ChangeRecord):
    """History: every change to a follow-up, who made it and what it changed."""

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="changes")

    def __str__(self):
        return f"{self.get_kind_display()} follow-up {self.follow_up_id}"
