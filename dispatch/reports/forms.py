"""The filters a supervisor sets on the program's numbers."""

from django import forms

from dispatch.models import CallType, Incident, Unit
from dispatch.reports import engine
from dispatch.roles import Action, program_ids_for, programs_for
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
    program = forms.ChoiceField(label="Program", required=False)

    def __init__(self, data=None, *args, user=None, **kwargs):
        """`user`: the caller. The numbers are of their programs, never another's
        (dispatch.roles). One program's numbers are on its own clock (its time zone draws the
        days): a caller of one program always reads it so; a caller of several reads one they
        choose so, or all of theirs together on the deployment's clock."""
        # The programs the caller's numbers are of (None: every program, a statewide role).
        self.program_ids = program_ids_for(user, Action.PROGRAM_DATA) if user is not None else None
        self.programs = list(programs_for(user, Action.PROGRAM_DATA).order_by("name", "slug")) if user else []
        self.default_program = self.programs[0] if len(self.programs) == 1 else None
        defaults = engine.ReportFilters.default(self.default_program)
        initial = {"start": defaults.start, "end": defaults.end}
        asked = ("start", "end", "source", "call_type", "unit", "program")
        if data is not None and not any(data.get(k) for k in asked):
            data = None  # no filters given: the default range, not a form full of errors
        elif data is not None and not (data.get("start") and data.get("end")):
            # A program chosen without a range: its last 30 days, on its own clock.
            chosen = next((p for p in self.programs if p.slug == data.get("program")), self.default_program)
            defaults = engine.ReportFilters.default(chosen)
            data = data.copy()
            data["start"] = data.get("start") or defaults.start.isoformat()
            data["end"] = data.get("end") or defaults.end.isoformat()
        super().__init__(data, *args, initial=initial, **kwargs)
        self.fields["source"].choices = [("", "All sources"), *Incident.Source.choices]
        units = Unit.objects.all()
        if self.program_ids is not None:
            units = units.filter(program_id__in=self.program_ids)
        self.fields["unit"].queryset = units.order_by("callsign")
        if len(self.programs) < 2:
            del self.fields["program"]
        else:
            everyone = "Every program" if self.program_ids is None else "All my programs"
            self.fields["program"].choices = [("", f"{everyone} (deployment's clock)")] + [
                (p.slug, f"{p.name} ({p.time_zone})") for p in self.programs
            ]

    def chosen_program(self):
        """The one program the filters read (a Program), or None: all of the caller's."""
        slug = self.cleaned_data.get("program", "") if self.is_bound else ""
        if slug:
            return next(p for p in self.programs if p.slug == slug)
        return self.default_program

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

    def _scope(self) -> dict:
        program = self.chosen_program()
        if program is not None:
            return engine.ReportFilters.program_scope(program)
        return {"program_ids": None if self.program_ids is None else tuple(sorted(self.program_ids))}

    def filters(self) -> engine.ReportFilters:
        """The filters asked for; the default range when the form was not filled in."""
        if not self.is_bound:
            defaults = engine.ReportFilters.default(self.default_program)
            return engine.ReportFilters(defaults.start, defaults.end, **self._scope())
        data = self.cleaned_data
        return engine.ReportFilters(
            start=data["start"],
            end=data["end"],
            source=data.get("source") or "",
            call_type=data.get("call_type") or "",
            unit_id=data["unit"].pk if data.get("unit") else None,
            **self._scope(),
        )


class ProgramsRangeForm(forms.Form):
    """The range of the programs side by side: the same dates for every program, each drawn on
    its own clock."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, *args, **kwargs):
        defaults = engine.ReportFilters.default()
        if data is not None and not any(data.get(k) for k in ("start", "end")):
            data = None
        super().__init__(data, *args, initial={"start": defaults.start, "end": defaults.end}, **kwargs)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The last day must not be before the first.")
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error("end", f"Choose at most {MAX_RANGE_DAYS} days.")
        return data

    def dates(self):
        if not self.is_bound:
            defaults = engine.ReportFilters.default()
            return defaults.start, defaults.end
        return self.cleaned_data["start"], self.cleaned_data["end"]
