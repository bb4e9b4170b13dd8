import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q

from dispatch.roles import API_ROLES, HUMAN_ROLES


def _time_zone_valid(value: str) -> None:
    from dispatch.programs import time_zone_validate

    time_zone_validate(value)


def _service_area_valid(value) -> None:
    from dispatch.programs import service_area_validate

    service_area_validate(value)


class Program(models.Model):
    """One community responder program of the deployment (a city's team, a county's): every
    incident, unit, assignment, shift, referral, follow-up, person, alert, event and report
    belongs to one. Its service area (GeoJSON, dispatch.programs) routes a statewide caller's
    incidents; its time zone draws its days."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, validators=[_time_zone_valid], help_text="An IANA name.")
    service_area = models.JSONField(
        null=True,
        blank=True,
        validators=[_service_area_valid],
        help_text="A GeoJSON Polygon or MultiPolygon (longitude, latitude).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "slug"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        from dispatch.programs import areas_forget

        transaction.on_commit(areas_forget)
        areas_forget()


class Membership(models.Model):
    """A person's role in one program, or in every program (`program` None: a statewide role,
    a state supervisor or a 988 dispatcher). dispatch.roles reads these."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    program = models.ForeignKey(
        Program, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=[(r.value, r.label) for r in HUMAN_ROLES])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "program"], name="membership_one_role_per_program"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(program__isnull=True), name="membership_one_statewide_role"
            ),
        ]

    def __str__(self):
        return f"{self.user} {self.role} in {self.program or 'every program'}"


class ApiClient(models.Model):
    """A machine caller of the integration API: a CAD, a police records system.

    Each client acts through its own service user so that history, idempotency keys and
    permissions treat people and machines alike. Only a hash of the key is stored.
    """

    name = models.CharField(max_length=100, unique=True)
    role = models.CharField(max_length=20, choices=[(r.value, r.label) for r in API_ROLES])
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client")
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell keys apart.")
    is_active = models.BooleanField(default=True)
    # The program the client works for; None: statewide (a 988 or hotline centre).
    program = models.ForeignKey(
        Program, null=True, blank=True, on_delete=models.PROTECT, related_name="api_clients"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.name} ({self.get_role_display()})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_key() -> str:
        return secrets.token_hex(20)


class CallType(models.Model):
    """One code of the CAD's call-type catalogue, and whether it may go to a team by default."""

    code = models.CharField(max_length=32, unique=True, help_text="The CAD's code, stored upper-case.")
    name = models.CharField(max_length=100)
    eligible = models.BooleanField(
        default=True, help_text="Eligible for community response when screening finds no disqualifier."
    )
    guidance = models.TextField(blank=True, help_text="What call takers should know about this call type.")
    # The same kind of call in the words every CAD shares (APCO ANS 2.103, Public Safety
    # Communications Common Incident Types for Data Exchange): what an EIDO's
    # incidentTypeCommonRegistryText carries, and what the exports add beside the local code.
    apco_code = models.CharField(
        "APCO incident type",
        max_length=32,
        blank=True,
        help_text="The APCO common incident type code, e.g. WELFARE, EDP, SUICTHRT.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} — {self.name}"

    def save(self, *args, **kwargs):
        self.code = self.normalise_code(self.code)
        self.apco_code = self.normalise_code(self.apco_code)
        super().save(*args, **kwargs)

    @staticmethod
    def normalise_code(code: str) -> str:
        """A call-type code as the catalogue stores it and every channel matches it: CADs send
        "welfare", "Welfare " and "WELFARE" for one code."""
        return (code or "").strip().upper()


class ScreeningQuestion(models.Model):
    """The wording call takers read for each of the four disqualifiers; supervisors edit it.

    The rule itself (any "yes" disqualifies; an unanswered question blocks automatic
    eligibility) is fixed in `dispatch.screening` so that every channel applies it alike.
    """

    class Key(models.TextChoices):
        WEAPONS = "weapons", "Weapons"
        VIOLENCE = "violence", "Credible threat of violence"
        MEDICAL_EMERGENCY = "medical_emergency", "Emergency medical need"
        POLICE_ONLY = "police_only", "Urgent police-only need"

    key = models.CharField(max_length=32, choices=Key.choices, unique=True)
    prompt = models.CharField(max_length=300)
    guidance = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self):
        return self.get_key_display()


