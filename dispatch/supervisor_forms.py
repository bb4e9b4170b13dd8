"""The supervisor's administration forms. They check the shape of the input; the rules (a
callsign in use, the last supervisor, the password policy) are the services' to decide, and
their refusals come back onto these forms as field errors."""

import json
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError

from dispatch.forms import ServiceErrorsMixin
from dispatch.models import ProgramHours
from dispatch.programs import service_area_validate
from dispatch.roles import HUMAN_ROLES
from dispatch.timestamps import BoundedDateField


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


# --- Programs -------------------------------------------------------------------------------------
MAX_AREA_CHARS = 500_000  # a county's boundary, simplified, is a few tens of kilobytes


def _time_zone_choices():
    return [
        (name, name) for name in sorted(available_timezones()) if "/" in name and not name.startswith("Etc/")
    ]


class ProgramForm(ServiceErrorsMixin, forms.Form):
    """A program: what it is called, its clock, its area and its weekly hours (one span a day,
    in its own time zone; both empty: closed that day; closing at or before opening: past
    midnight; the same time twice: the whole day)."""

    slug = forms.SlugField(max_length=50, help_text="Lower-case letters, digits and dashes: denver-star.")
    name = forms.CharField(max_length=100)
    time_zone = forms.ChoiceField(
        label="Time zone", help_text="The program's days and hours are on this clock."
    )
    service_area = forms.CharField(
        label="Service area (GeoJSON)",
        required=False,
        max_length=MAX_AREA_CHARS,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="A GeoJSON Polygon or MultiPolygon in longitude, latitude (a Feature holding one is "
        "taken too). Empty: no area; a statewide call is never routed here.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _time_zone_choices()
        self.hour_names = []
        for day in ProgramHours.Weekday:
            opens, closes = f"opens_{day.value}", f"closes_{day.value}"
            self.fields[opens] = forms.TimeField(
                label=f"{day.label} opens", required=False, widget=forms.TimeInput(attrs={"type": "time"})
            )
            self.fields[closes] = forms.TimeField(
                label=f"{day.label} closes", required=False, widget=forms.TimeInput(attrs={"type": "time"})
            )
            self.hour_names.append((day, opens, closes))

    def main_fields(self):
        return [self[name] for name in ("slug", "name", "time_zone", "service_area")]

    def hour_fields(self):
        return [(day.label, self[opens], self[closes]) for day, opens, closes in self.hour_names]

    def clean_service_area(self):
        text = self.cleaned_data["service_area"].strip()
        if not text:
            return None
        try:
            area = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"This is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            raise forms.ValidationError(message) from exc
        except (ValueError, RecursionError) as exc:
            raise forms.ValidationError("This is not JSON a service area can be read from.") from exc
        if isinstance(area, dict) and area.get("type") == "Feature":
            area = area.get("geometry")
        if isinstance(area, dict) and area.get("type") == "FeatureCollection":
            features = area.get("features") or []
            if len(features) != 1:
                raise forms.ValidationError("Give one Polygon or MultiPolygon, not a collection of several.")
            area = (features[0] or {}).get("geometry") if isinstance(features[0], dict) else None
        try:
            service_area_validate(area)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages[0]) from exc
        return area

    def clean(self):
        data = super().clean()
        hours = {}
        for day, opens, closes in self.hour_names:
            o, c = data.get(opens), data.get(closes)
            if opens in self.errors or closes in self.errors:
                continue
            if (o is None) != (c is None):
                self.add_error(
                    closes if o is not None else opens, f"Give {day.label}'s opening and closing, or neither."
                )
            elif o is not None:
                hours[day.value] = (o, c)
        data["hours"] = hours
        return data

    @classmethod
    def initial_for(cls, program) -> dict:
        initial = {
            "slug": program.slug,
            "name": program.name,
            "time_zone": program.time_zone,
            "service_area": json.dumps(program.service_area) if program.service_area else "",
        }
        for h in program.hours.all():
            initial[f"opens_{h.weekday}"] = h.opens
            initial[f"closes_{h.weekday}"] = h.closes
        return initial
