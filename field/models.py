from django.conf import settings
from django.db import models


class BackupRequest(models.Model):
    """A team's call for police or EMS backup. Dispatch sees it as an Alert; the tablet learns
    it was seen when that alert is acknowledged."""

    class Kind(models.TextChoices):
        POLICE = "police", "Police"
        EMS = "ems", "EMS"

    unit = models.ForeignKey("dispatch.Unit", on_delete=models.PROTECT, related_name="backup_requests")
    assignment = models.ForeignKey(
        "dispatch.Assignment", null=True, blank=True, on_delete=models.PROTECT, related_name="backup_requests"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    urgent = models.BooleanField(default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # When the team tapped it (the tablet's `at`), and when the server received it: apart
    # when the request waited in an offline tablet's outbox.
    requested_at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)
    alert = models.OneToOneField(
        "dispatch.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="backup_request"
    )

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"{self.get_kind_display()} backup for {self.unit}"


# NEMSIS v3.5 eDisposition.27 (Unit Disposition): every value, by code.
NEMSIS_UNIT_DISPOSITIONS = {
    "4227001": "Patient Contact Made",
    "4227003": "Cancelled on Scene",
    "4227005": "Cancelled Prior to Arrival at Scene",
    "4227007": "No Patient Contact",
    "4227009": "No Patient Found",
    "4227011": "Non-Patient Incident (Not Otherwise Listed)",
}
# A call cancelled once the team was there: no outcome of ours says it, NEMSIS does.
NEMSIS_CANCELLED_ON_SCENE = "4227003"


class Outcome(models.Model):
    """What happened on scene: one per assignment, dispatched or self-initiated."""

    class Disposition(models.TextChoices):
        RESOLVED_ON_SCENE = "resolved_on_scene", "Resolved on scene"
        TRANSPORTED_SHELTER = "transported_shelter", "Transported to shelter"
        TRANSPORTED_CRISIS_CENTRE = "transported_crisis_centre", "Transported to crisis centre"
        TRANSPORTED_DETOX = "transported_detox", "Transported to detox / sobering"
        TRANSPORTED_HOSPITAL = "transported_hospital", "Transported to hospital"
        TRANSPORTED_OTHER = "transported_other", "Transported elsewhere"
        REFERRED = "referred", "Referred to services"
        RESOLVED_BY_PHONE = "resolved_by_phone", "Resolved by phone"
        REFUSED = "refused", "Refused services"
        NO_CONTACT = "no_contact", "No contact / gone on arrival"
        CANCELLED_BEFORE_ARRIVAL = "cancelled_before_arrival", "Cancelled before arrival"
        POLICE_TOOK_OVER = "police_took_over", "Police took over"
        EMS_TOOK_OVER = "ems_took_over", "EMS took over"

    # What premise history may show of an earlier contact: a coarse category, never where a
    # person was taken (a hospital or detox destination is health information).
    CATEGORIES = {
        "resolved_on_scene": "Resolved",
        "resolved_by_phone": "Resolved",
        "transported_shelter": "Transported",
        "transported_crisis_centre": "Transported",
        "transported_detox": "Transported",
        "transported_hospital": "Transported",
        "transported_other": "Transported",
        "referred": "Referred",
        "refused": "Refused services",
        "no_contact": "No contact",
        "cancelled_before_arrival": "Cancelled",
        "police_took_over": "Police took over",
        "ems_took_over": "EMS took over",
    }

    # The dispositions that say the team met nobody (an outreach referral's officer is told
    # contact was made only otherwise).
    NO_CONTACT_DISPOSITIONS = ("no_contact", "cancelled_before_arrival")
    # Each disposition in the words EMS and fire records share, for the exports and an EIDO's
    # disposition. NEMSIS v3.5 eDisposition.27, Unit Disposition (NEMSIS_UNIT_DISPOSITIONS
    # below): whether the unit met the person. NERIS release 1, TypeMedicalPatientCare
    # (patient_evaluation_care): what care they were given; None where there is no equivalent:
    # nobody was met, or the person passed to police or EMS without the team's care.
    NEMSIS_UNIT_DISPOSITION = {
        "resolved_on_scene": "4227001",
        "transported_shelter": "4227001",
        "transported_crisis_centre": "4227001",
        "transported_detox": "4227001",
        "transported_hospital": "4227001",
        "transported_other": "4227001",
        "referred": "4227001",
        "resolved_by_phone": "4227007",
        "refused": "4227001",
        "no_contact": "4227009",
        "cancelled_before_arrival": "4227005",
        "police_took_over": "4227001",
        "ems_took_over": "4227001",
    }
    NERIS_PATIENT_CARE = {
        "resolved_on_scene": "PATIENT_SUPPORT_SERVICES_PROVIDED",
        "transported_shelter": "PATIENT_SUPPORT_SERVICES_PROVIDED",
        "transported_crisis_centre": "PATIENT_EVALUATED_CARE_PROVIDED",
        "transported_detox": "PATIENT_EVALUATED_CARE_PROVIDED",
        "transported_hospital": "PATIENT_EVALUATED_CARE_PROVIDED",
        "transported_other": "PATIENT_SUPPORT_SERVICES_PROVIDED",
        "referred": "PATIENT_SUPPORT_SERVICES_PROVIDED",
        "resolved_by_phone": None,
        "refused": "PATIENT_REFUSED_EVALUATION_CARE",
        "no_contact": None,
        "cancelled_before_arrival": None,
        "police_took_over": None,
        "ems_took_over": None,
    }

    class Service(models.TextChoices):
        CRISIS_COUNSELLING = "crisis_counselling", "Crisis counselling"
        DE_ESCALATION = "de_escalation", "De-escalation"
        CONFLICT_MEDIATION = "conflict_mediation", "Conflict mediation"
        INFORMATION_REFERRAL = "information_referral", "Information and referral"
        TRANSPORT = "transport", "Transport"
        FIRST_AID = "first_aid", "First aid"
        HARM_REDUCTION = "harm_reduction", "Harm reduction"
        BASIC_NEEDS = "basic_needs", "Basic needs (water, food, clothing)"

    class PoliceInvolvement(models.TextChoices):
        NONE = "none", "None"
        BACKUP_REQUESTED = "backup_requested", "Backup requested"
        ARREST = "arrest", "Arrest"

    class EmsInvolvement(models.TextChoices):
        NONE = "none", "None"
        BACKUP_REQUESTED = "backup_requested", "Backup requested"
        TRANSPORTED = "transported", "EMS transported"

    assignment = models.OneToOneField("dispatch.Assignment", on_delete=models.PROTECT, related_name="outcome")
    # Stored so reports count proactive encounters apart without joining the incident.
    self_initiated = models.BooleanField(default=False)
    disposition = models.CharField(max_length=32, choices=Disposition.choices)
    services_provided = models.JSONField(default=list, blank=True)
    people_contacted = models.PositiveSmallIntegerField(default=1)
    person = models.ForeignKey(
        "referrals.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="outcomes"
    )
    transport_destination = models.CharField(max_length=200, blank=True)
    police_involvement = models.CharField(
        max_length=20, choices=PoliceInvolvement.choices, default=PoliceInvolvement.NONE
    )
    ems_involvement = models.CharField(
        max_length=20, choices=EmsInvolvement.choices, default=EmsInvolvement.NONE
    )
    narrative = models.TextField(blank=True)
    follow_up = models.OneToOneField(
        "referrals.FollowUp", null=True, blank=True, on_delete=models.PROTECT, related_name="outcome"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # When the team saved it on the tablet (`at`), and when the server received it.
    recorded_at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["self_initiated", "recorded_at"], name="outcome_kind_recorded")]

    def __str__(self):
        return f"{self.get_disposition_display()} ({self.assignment_id})"

    @property
    def category(self) -> str:
        return self.CATEGORIES[self.disposition]
