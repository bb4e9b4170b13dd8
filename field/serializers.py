"""What the tablet sends. Strict like the integration API: a wrong type is a 400, never a guess."""

from rest_framework import serializers

from dispatch.serializers import (
    BoundedDateField,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    UTCDateTimeField,
)
from field.models import BackupRequest, Outcome
from field.services import FollowUpFields, OutcomeFields, PersonFields
from referrals.models import FollowUp


def at_field():
    """When the change happened on the tablet (CONTRACT.md "When a step happened"): the
    outbox sends the moment the responder tapped, so a change sent late keeps its time."""
    return UTCDateTimeField(required=False, help_text="When it happened on the tablet.")


class AcknowledgeIn(serializers.Serializer):
    at = at_field()


class LocationIn(serializers.Serializer):
    latitude = StrictFloatField(min_value=-90, max_value=90)
    longitude = StrictFloatField(min_value=-180, max_value=180)


class BackupIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BackupRequest.Kind.choices)
    urgent = StrictBooleanField()
    at = at_field()


class EncounterIn(serializers.Serializer):
    id = serializers.UUIDField(
        required=False, help_text="Chosen by the tablet so an offline outcome can follow."
    )
    latitude = StrictFloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = StrictFloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    address = StrictCharField(max_length=300, required=False, allow_blank=True)
    call_type = StrictCharField(max_length=32, required=False, allow_blank=True)
    at = at_field()

    def validate(self, attrs):
        if (attrs.get("latitude") is None) != (attrs.get("longitude") is None):
            raise serializers.ValidationError("Give both latitude and longitude, or neither.")
        if attrs.get("latitude") is None and not attrs.get("address", "").strip():
            raise serializers.ValidationError(
                {"address": ["No position from the tablet: type where you are."]}
            )
        return attrs


class PersonIn(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    alias = StrictCharField(max_length=200, required=False, allow_blank=True)
    date_of_birth = BoundedDateField(required=False, allow_null=True)
    phone = StrictCharField(max_length=40, required=False, allow_blank=True)


class FollowUpIn(serializers.Serializer):
    service_type = serializers.ChoiceField(choices=FollowUp.ServiceType.choices)
    consent = StrictBooleanField()
    notes = StrictCharField(max_length=5000, required=False, allow_blank=True)


class OutcomeIn(serializers.Serializer):
    disposition = serializers.ChoiceField(choices=Outcome.Disposition.choices)
    services_provided = serializers.ListField(
        child=serializers.ChoiceField(choices=Outcome.Service.choices), required=False, max_length=20
    )
    people_contacted = StrictIntegerField(min_value=0, max_value=500)
    person = PersonIn(required=False, allow_null=True)
    transport_destination = StrictCharField(max_length=200, required=False, allow_blank=True)
    police_involvement = serializers.ChoiceField(choices=Outcome.PoliceInvolvement.choices)
    ems_involvement = serializers.ChoiceField(choices=Outcome.EmsInvolvement.choices)
    narrative = StrictCharField(max_length=10_000, required=False, allow_blank=True)
    follow_up_needed = StrictBooleanField(required=False)
    follow_up = FollowUpIn(required=False, allow_null=True)
    at = at_field()

    def validate(self, attrs):
        errors = {}
        if attrs.get("follow_up_needed") and not attrs.get("follow_up"):
            errors["follow_up"] = ["Follow-up needed: choose the service type and record consent."]
        if (
            attrs["disposition"].startswith("transported_")
            and not attrs.get("transport_destination", "").strip()
        ):
            errors["transport_destination"] = ["Say where the person was transported."]
        person = attrs.get("person") or {}
        if any(person.values()) and attrs["people_contacted"] < 1:
            errors["people_contacted"] = ["A person is named, so at least one person was contacted."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_fields(self) -> OutcomeFields:
        data = self.validated_data
        person = data.get("person")
        follow_up = data.get("follow_up") if data.get("follow_up_needed") else None
        return OutcomeFields(
            disposition=data["disposition"],
            services_provided=data.get("services_provided", []),
            people_contacted=data["people_contacted"],
            person=PersonFields(**person) if person else None,
            transport_destination=data.get("transport_destination", "").strip(),
            police_involvement=data["police_involvement"],
            ems_involvement=data["ems_involvement"],
            narrative=data.get("narrative", ""),
            follow_up=FollowUpFields(**follow_up) if follow_up else None,
        )
