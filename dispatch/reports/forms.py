"""The filters a supervisor sets on the program's numbers."""

from dataclasses import replace

from django import forms

from dispatch.models import CallType, Incident, Program, Unit
from dispatch.reports import engine
from dispatch.roles import Action, program_ids_for

MAX_RANGE_DAYS = 3660  # ten years: what a program keeps


class ReportFilterForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(label="Source", required=False)
    call_type = forms.CharField(label="Call type", required=False, max_length=32)
    unit = forms.ModelChoiceField(
        label="Unit", required=False, queryset=Unit.objects.none(), empty_label="All units"
    )

    program = forms.ModelChoiceField(
        label="Program",
        required=False,
        queryset=Program.objects.none(),
        empty_label="All my programs",
        to_field_name="slug",
    )

    def __init__(self, data=None, *args, user=None, **kwargs):
        # The programs the caller's numbers are of (dispatch.roles): theirs, never another's.
        self.program_ids = program_ids_for(user, Action.PROGRAM_DATA) if user is not None else None
        defaults = engine.ReportFilters.default()
        initial = {"start": defaults.start, "end": defaults.end}
        if data is not None and not any(
            data.get(k) for k in ("start", "end", "source", "call_type", "unit", "program")
        ):
            data = None  # no filters given: the default range, not a form full of errors
        super().__init__(data, *args, initial=initial, **kwargs)
        self.fields["source"].choices = [("", "All sources"), *Incident.Source.choices]
        programs = (
            Program.objects.all()
            if self.program_ids is None
            else Program.objects.filter(pk__in=self.program_ids)
        )
        self.fields["unit"].queryset = Unit.objects.filter(program__in=programs).order_by("callsign")
        self.fields["program"].queryset = programs.order_by("name")
        if len(self.fields["program"].queryset) < 2:
            del self.fields["program"]

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
        ids = self.program_ids
        if not self.is_bound:
            return replace(engine.ReportFilters.default(), program_ids=_as_tuple(ids))
        data = self.cleaned_data
        if data.get("program"):
            ids = frozenset({data["program"].pk})
        return engine.ReportFilters(
            start=data["start"],
            end=data["end"],
            source=data.get("source") or "",
            call_type=data.get("call_type") or "",
            unit_id=data["unit"].pk if data.get("unit") else None,
            program_ids=_as_tuple(ids),
        )


def _as_tuple(ids) -> tuple[int, ...] | None:
    return None if ids is None else tuple(sorted(ids))
