import re

from django import forms
from django.urls import reverse
from django.utils import timezone

from dispatch.models import CallType, Incident, ScreeningQuestion, Unit
from dispatch.screening import REASON_LABELS, call_types_for, questions_for
from dispatch.services import IncidentFields

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_\-]*$")


class ServiceErrorsMixin:
    """A service's refusal (ServiceInvalid) shown on the form: on its field when the form has one,
    else above the form."""

    def add_service_error(self, error) -> None:
        self.add_error(error.field if error.field in self.fields else None, error.message)


class CallTypeForm(ServiceErrorsMixin, forms.ModelForm):
    class Meta:
        model = CallType
        fields = ["code", "name", "eligible", "apco_code", "guidance"]
        widgets = {"guidance": forms.Textarea(attrs={"rows": 3})}

    def clean_code(self):
        code = CallType.normalise_code(self.cleaned_data["code"])
        if not CODE_RE.match(code):
            raise forms.ValidationError("Use letters, digits, dashes and underscores, as the CAD does.")
        clash = CallType.objects.filter(code=code)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"{code} is already in the catalogue.")
        return code

    def clean_apco_code(self):
        code = CallType.normalise_code(self.cleaned_data["apco_code"])
        if code and not CODE_RE.match(code):
            raise forms.ValidationError("Use the APCO code as the standard writes it: letters and digits.")
        return code


class ScreeningQuestionForm(ServiceErrorsMixin, forms.ModelForm):
    class Meta:
        model = ScreeningQuestion
        fields = ["prompt", "guidance"]
        widgets = {"guidance": forms.Textarea(attrs={"rows": 3})}


# --- A program's local changes to the standard -----------------------------------------------
AS_STANDARD, ELIGIBLE, NOT_ELIGIBLE = "standard", "eligible", "not_eligible"


class ProgramCallTypeForm(ServiceErrorsMixin, forms.Form):
    """How one program differs from the standard on one call type."""

    taken = forms.TypedChoiceField(
        label="Does the program take this call type?",
        choices=[("1", "Yes, the program takes it"), ("0", "No, the program does not take it")],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    eligible = forms.ChoiceField(
        label="Eligible for community response",
        choices=[
            (AS_STANDARD, "As the standard says"),
            (ELIGIBLE, "Eligible in this program"),
            (NOT_ELIGIBLE, "Not eligible in this program"),
        ],
        widget=forms.RadioSelect,
        required=False,
        help_text="Only for a call type the program takes.",
    )
    note = forms.CharField(
        max_length=300,
        required=False,
        label="Why the program differs",
        help_text="Required when the program does not follow the standard.",
    )

    def eligible_value(self) -> bool | None:
        return {ELIGIBLE: True, NOT_ELIGIBLE: False}.get(self.cleaned_data.get("eligible") or AS_STANDARD)

    @classmethod
    def initial_for(cls, change) -> dict:
        if change is None:
            return {"taken": "1", "eligible": AS_STANDARD, "note": ""}
        eligible = AS_STANDARD if change.eligible is None else ELIGIBLE if change.eligible else NOT_ELIGIBLE
        return {"taken": "1" if change.taken else "0", "eligible": eligible, "note": change.note}


class ProgramQuestionForm(ServiceErrorsMixin, forms.Form):
    """A program's own wording of one screening question; empty: the standard's."""

    prompt = forms.CharField(
        max_length=300,
        required=False,
        label="What the program's call takers ask",
        help_text="Leave empty to ask the standard's question.",
    )
    guidance = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


# --- The dispatcher console ---------------------------------------------------------------------
class AssignForm(forms.Form):
    """Send a unit to an incident; an ineligible call needs the dispatcher's reason."""

    unit = forms.CharField(max_length=20, label="Unit")
    override_reason = forms.CharField(
        max_length=1000, required=False, label="Reason to send a team anyway", widget=forms.TextInput
    )

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.incident = incident

    def clean_unit(self):
        callsign = self.cleaned_data["unit"].strip()
        # A unit of another program is no unit for this call (services refuse it too).
        if not Unit.objects.filter(callsign=callsign, program_id=self.incident.program_id).exists():
            raise forms.ValidationError(f"There is no unit {callsign}.")
        return callsign

    def clean_override_reason(self):
        reason = self.cleaned_data["override_reason"].strip()
        if not self.incident.eligible and not reason:
            reasons = ", ".join(REASON_LABELS.get(r, r).lower() for r in self.incident.eligibility_reasons)
            raise forms.ValidationError(
                f"This call is not eligible ({reasons}). Give a reason to send a team anyway."
            )
        return reason


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, label="Reason for cancelling")


class DuplicateLinkForm(forms.Form):
    """Close a call as a duplicate of `original`."""

    original = forms.UUIDField(label="The call it duplicates")


class TransferForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, label="Note for the clinician")


class PhoneContactForm(forms.Form):
    RECORD = "record"
    RESOLVE = "resolve"

    notes = forms.CharField(max_length=10_000, label="What was said on the phone", widget=forms.Textarea)
    action = forms.ChoiceField(
        choices=[(RECORD, "Record the contact"), (RESOLVE, "Resolved by phone")], initial=RECORD
    )


ANSWER_YES, ANSWER_NO, ANSWER_NOT_ASKED = "yes", "no", "not_asked"
ANSWER_CHOICES = [(ANSWER_YES, "Yes"), (ANSWER_NO, "No"), (ANSWER_NOT_ASKED, "Not asked")]
ANSWER_VALUES = {ANSWER_YES: True, ANSWER_NO: False, ANSWER_NOT_ASKED: None}
# The lines a hotline or call centre may take a call on by hand (not police referrals or
# self-initiated encounters: those come from the officer's and the team's own screens).
INTAKE_SOURCES = ["988", "external_hotline", "direct_line", "non_emergency", "911"]
PHONE_RE = re.compile(r"^[0-9+()\-.\s]{3,40}$")


