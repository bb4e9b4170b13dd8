"""The filters a supervisor sets on the program's numbers."""

from django import forms

from dispatch.models import CallType, Incident, Unit
from dispatch.reports import engine
from dispatch.timestamps import BoundedDateField

MAX_RANGE_DAYS = 3660  # ten years: what a program keeps


class ReportFilterForm(forms.Form):
    start = BoundedDateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = BoundedDateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(label="Source", required=False)
    call_type = forms.CharField(label="Call type", required=False, max_length=32)
    unit = forms.ModelChoiceField(
        label="Unit", required=False, queryset=Unit.objects.none(), empty_label="All units"
    )

    def __init__(self, data=None, *args, **kwargs):
        defaults = engine.ReportFilters.default()
        initial = {"start": defaults.start, "end": defaults.end}
        if data is not None and not any(data.get(k) for k in ("start", "end", "source", "call_type", "unit")):
            data = None  # no filters given: the default range, not a form full of errors
        super().__init__(data, *args, initial=initial, **kwargs)
        self.fields["source"].choices = [("", "All sources"), *Incident.Source.choices]
        self.fields["unit"].queryset = Unit.objects.order_by("callsign")

    def clean_call_type(self):
        return CallType.normalise_code(self.cleaned_data["call_type"])

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The last day must not be before the first.")
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error("end", f"Choose at most {MAX_RANGE_DAYS} days.")
        return data

    def filters(self) -> engine.ReportFilters:
        """The filters asked for; the default range when the form was not filled in."""
        if not self.is_bound:
            return engine.ReportFilters.default()
        data = self.cleaned_data
        return engine.ReportFilters(
            start=data["start"],
            end=data["end"],
            source=data.get("source") or "",
            call_type=data.get("call_type") or "",
            unit_id=data["unit"].pk if data.get("unit") else None,
        )
