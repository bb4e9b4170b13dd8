"""The police referral API's shapes. Output carries only what an officer may know."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dispatch.models import CallType
from dispatch.serializers import (
    LocationIn,
    ScreeningIn,
    StrictBooleanField,
    StrictCharField,
    UTCDateTimeField,
)
from referrals.models import FollowUp, PoliceReferral
from referrals.services import ReferralData


class PoliceReferralPersonIn(serializers.Serializer):
    """Who the referral is about; all optional: many people stay anonymous."""

    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    alias = StrictCharField(max_length=200, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    phone = StrictCharField(max_length=40, required=False, allow_blank=True)
    description = StrictCharField(max_length=500, required=False, allow_blank=True)


class PoliceReferralOfficerIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    callback = StrictCharField(max_length=40, help_text="A phone number the team can call back.")


class PoliceReferralIn(serializers.Serializer):
    external_id = StrictCharField(max_length=64, required=False, allow_blank=True)
    urgency = serializers.ChoiceField(choices=PoliceReferral.Urgency.choices)
    call_type = StrictCharField(max_length=32)
    location = LocationIn()
    person = PoliceReferralPersonIn(required=False)
    situation = StrictCharField(max_length=5000)
    safety_notes = StrictCharField(max_length=5000, required=False, allow_blank=True)
    officer = PoliceReferralOfficerIn()
    consent_to_contact = StrictBooleanField(help_text="The person agreed to be contacted by the program.")
    screening = ScreeningIn(required=False)
    service_needed = serializers.ChoiceField(
        choices=FollowUp.ServiceType.choices,
        required=False,
        allow_blank=True,
        help_text="A service the person asked for; with consent, a case manager follows up.",
    )

    def validate_call_type(self, value):
        value = CallType.normalise_code(value)
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_situation(self, value):
        if not value.strip():
            raise serializers.ValidationError("Say what is happening.")
        return value.strip()

    def to_referral_data(self) -> ReferralData:
        data = self.validated_data
        location, person, officer = data["location"], data.get("person") or {}, data["officer"]
        return ReferralData(
            urgency=data["urgency"],
            call_type_code=data["call_type"],
            address=location["address"],
            latitude=location.get("latitude"),
            longitude=location.get("longitude"),
            location_details=location.get("details", ""),
            situation=data["situation"],
            safety_notes=data.get("safety_notes", ""),
            officer_name=officer["name"],
            officer_callback=officer["callback"],
            consent_to_contact=data["consent_to_contact"],
            external_id=data.get("external_id", ""),
            person_name=person.get("name", "").strip(),
            person_alias=person.get("alias", "").strip(),
            person_date_of_birth=person.get("date_of_birth"),
            person_phone=person.get("phone", "").strip(),
            person_description=person.get("description", "").strip(),
            screening=dict(data.get("screening") or {}),
            service_needed=data.get("service_needed", ""),
        )


@extend_schema_field(
    {"type": "string", "enum": PoliceReferral.OfficerStatus.values, "description": "The only progress shown."}
)
class OfficerStatusField(serializers.CharField):
    pass


class PoliceReferralOut(serializers.Serializer):
    """What the referring officer's system may read back: never the person, the outcome, the
    services or the follow-ups (HIPAA 45 CFR 164.512(j); 42 CFR Part 2)."""

    id = serializers.UUIDField()
    program = serializers.SlugField(help_text="The slug of the program it was filed with.")
    external_id = serializers.CharField()
    urgency = serializers.ChoiceField(choices=PoliceReferral.Urgency.choices)
    call_type = serializers.CharField()
    address = serializers.CharField()
    status = OfficerStatusField()
    created_at = UTCDateTimeField()
