"""The filters a supervisor sets on the program's numbers."""

from django import forms

from dispatch.models import CallType, Incident, Unit
from dispatch.reports import engine
from dispatch.roles import Action, is_statewide, programs_for

MAX_RANGE_DAYS = 3660  # ten years: what a program keeps


class ReportFilterForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(label="Source", required=False)
    call_type = forms.CharField(label="Call type", required=False, max_length=32)
    unit = forms.ModelChoiceField(
        label="Unit", required=False, queryset=Unit.objects.none(), empty_label="All units"
    )

    program = forms.ChoiceField(label="Program", required=False)

    def __init__(self, data=None, *args, user=None, **kwargs):
        """`user`: the caller, whose programs the program choice offers. One program's numbers
        are on its own clock (its time zone draws the days); a caller of one program, or of
        several but not statewide, always reads one program: the first of theirs unless they
        choose. A statewide caller may also read the whole deployment, on the deployment's clock."""
        self.programs = list(programs_for(user, Action.PROGRAM_DATA).order_by("name", "slug")) if user else []
        self.whole_deployment = user is None or is_statewide(user, Action.PROGRAM_DATA)
        self.default_program = None if self.whole_deployment or not self.programs else self.programs[0]
        defaults = engine.ReportFilters.default(self.default_program)
        initial = {"start": defaults.start, "end": defaults.end}
        if self.default_program is not None:
            initial["program"] = self.default_program.slug
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
        self.fields["unit"].queryset = Unit.objects.order_by("callsign")
        choices = [(p.slug, f"{p.name} ({p.time_zone})") for p in self.programs]
        if self.whole_deployment:
            choices.insert(0, ("", "Every program"))
        self.fields["program"].choices = choices
        if user is None or len(choices) <= 1:
            self.fields.pop("program")

    def chosen_program(self):
        """The program the filters read (a Program), or None: the whole deployment."""
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

    def filters(self) -> engine.ReportFilters:
        """The filters asked for; the default range when the form was not filled in."""
        if not self.is_bound:
            return engine.ReportFilters.default(self.default_program)
        data = self.cleaned_data
        return engine.ReportFilters(
            start=data["start"],
            end=data["end"],
            source=data.get("source") or "",
            call_type=data.get("call_type") or "",
            unit_id=data["unit"].pk if data.get("unit") else None,
            **engine.ReportFilters.program_scope(self.chosen_program()),
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