class Screened(models.Model):
    """The four screening answers a call or a police referral carries: True/False as answered,
    None when the question was not asked (or the officer was not sure)."""

    screen_weapons = models.BooleanField(null=True)
    screen_violence = models.BooleanField(null=True)
    screen_medical_emergency = models.BooleanField(null=True)
    screen_police_only = models.BooleanField(null=True)

    class Meta:
        abstract = True

    @property
    def screening(self) -> dict:
        return {
            "weapons": self.screen_weapons,
            "violence": self.screen_violence,
            "medical_emergency": self.screen_medical_emergency,
            "police_only": self.screen_police_only,
        }


class Incident(Screened):
    class Source(models.TextChoices):
        E911 = "911", "911"
        E988 = "988", "988"
        NON_EMERGENCY = "non_emergency", "Non-emergency line"
        DIRECT_LINE = "direct_line", "Program's direct line"
        EXTERNAL_HOTLINE = "external_hotline", "External hotline"
        POLICE_REFERRAL = "police_referral", "Police referral"
        SELF_INITIATED = "self_initiated", "Self-initiated"

    # What a CAD or hotline may send (CONTRACT.md); the others come from inside the product.
    API_SOURCES = ("911", "988", "non_emergency", "direct_line", "external_hotline")
    # CONTRACT.md "Places": a possible duplicate is another open incident received in the hour
    # before, within 150 m or at the same normalised address.
    DUPLICATE_WINDOW = timedelta(minutes=60)
    DUPLICATE_RADIUS_KM = 0.150

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ASSIGNED = "assigned", "Assigned"
        CLOSED = "closed", "Closed"
        CANCELLED = "cancelled", "Cancelled"

    class Tandem(models.TextChoices):
        POLICE = "police", "Police"
        EMS = "ems", "EMS"
        FIRE = "fire", "Fire"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="incidents")
    api_client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.PROTECT)
    external_id = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    call_type_code = models.CharField(max_length=32, help_text="The code as the sender gave it.")
    call_type = models.ForeignKey(CallType, null=True, blank=True, on_delete=models.SET_NULL)
    priority = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    received_at = models.DateTimeField()

    address = models.CharField(max_length=300)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_details = models.CharField(max_length=500, blank=True)

    caller_name = models.CharField(max_length=200, blank=True)
    caller_phone = models.CharField(max_length=40, blank=True)
    narrative = models.TextField(blank=True)

    tandem = models.JSONField(default=list, blank=True)

    # Decided by dispatch.screening.eligibility() whenever screening or call type changes,
    # and stored: reports need "screened eligible at the time", not today's catalogue.
    eligible = models.BooleanField(default=False)
    eligibility_reasons = models.JSONField(default=list, blank=True)

    # Places (CONTRACT.md): whether latitude/longitude came from geocoding the address rather
    # than from the sender; the address as the gazetteer normalises it (dispatch.geocoding), so
    # two calls about one place match however each was typed; and the other open incidents at
    # the same place in the hour before this one (ids, oldest first), kept as it arrived and
    # pruned as they close, so every answer and event carries them without a query.
    geocoded = models.BooleanField(default=False)
    address_key = models.CharField(max_length=300, blank=True)
    possible_duplicates = models.JSONField(default=list, blank=True)
    # Set when a dispatcher closed this call as a duplicate of another one about the same thing.
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The lastUpdateTimeStamp of the newest NENA EIDO this incident was written from (None: it
    # never came as one): an EIDO re-issued with an older one changes nothing.
    eido_updated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "external_id"],
                condition=Q(api_client__isnull=False),
                name="incident_external_id_unique_per_client",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="incident_status_received"),
            models.Index(fields=["received_at"], name="incident_received"),
        ]

    def __str__(self):
        return f"{self.call_type_code} at {self.address}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.ASSIGNED)