class IntakeForm(forms.Form):
    """The guided intake of a hotline, 988 or direct-line call taker (dispatch model 3)."""

    source = forms.ChoiceField(label="Line the call came in on")
    call_type = forms.ChoiceField(label="Call type", required=False)
    call_type_other = forms.CharField(
        max_length=32, required=False, label="Or another code", help_text="If the call type is not listed."
    )
    priority = forms.TypedChoiceField(
        label="Priority",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "None")] + [(str(n), f"{n}{' (most urgent)' if n == 1 else ''}") for n in range(1, 6)],
    )
    address = forms.CharField(max_length=300, label="Address or place")
    location_details = forms.CharField(max_length=500, required=False, label="Location details")
    latitude = forms.FloatField(required=False, min_value=-90, max_value=90, label="Latitude")
    longitude = forms.FloatField(required=False, min_value=-180, max_value=180, label="Longitude")
    caller_name = forms.CharField(max_length=200, required=False, label="Caller's name")
    caller_phone = forms.CharField(max_length=40, required=False, label="Callback phone")
    narrative = forms.CharField(
        max_length=10_000, required=False, label="Narrative", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, program=None, programs=(), **kwargs):
        """`program`: the program the call is taken for, whose call types and wording of the
        questions the call taker reads (the standard's where it has none of its own).
        `programs`: the caller's programs; with several (a statewide 988 desk), the call taker
        chooses one first, and the form is drawn again in that program's words."""
        super().__init__(*args, **kwargs)
        self.programs = list(programs)
        if len(self.programs) > 1:
            self.fields["program"] = forms.ChoiceField(
                label="Program the call is for",
                choices=[("", "Choose the program")] + [(p.slug, p.name) for p in self.programs],
                error_messages={"required": "Choose the program the call is for."},
            )
            self.fields["program"].widget.attrs.update(
                {
                    "hx-get": reverse("dispatch:intake_form"),
                    "hx-trigger": "change",
                    "hx-target": "#intake",
                    "hx-swap": "outerHTML",
                }
            )
            self.order_fields(["program"])
            chosen = self.data.get("program") if self.is_bound else self.initial.get("program")
            program = next((p for p in self.programs if p.slug == chosen), program)
        elif len(self.programs) == 1 and program is None:
            program = self.programs[0]
        self.chosen_program = program
        program_id = getattr(program, "pk", None)
        # The call taker types, the gazetteer suggests (htmx fills the datalist as they type).
        self.fields["address"].widget.attrs.update(
            {
                "list": "address-suggestions",
                "autocomplete": "off",
                "hx-get": reverse("dispatch:address_suggestions"),
                "hx-trigger": "input changed delay:200ms",
                "hx-target": "#address-suggestions",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        )
        self.fields["address"].help_text = "A known address is placed on the map and gets the nearest unit."
        sources = dict(Incident.Source.choices)
        self.fields["source"].choices = [("", "Choose the line")] + [(s, sources[s]) for s in INTAKE_SOURCES]
        self.fields["call_type"].choices = [("", "Choose a call type")] + [
            (ct.code, f"{ct.code} — {ct.name}") for ct, _eligible in call_types_for(program_id)
        ]
        questions = questions_for(program_id)
        self.screening_names = []
        for key, label in ScreeningQuestion.Key.choices:
            prompt, guidance = questions.get(key, (label, ""))
            name = f"screen_{key}"
            self.fields[name] = forms.ChoiceField(
                choices=ANSWER_CHOICES,
                widget=forms.RadioSelect,
                label=prompt,
                help_text=guidance,
                error_messages={"required": "Choose yes, no or not asked."},
            )
            self.screening_names.append(name)

    def screening_fields(self):
        return [self[name] for name in self.screening_names]

    def clean_call_type_other(self):
        code = CallType.normalise_code(self.cleaned_data["call_type_other"])
        if code and not CODE_RE.match(code):
            raise forms.ValidationError("Use letters, digits, dashes and underscores, as the CAD does.")
        return code

    def clean_caller_phone(self):
        phone = self.cleaned_data["caller_phone"].strip()
        if phone and not PHONE_RE.match(phone):
            raise forms.ValidationError("Use digits, spaces, +, -, ( and ) only.")
        return phone

    def clean(self):
        data = super().clean()
        chosen, other = data.get("call_type"), data.get("call_type_other")
        if not chosen and not other and "call_type_other" not in self.errors:
            self.add_error("call_type", "Choose a call type or type another code.")
        elif chosen and other and chosen != other:
            self.add_error("call_type_other", "Choose from the list or type a code, not both.")
        if (data.get("latitude") is None) != (data.get("longitude") is None) and not (
            "latitude" in self.errors or "longitude" in self.errors
        ):
            self.add_error("longitude", "Give both latitude and longitude, or neither.")
        return data

    def incident_fields(self) -> IncidentFields:
        data = self.cleaned_data
        return IncidentFields(
            source=data["source"],
            call_type_code=data["call_type_other"] or data["call_type"],
            received_at=timezone.now(),
            address=data["address"].strip(),
            priority=data["priority"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            location_details=data["location_details"].strip(),
            caller_name=data["caller_name"].strip(),
            caller_phone=data["caller_phone"],
            narrative=data["narrative"].strip(),
            **{name: ANSWER_VALUES[data[name]] for name in self.screening_names},
        )
