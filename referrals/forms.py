from django import forms

from dispatch.formatting import user_name
from dispatch.forms import ServiceErrorsMixin
from dispatch.models import CallType, Program
from dispatch.roles import Action, may_edit_statewide_services, programs_for
from dispatch.timestamps import BoundedDateField, BoundedDateTimeField
from referrals.models import ContactAttempt, FollowUp, Organization, Person, PoliceReferral, Service
from referrals.selectors import services_in_programs
from referrals.services import ReferralData

YES_NO = [("yes", "Yes"), ("no", "No")]
ANSWERS = {"yes": True, "no": False}
SCREENING = [
    ("weapons", "Weapons on scene?"),
    ("violence", "Threat of violence?"),
    ("medical_emergency", "Medical emergency?"),
    ("police_only", "Police-only task (entry, evidence)?"),
]
# Where the officer's phone put the scene, when they gave no address.
PHONE_PLACE = "Officer's phone location {latitude:.5f}, {longitude:.5f}"


def _yes_no(label: str, message: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=YES_NO,
        coerce=ANSWERS.get,
        widget=forms.RadioSelect,
        label=label,
        error_messages={"required": message},
    )


class ReferralForm(forms.Form):
    """An officer's referral, laid out for a phone on a scene: the four screening questions
    first, answered yes or no with nothing chosen beforehand; then what the program needs to
    act (urgency, call type, where, what is happening, consent, a callback, prefilled from the
    last referral); everything else is optional, behind "More" (see `more_fields`)."""

    urgency = forms.ChoiceField(
        choices=PoliceReferral.Urgency.choices,
        widget=forms.RadioSelect,
        label="When",
        error_messages={"required": "Choose now or later."},
    )
    call_type = forms.ChoiceField(label="Type of call")
    latitude = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    longitude = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    address = forms.CharField(max_length=300, required=False, label="Where")
    situation = forms.CharField(
        max_length=5000, widget=forms.Textarea(attrs={"rows": 2}), label="What is happening"
    )
    consent_to_contact = _yes_no("Person agreed to be contacted?", "Answer yes or no.")
    officer_callback = forms.CharField(
        max_length=40,
        label="Your callback number",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    # More: nothing below is required.
    location_details = forms.CharField(max_length=500, required=False, label="Where exactly (landmark, unit)")
    safety_notes = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Safety notes"
    )
    person_name = forms.CharField(max_length=200, required=False, label="Person's name")
    person_alias = forms.CharField(max_length=200, required=False, label="Goes by")
    person_date_of_birth = BoundedDateField(
        required=False, label="Date of birth", widget=forms.DateInput(attrs={"type": "date"})
    )
    person_phone = forms.CharField(max_length=40, required=False, label="Person's phone")
    person_description = forms.CharField(max_length=500, required=False, label="Description (clothing, etc.)")
    service_needed = forms.ChoiceField(
        choices=[("", "None asked for"), *FollowUp.ServiceType.choices],
        required=False,
        label="Service the person asked for",
    )
    external_id = forms.CharField(max_length=64, required=False, label="Police report number")
    officer_name = forms.CharField(max_length=200, required=False, label="Your name")

    MORE = (
        "location_details",
        "safety_notes",
        "person_name",
        "person_alias",
        "person_date_of_birth",
        "person_phone",
        "person_description",
        "service_needed",
        "external_id",
        "officer_name",
    )

    def __init__(self, *args, officer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.officer = officer
        self.fields["call_type"].choices = [("", "Choose…")] + [
            (c.code, c.name) for c in CallType.objects.filter(eligible=True)
        ]
        self.screening_names = []
        for key, label in SCREENING:
            self.fields[f"screen_{key}"] = _yes_no(label, "Answer yes or no.")
            self.screening_names.append(f"screen_{key}")

    def screening_fields(self):
        return [self[name] for name in self.screening_names]

    def more_fields(self):
        return [self[name] for name in self.MORE]

    def more_has_errors(self) -> bool:
        return any(self[name].errors for name in self.MORE)

    def clean_situation(self):
        value = self.cleaned_data["situation"].strip()
        if not value:
            raise forms.ValidationError("Say what is happening.")
        return value

    def clean(self):
        data = super().clean()
        placed = data.get("latitude") is not None and data.get("longitude") is not None
        if not (data.get("address") or "").strip() and not placed and "address" not in self.errors:
            self.add_error("address", "Use your location or type an address.")
        return data

    def to_referral_data(self) -> ReferralData:
        d = self.cleaned_data
        latitude, longitude = d.get("latitude"), d.get("longitude")
        if latitude is None or longitude is None:
            latitude = longitude = None
        address = d["address"].strip() or PHONE_PLACE.format(latitude=latitude, longitude=longitude)
        officer_name = d["officer_name"].strip()
        if not officer_name and self.officer is not None:
            officer_name = user_name(self.officer)
        return ReferralData(
            urgency=d["urgency"],
            call_type_code=d["call_type"],
            address=address,
            latitude=latitude,
            longitude=longitude,
            location_details=d["location_details"].strip(),
            situation=d["situation"],
            safety_notes=d["safety_notes"].strip(),
            external_id=d["external_id"].strip(),
            officer_name=officer_name,
            officer_callback=d["officer_callback"].strip(),
            consent_to_contact=d["consent_to_contact"],
            person_name=d["person_name"].strip(),
            person_alias=d["person_alias"].strip(),
            person_date_of_birth=d["person_date_of_birth"],
            person_phone=d["person_phone"].strip(),
            person_description=d["person_description"].strip(),
            screening={key: d[f"screen_{key}"] for key, _ in SCREENING},
            service_needed=d["service_needed"],
        )


def _provider_field(**kwargs):
    return forms.ModelChoiceField(
        queryset=Service.objects.select_related("organization").order_by("name"),
        required=False,
        error_messages={"invalid_choice": "No such provider in the directory."},
        **kwargs,
    )


class ProvidersOfProgramsMixin:
    """`program_ids`: the programs whose people the follow-up is for (None: every program);
    the provider may be a statewide service or one of theirs, and only those are offered."""

    def __init__(self, *args, program_ids=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "provider" in self.fields:
            field = self.fields["provider"]
            field.queryset = services_in_programs(field.queryset, program_ids)


class FollowUpCreateForm(ServiceErrorsMixin, ProvidersOfProgramsMixin, forms.Form):
    person = forms.IntegerField(required=False, min_value=1, label="Person id (optional)")
    service_type = forms.ChoiceField(choices=FollowUp.ServiceType.choices)
    provider = _provider_field()
    consent = forms.BooleanField(required=False, label="The person agreed to be contacted")
    written_consent_to_share = forms.NullBooleanField(
        required=False,
        label="Written consent to share with the provider (substance use)",
        widget=forms.NullBooleanSelect,
    )
    due_at = BoundedDateTimeField(
        required=False,
        label="Due (default: 48 hours)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_person(self):
        person_id = self.cleaned_data.get("person")
        if person_id is None:
            return None
        person = Person.objects.filter(pk=person_id).first()
        if person is None:
            raise forms.ValidationError("No person with that id.")
        # A merged record's links live on the survivor.
        while person.merged_into_id:
            person = person.merged_into
        return person


class AttemptForm(forms.Form):
    method = forms.ChoiceField(choices=ContactAttempt.Method.choices)
    result = forms.ChoiceField(choices=ContactAttempt.Result.choices)
    at = BoundedDateTimeField(
        required=False,
        label="When (default: now)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TransitionForm(ServiceErrorsMixin, ProvidersOfProgramsMixin, forms.Form):
    status = forms.ChoiceField(choices=FollowUp.Status.choices, label="New status")
    close_reason = forms.ChoiceField(
        choices=[("", "—"), *FollowUp.CloseReason.choices], required=False, label="Closing reason"
    )
    provider = _provider_field(label="Provider (needed to connect)")


class FollowUpDetailsForm(ServiceErrorsMixin, ProvidersOfProgramsMixin, forms.Form):
    provider = _provider_field()
    written_consent_to_share = forms.NullBooleanField(
        required=False, label="Written consent to share (substance use)", widget=forms.NullBooleanSelect
    )
    due_at = BoundedDateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )


class MergeForm(forms.Form):
    survivor = forms.IntegerField(min_value=1, label="Keep this person (id)")
    merged = forms.IntegerField(min_value=1, label="Merge this person into it (id)")

    def __init__(self, *args, people=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The people the caller may read (their programs'); another program's is no such person.
        self.people = people if people is not None else Person.objects.all()

    def _person(self, name):
        person = self.people.filter(pk=self.cleaned_data[name], merged_into__isnull=True).first()
        if person is None:
            raise forms.ValidationError("No such person (or already merged).")
        return person

    def clean_survivor(self):
        return self._person("survivor")

    def clean_merged(self):
        return self._person("merged")

    def clean(self):
        data = super().clean()
        if data.get("survivor") and data.get("merged") and data["survivor"].pk == data["merged"].pk:
            raise forms.ValidationError("Pick two different people.")
        return data


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "description", "email", "url", "phone"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class ServiceForm(forms.ModelForm):
    """A service of the directory. `user`: the caller, who may place it in one of their programs,
    or statewide (every program) when they may keep statewide services."""

    service_type = forms.ChoiceField(choices=[("", "—"), *FollowUp.ServiceType.choices], required=False)
    program = forms.ModelChoiceField(
        queryset=Program.objects.none(),
        required=False,
        label="Which program's people it serves",
        error_messages={"invalid_choice": "Choose one of your programs."},
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["program"]
        field.queryset = programs_for(user, Action.DIRECTORY_EDIT).order_by("name")
        if may_edit_statewide_services(user):
            field.empty_label = "Statewide: every program"
        else:
            field.required = True
            field.empty_label = None

    class Meta:
        model = Service
        fields = [
            "organization",
            "program",
            "name",
            "service_type",
            "status",
            "description",
            "email",
            "url",
            "phone",
            "locations",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class AuditFilterForm(forms.Form):
    """The audit page's filters; every one optional."""

    person = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, label="Person id")
    user = forms.CharField(required=False, max_length=150, label="User name")
    day_from = forms.DateField(required=False, label="From")
    day_to = forms.DateField(required=False, label="To (inclusive)")
    page = forms.IntegerField(required=False, min_value=1, max_value=200)

    def clean(self):
        data = super().clean()
        for name in ("day_from", "day_to"):
            day = data.get(name)
            if day is not None and not 2000 <= day.year <= 2100:
                self.add_error(name, "Give a date between 2000 and 2100.")
        if data.get("day_from") and data.get("day_to") and data["day_from"] > data["day_to"]:
            self.add_error("day_to", "The end is before the start.")
        return data