class ChangeRecord(models.Model):
    """History of a record: every change, who made it and what it changed. Each history table
    (an incident's, a follow-up's) adds the record it belongs to; the kinds of change are one
    vocabulary across the product."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        STATUS = "status", "Status changed"
        CANCELLED = "cancelled", "Cancelled"  # an incident
        CLAIMED = "claimed", "Claimed"  # a follow-up, by a case manager
        ATTEMPT = "attempt", "Contact attempt"  # a follow-up
        MERGED = "merged", "Person merged"  # a follow-up's person, into another record

    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(auto_now_add=True)
    # {"field": [old, new], ...}; on creation, {"field": [null, value]}.
    changes = models.JSONField(default=dict)

    class Meta:
        abstract = True
        ordering = ["at", "id"]


class IncidentChange(ChangeRecord):
    """History: every change to an incident, who made it and what it changed."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="changes")

    def __str__(self):
        return f"{self.get_kind_display()} {self.incident_id} at {self.at:%Y-%m-%d %H:%M}"


class IdempotentRequest(models.Model):
    """The first answer to a write sent with an Idempotency-Key, replayed for 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=100)
    scope = models.CharField(max_length=100, help_text="Which endpoint the key was used on.")
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self):
        return f"{self.scope} {self.key}"


class Unit(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        DISPATCHED = "dispatched", "Dispatched"
        EN_ROUTE = "en_route", "En route"
        ON_SCENE = "on_scene", "On scene"
        TRANSPORTING = "transporting", "Transporting"
        OUT_OF_SERVICE = "out_of_service", "Out of service"
        OFF_DUTY = "off_duty", "Off duty"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="units")
    callsign = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFF_DUTY)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # When the unit last became available: "longest available" breaks recommendation ties.
    available_since = models.DateTimeField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_at = models.DateTimeField(null=True, blank=True)
    # A retired unit (a van sold, a team disbanded) is kept for its history and shown nowhere live.
    retired_at = models.DateTimeField(null=True, blank=True)
    roster = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="roster_units",
        help_text="Responders who usually staff this unit.",
    )

    class Meta:
        ordering = ["callsign"]

    def __str__(self):
        return self.callsign


# The assignment status machine, in one table: from each status, the steps allowed
# (Assignment.TRANSITIONS). Every list of statuses below is derived from it.
ASSIGNMENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "dispatched": ("en_route",),
    "en_route": ("on_scene",),
    "on_scene": ("transporting", "cleared"),
    "transporting": ("cleared",),
    "cleared": (),
    "cancelled": (),
}
# An assignment is active while it has a step left to take.
ACTIVE_ASSIGNMENT_STATUSES: tuple[str, ...] = tuple(s for s, steps in ASSIGNMENT_TRANSITIONS.items() if steps)
# The statuses a step can move an assignment to (what the status endpoints accept).
ASSIGNMENT_STEPS: tuple[str, ...] = tuple(
    dict.fromkeys(step for steps in ASSIGNMENT_TRANSITIONS.values() for step in steps)
)


def _reachable_from(status: str) -> tuple[str, ...]:
    seen = [status]
    for current in seen:
        seen.extend(step for step in ASSIGNMENT_TRANSITIONS[current] if step not in seen)
    return tuple(seen)


# The team reached the scene: on scene, or any status after it (an outcome may be recorded).
SCENE_REACHED_STATUSES: tuple[str, ...] = _reachable_from("on_scene")


class Shift(models.Model):
    """A responder on a unit, from start to end of shift. Both partners hold one on the same unit.

    Dispatch's concept (who staffs a unit is what the board, the API's members and the tablet's
    socket all read); the table keeps the name it was created with in the field app."""

    # The unit's program, kept beside it so every list of shifts is scoped without a join.
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="shifts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shifts")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "field_shift"
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(ended_at__isnull=True), name="one_open_shift_per_responder"
            )
        ]

    def __str__(self):
        return f"{self.user} on {self.unit}"

    def save(self, *args, **kwargs):
        if self.program_id is None and self.unit_id is not None:
            self.program_id = Unit.objects.values_list("program_id", flat=True).get(pk=self.unit_id)
        super().save(*args, **kwargs)


class Assignment(models.Model):
    class Status(models.TextChoices):
        DISPATCHED = "dispatched", "Dispatched"
        EN_ROUTE = "en_route", "En route"
        ON_SCENE = "on_scene", "On scene"
        TRANSPORTING = "transporting", "Transporting"
        CLEARED = "cleared", "Cleared"
        CANCELLED = "cancelled", "Cancelled"

    # The status machine, in one table: from each status, the steps allowed.
    TRANSITIONS = ASSIGNMENT_TRANSITIONS
    # Where each status's moment is kept: every step keeps its own timestamp, because programs
    # measure response time from different ones (received, dispatched or en route → on scene).
    TIMESTAMP_OF: dict[str, str] = {
        "dispatched": "dispatched_at",
        "en_route": "en_route_at",
        "on_scene": "on_scene_at",
        "transporting": "transporting_at",
        "cleared": "cleared_at",
        "cancelled": "cancelled_at",
    }
    # Every moment of an assignment, in the order they happen (acknowledged comes after dispatch).
    TIMESTAMPS: tuple[str, ...] = (
        "dispatched_at",
        "acknowledged_at",
        "en_route_at",
        "on_scene_at",
        "transporting_at",
        "cleared_at",
        "cancelled_at",
    )
    # The unit's status while its assignment is in each state.
    UNIT_STATUS = {
        "dispatched": Unit.Status.DISPATCHED,
        "en_route": Unit.Status.EN_ROUTE,
        "on_scene": Unit.Status.ON_SCENE,
        "transporting": Unit.Status.TRANSPORTING,
        "cleared": Unit.Status.AVAILABLE,
        "cancelled": Unit.Status.AVAILABLE,
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Always its incident's (and its unit's) program: dispatch.services.assignments refuses others.
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="assignments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DISPATCHED)
    override_reason = models.TextField(blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dispatched_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    transporting_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    transport_destination = models.CharField(max_length=200, blank=True)
    # Set once the unacknowledged-assignment alert has been raised, so it is raised once.
    ack_alert_raised_at = models.DateTimeField(null=True, blank=True)
    # A step sent late (a tablet that was offline) carries `at`, when it happened on the device:
    # that is what its own timestamp field holds, and what every report measures. When the
    # server received it is kept here, by timestamp field: {"en_route_at": "…Z"}. A step sent
    # without `at` happened when it was received and has no entry.
    step_receipts = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # Database-enforced: at most one active assignment per incident and per unit.
            models.UniqueConstraint(
                fields=["incident"],
                condition=Q(status__in=ACTIVE_ASSIGNMENT_STATUSES),
                name="one_active_assignment_per_incident",
            ),
            models.UniqueConstraint(
                fields=["unit"],
                condition=Q(status__in=ACTIVE_ASSIGNMENT_STATUSES),
                name="one_active_assignment_per_unit",
            ),
        ]
        indexes = [models.Index(fields=["dispatched_at"], name="assignment_dispatched")]

    def __str__(self):
        return f"{self.unit} → {self.incident_id}"

    def save(self, *args, **kwargs):
        if self.program_id is None and self.incident_id is not None:
            self.program_id = Incident.objects.values_list("program_id", flat=True).get(pk=self.incident_id)
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_ASSIGNMENT_STATUSES


class Event(models.Model):
    """The event log: written in the transaction of the change it describes, sent after commit.

    `unit` says which tablets may see it (None: dispatch consoles only). The ids only grow
    and are handed out in commit order (see dispatch.events), so `resume` never skips one.
    """

    id = models.BigAutoField(primary_key=True)
    # Who may receive it: the consoles of this program (dispatch.groups.dispatch_group).
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=40)
    at = models.DateTimeField()
    data = models.JSONField()
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["unit", "id"], name="event_unit_id"),
            # The newest of a program's events, read under the id lock (dispatch.events).
            models.Index(fields=["program", "id"], name="event_program_id"),
            models.Index(fields=["at"], name="event_at"),
        ]

    def __str__(self):
        return f"#{self.id} {self.type}"


class Alert(models.Model):
    """Something a dispatcher must see and acknowledge: an assignment not acknowledged in
    time, a team's backup request. It stays on every console until one dispatcher
    acknowledges it."""

    class Kind(models.TextChoices):
        ACK_OVERDUE = "ack_overdue", "Assignment not acknowledged"
        BACKUP = "backup", "Backup requested"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    message = models.CharField(max_length=300)
    urgent = models.BooleanField(default=False)
    # What the alert is about, for the console and the tablet (e.g. {"backup_id": 3, "kind": "police"}).
    data = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["acknowledged_at", "raised_at"], name="alert_open")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.message}"


class ClinicianTransfer(models.Model):
    """The embedded-clinician model: a call taker hands a call to the clinicians' queue; a
    clinician talks with the caller and either resolves it by phone (no one is sent) or
    dispatches a team. One transfer per incident; its outcome is the record of what happened."""

    class Outcome(models.TextChoices):
        OPEN = "open", "Waiting for a clinician"
        RESOLVED_BY_PHONE = "resolved_by_phone", "Resolved by phone"
        DISPATCHED = "dispatched", "Team dispatched"
        CANCELLED = "cancelled", "Call cancelled"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="clinician_transfer")
    transferred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    transferred_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True, help_text="The call taker's handover note.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.OPEN)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["outcome", "transferred_at"], name="transfer_outcome")]

    def __str__(self):
        return f"{self.incident} → clinician ({self.get_outcome_display()})"

    def save(self, *args, **kwargs):
        if self.program_id is None and self.incident_id is not None:
            self.program_id = Incident.objects.values_list("program_id", flat=True).get(pk=self.incident_id)
        super().save(*args, **kwargs)


class PhoneContact(models.Model):
    """One phone contact a clinician had with the caller of a transferred call."""

    transfer = models.ForeignKey(ClinicianTransfer, on_delete=models.CASCADE, related_name="contacts")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    notes = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"Phone contact on {self.transfer.incident_id} at {self.at:%Y-%m-%d %H:%M}"


class ExportAudit(models.Model):
    """Who exported program data, when, for which range and with or without personal identifiers.

    Every CSV export writes one row before the first byte is sent, so an export that is
    interrupted is still on record."""

    class Kind(models.TextChoices):
        INCIDENTS = "incidents", "Incidents"
        ASSIGNMENTS = "assignments", "Assignments"
        OUTCOMES = "outcomes", "Outcomes"

    # The programs exported (ids), as the caller could see them.
    programs = models.JSONField(default=list, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    range_start = models.DateField()
    range_end = models.DateField(help_text="Inclusive: the last day exported.")
    with_identifiers = models.BooleanField(default=False)
    # The dashboard filters in force (source, call type, unit), as given.
    filters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        who = "with identifiers" if self.with_identifiers else "without identifiers"
        return f"{self.user} exported {self.kind} {self.range_start}–{self.range_end} {who}"


class AuditEntry(models.Model):
    """The product's audit trail: who changed how the program runs (units, people, roles) and
    who saw or took out what identifies a person (searches, queues, exports). Written in the
    same transaction as the change it records, or before the answer that shows what was read;
    never edited. (Opening one person's record is kept in referrals.PersonAccess, exports in
    ExportAudit; the audit page reads all three.)"""

    class Kind(models.TextChoices):
        ADMINISTRATION = "administration", "Administration change"
        IDENTITY_READ = "identity_read", "Read of people's identities"
        EXPORT = "export", "Export"
        SECURITY = "security", "Security event"

    # The program the change or read was in; None: the whole deployment (a statewide role).
    program = models.ForeignKey(Program, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What was done, as "<thing>.<verb>": "unit.create", "user.deactivate", "person.search".
    action = models.CharField(max_length=60)
    # What it was done to, readable on its own after the thing is gone: "unit CR-7", "user sam".
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["kind", "at"], name="audit_kind_at")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"


class ReportDay(models.Model):
    """A day's version for the program's reports (dispatch.reports): it rises whenever a record
    that day's numbers read changes (dispatch.reports.days_changed)."""

    day = models.DateField(primary_key=True)
    version = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.day} v{self.version}"


