"""The supervisor's administration forms. They check the shape of the input; the rules (a
callsign in use, the last supervisor, the password policy) are the services' to decide, and
their refusals come back onto these forms as field errors."""

from django import forms

from dispatch.roles import HUMAN_ROLES
from dispatch.services import ServiceInvalid
from dispatch.timestamps import BoundedDateField


class ServiceErrorsMixin:
    def add_service_error(self, error: ServiceInvalid) -> None:
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


class UnitForm(ServiceErrorsMixin, forms.Form):
    callsign = forms.CharField(max_length=20, label="Callsign", help_text="Letters, digits and dashes: CR-7.")


def _role_field():
    return forms.ChoiceField(choices=[(r.value, r.label) for r in HUMAN_ROLES], label="Role")


class PersonForm(ServiceErrorsMixin, forms.Form):
    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name", required=False)
    role = _role_field()
    clinician = forms.BooleanField(
        required=False, label="Clinician (a dispatcher who works the clinicians' queue)"
    )


class PersonCreateForm(PersonForm):
    username = forms.CharField(max_length=150, label="User name", help_text="What they sign in with.")
    password = forms.CharField(
        label="First password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Hand it over in person; they can be given a new one here at any time.",
    )

    field_order = ["username", "first_name", "last_name", "role", "clinician", "password"]


class PasswordForm(ServiceErrorsMixin, forms.Form):
    password = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class ShiftDayForm(forms.Form):
    day = BoundedDateField(label="Day", required=False, widget=forms.DateInput(attrs={"type": "date"}))
