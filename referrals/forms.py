from django import forms

from dispatch.models import CallType
from referrals.models import ContactAttempt, FollowUp, Organization, Person, PoliceReferral, Service
from referrals.services import ReferralData

YES_NO_UNSURE = [("", "Not sure"), ("yes", "Yes"), ("no", "No")]
TRI = {"yes": True, "no": False, "": None}
SCREENING = [
    ("weapons", "Weapons on scene?"),
    ("violence", "A credible threat of violence?"),
    ("medical_emergency", "An emergency medical need?"),
    ("police_only", "Something only police may do (entering a home, evidence)?"),
]


class ReferralForm(forms.Form):
    """An officer's referral, laid out for a phone: the scene first, the person optional."""

    urgency = forms.ChoiceField(choices=PoliceReferral.Urgency.choices, widget=forms.RadioSelect)
    call_type = forms.ChoiceField(label="Type of call")
    address = forms.CharField(max_length=300, label="Where")
    location_details = forms.CharField(max_length=500, required=False, label="Where exactly (landmark, unit)")
    situation = forms.CharField(
        max_length=5000, widget=forms.Textarea(attrs={"rows": 3}), label="What is happening"
    )
    safety_notes = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Safety notes"
    )
    person_name = forms.CharField(max_length=200, required=False, label="Person's name (optional)")
    person_alias = forms.CharField(max_length=200, required=False, label="Goes by (optional)")
    person_date_of_birth = forms.DateField(
        required=False, label="Date of birth (optional)", widget=forms.DateInput(attrs={"type": "date"})
    )
    person_phone = forms.CharField(max_length=40, required=False, label="Person's phone (optional)")
    person_description = forms.CharField(max_length=500, required=False, label="Description (clothing, etc.)")
    consent_to_contact = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        label="Did the person agree to be contacted by the program?",
    )
    service_needed = forms.ChoiceField(
        choices=[("", "None asked for"), *FollowUp.ServiceType.choices],
        required=False,
        label="Service the person asked for",
    )
    officer_name = forms.CharField(max_length=200, label="Your name")
    officer_callback = forms.CharField(max_length=40, label="Your callback number")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["call_type"].choices = [("", "Choose…")] + [
            (c.code, c.name) for c in CallType.objects.filter(eligible=True)
        ]
        for key, label in SCREENING:
            self.fields[f"screen_{key}"] = forms.ChoiceField(
                choices=YES_NO_UNSURE, required=False, label=label
            )

    def clean_situation(self):
        value = self.cleaned_data["situation"].strip()
        if not value:
            raise forms.ValidationError("Say what is happening.")
        return value

    def to_referral_data(self) -> ReferralData:
        d = self.cleaned_data
        return ReferralData(
            urgency=d["urgency"],
            call_type_code=d["call_type"],
            address=d["address"].strip(),
            location_details=d["location_details"].strip(),
            situation=d["situation"],
            safety_notes=d["safety_notes"].strip(),
            officer_name=d["officer_name"].strip(),
            officer_callback=d["officer_callback"].strip(),
            consent_to_contact=d["consent_to_contact"],
            person_name=d["person_name"].strip(),
            person_alias=d["person_alias"].strip(),
            person_date_of_birth=d["person_date_of_birth"],
            person_phone=d["person_phone"].strip(),
            person_description=d["person_description"].strip(),
            screening={key: TRI[d.get(f"screen_{key}") or ""] for key, _ in SCREENING},
            service_needed=d["service_needed"],
        )


def _provider_field(**kwargs):
    return forms.ModelChoiceField(
        queryset=Service.objects.select_related("organization").order_by("name"),
        required=False,
        error_messages={"invalid_choice": "No such provider in the directory."},
        **kwargs,
    )


class FollowUpCreateForm(forms.Form):
    person = forms.IntegerField(required=False, min_value=1, label="Person id (optional)")
    service_type = forms.ChoiceField(choices=FollowUp.ServiceType.choices)
    provider = _provider_field()
    consent = forms.BooleanField(required=False, label="The person agreed to be contacted")
    written_consent_to_share = forms.NullBooleanField(
        required=False,
        label="Written consent to share with the provider (substance use)",
        widget=forms.NullBooleanSelect,
    )
    due_at = forms.DateTimeField(
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
    at = forms.DateTimeField(
        required=False,
        label="When (default: now)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TransitionForm(forms.Form):
    status = forms.ChoiceField(choices=FollowUp.Status.choices, label="New status")
    close_reason = forms.ChoiceField(
        choices=[("", "—"), *FollowUp.CloseReason.choices], required=False, label="Closing reason"
    )
    provider = _provider_field(label="Provider (needed to connect)")


class FollowUpDetailsForm(forms.Form):
    provider = _provider_field()
    written_consent_to_share = forms.NullBooleanField(
        required=False, label="Written consent to share (substance use)", widget=forms.NullBooleanSelect
    )
    due_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )


class MergeForm(forms.Form):
    survivor = forms.IntegerField(min_value=1, label="Keep this person (id)")
    merged = forms.IntegerField(min_value=1, label="Merge this person into it (id)")

    def _person(self, name):
        person = Person.objects.filter(pk=self.cleaned_data[name], merged_into__isnull=True).first()
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
    service_type = forms.ChoiceField(choices=[("", "—"), *FollowUp.ServiceType.choices], required=False)

    class Meta:
        model = Service
        fields = [
            "organization",
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