class ReportSums(models.Model):
    """The kept sums of a settled day or calendar month, for one facet of the reports (every
    call, or one combination of filters). Used only while each of its days is still at the
    version listed in `versions` (JSON, first day first)."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    facet = models.CharField(max_length=200, blank=True, help_text='"" for every call, else the filters.')
    first_day = models.DateField()
    last_day = models.DateField()
    versions = models.TextField()
    data = models.TextField(help_text="dispatch.reports.Totals, as compact JSON.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "facet", "first_day", "last_day"], name="report_sums_program_period"
            ),
        ]

    def __str__(self):
        return f"{self.facet or 'all'} {self.first_day}–{self.last_day}"


class ReportClock(models.Model):
    """A program's report cells (ReportCell) on one clock: the deployment's zone, or the
    program's own. While it exists, every settled day up to `until` has its cells, but the days
    marked (ReportMark): those are read from the records until a reader computes them again
    (dispatch.reports.sums). Days after `until` are marked when a reader passes them."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    zone = models.CharField(max_length=64, help_text="The IANA zone the days are drawn in.")
    until = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "zone"], name="report_clock_program_zone")]

    def __str__(self):
        return f"{self.program_id} {self.zone} until {self.until}"


class ReportMark(models.Model):
    """A day of a program's clock whose cells may be out of date: a record it counts changed
    (dispatch.reports.signals), in the writer's transaction."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    zone = models.CharField(max_length=64)
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "zone", "day"], name="report_mark_program_zone_day")
        ]

    def __str__(self):
        return f"{self.program_id} {self.zone} {self.day}"


class ReportCell(models.Model):
    """One settled day's sums of a program, on one clock, for one combination of the filters the
    dashboard offers: `source` and `call_type` ("*" for any), `unit_id` (0 for every unit).
    A filtered cell holds no police referrals but a call-type cell's (`source` "*", `unit_id`
    0): referrals follow the call-type filter only (dispatch.reports.engine)."""

    ANY = "*"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    zone = models.CharField(max_length=64)
    day = models.DateField()
    source = models.CharField(max_length=20)
    call_type = models.CharField(max_length=32)
    unit_id = models.BigIntegerField(help_text="Not a foreign key: 0 stands for every unit.")
    data = models.TextField(help_text="dispatch.reports.Totals, as compact JSON.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "zone", "source", "call_type", "unit_id", "day"], name="report_cell_key"
            ),
        ]
        # A day's cells are replaced together.
        indexes = [models.Index(fields=["program", "zone", "day"], name="report_cell_day")]

    def __str__(self):
        return f"{self.program_id} {self.zone} {self.day} {self.source}/{self.call_type}/{self.unit_id}"


class AddressPoint(models.Model):
    """One address of the local gazetteer (dispatch.geocoding), as a city's open-data address
    points give it; loaded by `manage.py import_addresses`.

    `key` is the street address normalised for matching (dispatch.geocoding.address_key: upper
    case, no punctuation, suffixes and directionals abbreviated, no unit); `city_key` is the city
    normalised the same way. Together they name one point: re-importing a file updates it."""

    full_address = models.CharField(max_length=300, help_text="As the source wrote it.")
    key = models.CharField(max_length=300, db_index=True, help_text="Number and street, normalised.")
    city_key = models.CharField(max_length=100, blank=True, help_text="The city, normalised.")
    number = models.CharField(max_length=20, blank=True, help_text="Blank for a place or a corner.")
    street = models.CharField(max_length=200)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "city_key"], name="address_point_key_city"),
        ]

    def __str__(self):
        return f"{self.full_address} ({self.latitude:.5f}, {self.longitude:.5f})"


class WorkerChain(models.Model):
    """The background worker's periodic job (dispatch.tasks.periodic): a chain of tasks, each
    enqueueing the next with run_after. Only the link carrying `token` may run and continue it,
    so however many workers start, one chain runs; `due_at` is when its next link should run,
    and a chain long past it is taken as broken (its worker died) and started again."""

    name = models.CharField(max_length=40, primary_key=True)
    token = models.CharField(max_length=32)
    due_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} due {self.due_at:%H:%M:%S}"


class WebhookSubscription(models.Model):
    """An API client's webhook (CONTRACT.md 1.1, "Webhooks"): the events it wants posted to
    `url`, signed with `secret` (kept: signing needs it; shown to the client only once).
    Deleting one only marks it, so a delivery written a moment before still has its row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Which worker is delivering this subscription's events now, and until when: one at a
    # time, so they leave in event-id order. A worker that dies loses the lease when it ends.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.api_client.name} → {self.url}"


