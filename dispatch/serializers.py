"""The shapes of CONTRACT.md. Input serializers are strict: a wrong type is a 400, not a guess."""

import numbers
from datetime import UTC

from django.db import models
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dispatch.formatting import user_name
from dispatch.models import ASSIGNMENT_STEPS, Assignment, CallType, Incident, Unit
from dispatch.programs import program_slug
from dispatch.timestamps import OUT_OF_RANGE, out_of_range, utc_iso


class UTCDateTimeField(serializers.DateTimeField):
    """Answers in UTC with a Z; accepts only timestamps that carry an offset."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601 with an offset")
        try:
            parsed = parse_datetime(value.strip()) if value else None
        except ValueError:
            parsed = None  # the shape of a timestamp, not a real one (2026-02-30)
        if parsed is None:
            raise serializers.ValidationError("Not an ISO 8601 timestamp (e.g. 2026-11-22T14:03:11-07:00).")
        if parsed.tzinfo is None:
            raise serializers.ValidationError("The timestamp has no offset: add Z or ±hh:mm.")
        if out_of_range(parsed):
            raise serializers.ValidationError(OUT_OF_RANGE)
        return parsed


class BoundedDateField(serializers.DateField):
    """A date (a birth date) within the years the server accepts."""

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if out_of_range(result):
            raise serializers.ValidationError(OUT_OF_RANGE)
        return result


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Must be a whole number.")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise serializers.ValidationError("Must be a number.")
        return super().to_internal_value(data)


@extend_schema_field({"type": "boolean", "nullable": True})
class StrictBooleanField(serializers.Field):
    """true, false or (where allowed) null; never "yes" or 1."""

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        raise serializers.ValidationError("Must be true or false.")

    def to_representation(self, value):
        return value


# --- Incidents: input ---------------------------------------------------------------------
class LocationIn(serializers.Serializer):
    address = StrictCharField(max_length=300)
    latitude = StrictFloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = StrictFloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    details = StrictCharField(max_length=500, required=False, allow_blank=True)

    def validate(self, attrs):
        if ("latitude" in attrs) != ("longitude" in attrs) or (
            (attrs.get("latitude") is None) != (attrs.get("longitude") is None)
        ):
            raise serializers.ValidationError("Give both latitude and longitude, or neither.")
        return attrs


class CallerIn(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    phone = StrictCharField(max_length=40, required=False, allow_blank=True)


class ScreeningIn(serializers.Serializer):
    weapons = StrictBooleanField(allow_null=True)
    violence = StrictBooleanField(allow_null=True)
    medical_emergency = StrictBooleanField(allow_null=True)
    police_only = StrictBooleanField(allow_null=True)


class IncidentIn(serializers.Serializer):
    external_id = StrictCharField(max_length=64)
    program = serializers.SlugField(
        max_length=50,
        required=False,
        allow_null=True,
        help_text="The program's slug (CONTRACT.md \"Programs\"): a program's client may omit it or name its "
        "own (another: 403); a statewide client names it, or omits it and the incident goes to the program "
        "whose service area holds location.latitude/longitude (none: 409 no_program_for_location).",
    )
    source = serializers.ChoiceField(choices=list(Incident.API_SOURCES))
    call_type = StrictCharField(max_length=32)
    priority = StrictIntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    received_at = UTCDateTimeField()
    location = LocationIn()
    caller = CallerIn(required=False)
    narrative = StrictCharField(max_length=10_000, required=False, allow_blank=True)
    screening = ScreeningIn()
    tandem = serializers.ListField(
        child=serializers.ChoiceField(choices=Incident.Tandem.choices), required=False, max_length=3
    )
    cancelled = StrictBooleanField(required=False)

    def validate_tandem(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("List each responder type once.")
        return value

    def validate_call_type(self, value):
        value = CallType.normalise_code(value)
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value


class EidoLocationIn(LocationIn):
    address = StrictCharField(max_length=300, allow_blank=True)


class EidoIncidentIn(IncidentIn):
    """What an EIDO says (dispatch.eido.EidoIncident.as_incident_input()), checked as the
    incident API checks a body, except that an EIDO may say nothing of the call type or give a
    place only as coordinates: it is stored pending, for a dispatcher to complete."""

    call_type = StrictCharField(max_length=32, allow_blank=True)
    location = EidoLocationIn()

    def validate_call_type(self, value):
        return CallType.normalise_code(value)


# --- Output by hand -------------------------------------------------------------------------
# The output serializers below build their dicts directly: DRF's field-by-field path (a deep
# copy of every declared field on each instance, then one method call per field) cost more
# than the rest of an assign's work together. The declared fields stay, for the OpenAPI
# schema and as the reference: tests/test_serializers.py holds each hand-built answer equal
# to what DRF's own path makes of the same declarations.
def _text(value):
    return None if value is None else str(value)


def _number(value):
    return None if value is None else float(value)


def _boolean(value):
    return None if value is None else bool(value)


def assignment_representation(assignment: Assignment) -> dict:
    return {
        "id": _text(assignment.id),
        "program": program_slug(assignment.program_id),
        "incident": _text(assignment.incident_id),
        "unit": _text(assignment.unit.callsign),
        "status": _text(assignment.status),
        **{name: utc_iso(getattr(assignment, name)) for name in Assignment.TIMESTAMPS},
        "override_reason": _text(assignment.override_reason),
        "transport_destination": _text(assignment.transport_destination),
    }


def incident_representation(incident: Incident, assignments: list[Assignment] | None = None) -> dict:
    """`assignments`: all of the incident's, in order, when the caller already holds them."""
    if assignments is None:
        assignments = incident.assignments.all()
    return {
        "id": _text(incident.id),
        "program": program_slug(incident.program_id),
        "external_id": _text(incident.external_id),
        "source": _text(incident.source),
        "call_type": _text(incident.call_type_code),
        "priority": None if incident.priority is None else int(incident.priority),
        "received_at": utc_iso(incident.received_at),
        "location": {
            "address": _text(incident.address),
            "latitude": _number(incident.latitude),
            "longitude": _number(incident.longitude),
            "details": _text(incident.location_details),
            "geocoded": bool(incident.geocoded),
        },
        "caller": {"name": _text(incident.caller_name), "phone": _text(incident.caller_phone)},
        "narrative": _text(incident.narrative),
        "screening": {
            "weapons": _boolean(incident.screen_weapons),
            "violence": _boolean(incident.screen_violence),
            "medical_emergency": _boolean(incident.screen_medical_emergency),
            "police_only": _boolean(incident.screen_police_only),
        },
        "tandem": incident.tandem,
        "status": _text(incident.status),
        "eligibility": {"eligible": incident.eligible, "reasons": list(incident.eligibility_reasons)},
        "assignments": [assignment_representation(a) for a in assignments],
        "possible_duplicates": list(incident.possible_duplicates),
        "duplicate_of": _text(incident.duplicate_of_id),
        "cancelled_at": utc_iso(incident.cancelled_at),
        "closed_at": utc_iso(incident.closed_at),
        "created_at": utc_iso(incident.created_at),
        "updated_at": utc_iso(incident.updated_at),
    }