class WebhookDelivery(models.Model):
    """One event owed to one subscription, written in the transaction that recorded the event,
    and the state of its delivery."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be delivered"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Given up after every retry"
        # Never posted: not for this client's eyes (another CAD's incident), or unsubscribed.
        SKIPPED = "skipped", "Not sent"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    # Kept in the log while pending (dispatch.events.events_prune); deleted with it afterwards.
    event = models.ForeignKey(Event, on_delete=models.DO_NOTHING, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_try_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["subscription", "status", "event"], name="webhook_delivery_queue"),
            models.Index(fields=["status", "next_try_at"], name="webhook_delivery_due"),
        ]

    def __str__(self):
        return f"event {self.event_id} → {self.subscription_id} ({self.status})"


# --- One standard for screening, and each program's local changes -------------------------------
class ProgramCallType(models.Model):
    """A program's local change to one call type of the statewide catalogue: it does not take
    the call type at all, or it decides its eligibility differently. No row: the program
    follows the standard. dispatch.screening applies it; dispatch.services.screening_standard
    writes it, audited."""

    program = models.ForeignKey("Program", on_delete=models.CASCADE, related_name="call_type_changes")
    call_type = models.ForeignKey(CallType, on_delete=models.CASCADE, related_name="program_changes")
    taken = models.BooleanField(default=True, help_text="False: the program does not take this call type.")
    # None: as the standard says.
    eligible = models.BooleanField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why the program differs here.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "call_type"], name="program_call_type_once"),
        ]

    def __str__(self):
        return f"{self.program_id}: {self.call_type_id}"


class ProgramScreeningQuestion(models.Model):
    """A program's own wording of one of the four screening questions. The rule stays the
    standard's (dispatch.screening); only what the call taker reads changes."""

    program = models.ForeignKey("Program", on_delete=models.CASCADE, related_name="question_wordings")
    question = models.ForeignKey(ScreeningQuestion, on_delete=models.CASCADE, related_name="program_wordings")
    prompt = models.CharField(max_length=300)
    guidance = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "question"], name="program_question_once"),
        ]

    def __str__(self):
        return f"{self.program_id}: {self.question_id}"


class ProgramHours(models.Model):
    """When a program sends teams: one span a weekday, in the program's own time zone. A span
    whose `closes` is not after `opens` runs past midnight into the next day (22:00–06:00);
    `opens` equal to `closes` is the whole day. A weekday without a row: closed."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    program = models.ForeignKey("Program", on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["program", "weekday"]
        constraints = [
            models.UniqueConstraint(fields=["program", "weekday"], name="program_hours_once_a_day"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"