def unit_representation(unit: Unit, members: list[str] | None = None) -> dict:
    """The unit as the API shows it; `members`, the names on shift, when the caller has read
    them, else from the unit's prefetched `on_shift`."""
    located = unit.latitude is not None and unit.longitude is not None
    return {
        "callsign": _text(unit.callsign),
        "program": program_slug(unit.program_id),
        "status": _text(unit.status),
        "status_changed_at": utc_iso(unit.status_changed_at),
        "location": (
            {
                "latitude": float(unit.latitude),
                "longitude": float(unit.longitude),
                "at": utc_iso(unit.location_at),
            }
            if located
            else None
        ),
        "members": unit_members(unit) if members is None else members,
    }


def unit_members(unit: Unit) -> list[str]:
    # Responders on shift now; see field.models.Shift. Prefetched as `on_shift`.
    on_shift = getattr(unit, "on_shift", None)
    if on_shift is None:
        return []
    return [user_name(shift.user) for shift in on_shift]


PROGRAM_HELP = 'The slug of the program it belongs to (CONTRACT.md "Programs").'


# --- Incidents and assignments: output ----------------------------------------------------
class AssignmentOut(serializers.ModelSerializer):
    # Every timestamp of Assignment.TIMESTAMPS answers in UTC (null until its step happens).
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }
    program = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text=PROGRAM_HELP)
    incident = serializers.UUIDField(source="incident_id", read_only=True)
    unit = serializers.CharField(source="unit.callsign", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "program",
            "incident",
            "unit",
            "status",
            *Assignment.TIMESTAMPS,
            "override_reason",
            "transport_destination",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return assignment_representation(instance)


class LocationOut(serializers.Serializer):
    address = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    details = serializers.CharField(source="location_details")
    geocoded = serializers.BooleanField(
        help_text="Whether latitude/longitude came from geocoding the address, not from the sender."
    )


class CallerOut(serializers.Serializer):
    name = serializers.CharField(source="caller_name")
    phone = serializers.CharField(source="caller_phone")


class ScreeningOut(serializers.Serializer):
    weapons = serializers.BooleanField(source="screen_weapons", allow_null=True)
    violence = serializers.BooleanField(source="screen_violence", allow_null=True)
    medical_emergency = serializers.BooleanField(source="screen_medical_emergency", allow_null=True)
    police_only = serializers.BooleanField(source="screen_police_only", allow_null=True)


class EligibilityOut(serializers.Serializer):
    eligible = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


class IncidentOut(serializers.ModelSerializer):
    program = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text=PROGRAM_HELP)
    call_type = serializers.CharField(source="call_type_code")
    received_at = UTCDateTimeField()
    location = LocationOut(source="*")
    caller = CallerOut(source="*")
    screening = ScreeningOut(source="*")
    eligibility = serializers.SerializerMethodField()
    assignments = AssignmentOut(many=True)
    possible_duplicates = serializers.ListField(
        child=serializers.UUIDField(),
        help_text="Other open incidents received in the 60 minutes before this one at the same place "
        "(within 150 m, or the same normalised address), oldest first.",
    )
    duplicate_of = serializers.UUIDField(
        source="duplicate_of_id",
        allow_null=True,
        help_text="The incident this one was closed as a duplicate of, if it was.",
    )
    cancelled_at = UTCDateTimeField(allow_null=True)
    closed_at = UTCDateTimeField(allow_null=True)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "program",
            "external_id",
            "source",
            "call_type",
            "priority",
            "received_at",
            "location",
            "caller",
            "narrative",
            "screening",
            "tandem",
            "status",
            "eligibility",
            "assignments",
            "possible_duplicates",
            "duplicate_of",
            "cancelled_at",
            "closed_at",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, instance):
        return incident_representation(instance)

    @extend_schema_field(EligibilityOut)
    def get_eligibility(self, obj) -> dict:
        return {"eligible": obj.eligible, "reasons": list(obj.eligibility_reasons)}


class ProgramOut(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    time_zone = serializers.CharField(help_text="An IANA time zone name: the program's days are drawn in it.")


class UnitLocationOut(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    at = UTCDateTimeField(allow_null=True)


class UnitOut(serializers.ModelSerializer):
    program = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text=PROGRAM_HELP)
    location = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    status_changed_at = UTCDateTimeField(allow_null=True)

    class Meta:
        model = Unit
        fields = ["callsign", "program", "status", "status_changed_at", "location", "members"]

    def to_representation(self, instance):
        return unit_representation(instance)

    @extend_schema_field(UnitLocationOut(allow_null=True))
    def get_location(self, unit) -> dict | None:
        if unit.latitude is None or unit.longitude is None:
            return None
        return UnitLocationOut(
            {"latitude": unit.latitude, "longitude": unit.longitude, "at": unit.location_at}
        ).data

    def get_members(self, unit) -> list[str]:
        return unit_members(unit)


class IncidentListQuery(serializers.Serializer):
    external_id = StrictCharField(max_length=64, required=False)
    status = serializers.ChoiceField(choices=Incident.Status.choices, required=False)


class AssignIn(serializers.Serializer):
    unit = StrictCharField(max_length=20)
    override_reason = StrictCharField(max_length=1000, required=False, allow_blank=True)


class AssignmentStatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=ASSIGNMENT_STEPS)
    destination = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Where the person is taken: required with status transporting.",
    )
    at = UTCDateTimeField(
        required=False,
        help_text="When the step happened on the device, for a step sent late (CONTRACT.md "
        '"When a step happened"): at most 2 minutes ahead of the server, never before the previous step.',
    )


# --- Webhooks ------------------------------------------------------------------------------
class WebhookIn(serializers.Serializer):
    url = StrictCharField(max_length=500, help_text="http:// or https://; a public address unless allowed.")
    events = serializers.ListField(child=StrictCharField(max_length=40), min_length=1, max_length=20)


class WebhookOut(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    created_at = UTCDateTimeField()


class WebhookCreatedOut(WebhookOut):
    secret = serializers.CharField(help_text="whsec_…: shown only in this answer. Verify signatures with it.")


class WebhookDeliveryOut(serializers.Serializer):
    event_id = serializers.IntegerField()
    type = serializers.CharField(source="event.type")
    status = serializers.CharField(help_text="pending, delivered or failed (given up after every retry).")
    attempts = serializers.IntegerField()
    status_code = serializers.IntegerField(source="last_status_code", allow_null=True)
    error = serializers.CharField(source="last_error")
    attempted_at = UTCDateTimeField(source="last_attempt_at", allow_null=True)
    next_try_at = UTCDateTimeField(allow_null=True)
    delivered_at = UTCDateTimeField(allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.status != "pending":
            data["next_try_at"] = None  # nothing more will be tried
        return data
