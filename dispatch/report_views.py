"""Pages for the program's numbers: the supervisor dashboard, the call-type analysis and the CSV
exports. Thin: the numbers come from dispatch.reports; these views read the filters, shape the
numbers into charts and tables, and stream the exports."""

import csv
from itertools import islice

from asgiref.sync import sync_to_async
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dispatch import reports
from dispatch.models import Assignment, CallType, ExportAudit, Incident, Unit
from dispatch.roles import Action, may, role_required
from field.models import Outcome

MAX_RANGE_DAYS = 3660  # ten years: what a program keeps


class ReportFilterForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(label="Source", required=False)
    call_type = forms.CharField(label="Call type", required=False, max_length=32)
    unit = forms.ModelChoiceField(
        label="Unit", required=False, queryset=Unit.objects.none(), empty_label="All units"
    )

    def __init__(self, data=None, *args, **kwargs):
        defaults = reports.ReportFilters.default()
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

    def filters(self) -> reports.ReportFilters:
        """The filters asked for; the default range when the form was not filled in."""
        if not self.is_bound:
            return reports.ReportFilters.default()
        data = self.cleaned_data
        return reports.ReportFilters(
            start=data["start"],
            end=data["end"],
            source=data.get("source") or "",
            call_type=data.get("call_type") or "",
            unit_id=data["unit"].pk if data.get("unit") else None,
        )


# --- Shaping numbers for the page -------------------------------------------------------------
BAR_AREA = 300  # px of the chart's width given to the longest bar
ROW_HEIGHT = 30


def duration(seconds: float | None) -> str:
    """12 s, 4 min 05 s, 1 h 20 min, 2 d 3 h: short enough for a table cell."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def share(part: int, whole: int) -> str:
    return "—" if not whole else f"{100 * part / whole:.1f}%"


def chart(key: str, title: str, rows, *, unit: str = "calls", fmt=str) -> dict:
    """A horizontal bar chart: one row per (label, value), bars scaled to the largest value."""
    rows = [(str(label), value) for label, value in rows]
    largest = max((value or 0 for _, value in rows), default=0)
    bars = []
    for i, (label, value) in enumerate(rows):
        width = round(BAR_AREA * (value or 0) / largest, 1) if largest else 0
        bars.append(
            {
                "label": label,
                "value": value,
                "display": fmt(value),
                "width": max(width, 1 if value else 0),
                "y": i * ROW_HEIGHT,
                "text_y": i * ROW_HEIGHT + ROW_HEIGHT / 2 + 5,
                "value_x": 250 + max(width, 1) + 8,
            }
        )
    description = "; ".join(f"{b['label']}: {b['display']}" for b in bars) or "No data in this range."
    return {
        "key": key,
        "title": title,
        "unit": unit,
        "bars": bars,
        "height": max(len(bars), 1) * ROW_HEIGHT,
        "description": description,
    }


def _dashboard_context(filters: reports.ReportFilters) -> dict:
    data = reports.dashboard(filters)
    calls, outcomes = data["calls"], data["outcomes"]
    follow_ups, encounters = data["follow_ups"], data["encounters"]
    spreads = data["response_times"]
    times = []
    for row in spreads:
        short = row["label"].split(" (")[0]
        times += [(f"{short} · median", row["median"]), (f"{short} · 90th pct.", row["p90"])]
    first_contact = follow_ups["first_contact"]
    return {
        "data": data,
        "tiles": [
            ("Calls", f"{calls['total']:,}", "received in range, encounters apart"),
            (
                "Eligible calls served",
                share(calls["eligible_served"], calls["eligible"]),
                f"{calls['eligible_served']:,} of {calls['eligible']:,} eligible calls reached on scene",
            ),
            (
                "Police backup",
                share(outcomes["backup_calls"], outcomes["dispatched"]),
                f"{outcomes['backup_calls']:,} of {outcomes['dispatched']:,} dispatched calls",
            ),
            ("Arrests", f"{outcomes['arrests']:,}", "outcomes recording an arrest"),
            ("Self-initiated encounters", f"{encounters['total']:,}", "counted apart from calls"),
            (
                "Follow-ups connected",
                share(follow_ups["connected"], follow_ups["created"]),
                f"{follow_ups['connected']:,} of {follow_ups['created']:,} created in range",
            ),
            (
                "Time to first contact",
                duration(first_contact["median"]),
                f"median; 90th percentile {duration(first_contact['p90'])}",
            ),
        ],
        "charts": [
            chart("source", "Calls by source", calls["by_source"]),
            chart("call-type", "Calls by call type", calls["by_call_type"]),
            chart("disposition", "Outcomes of dispatched calls", outcomes["by_disposition"], unit="outcomes"),
            chart("times", "Response times (median and 90th percentile)", times, unit="time", fmt=duration),
            chart("transports", "Transports by destination", outcomes["transports"], unit="transports"),
            chart("referrals", "Police referrals by status", data["referrals"]["by_state"], unit="referrals"),
            chart(
                "encounters",
                "Self-initiated encounters by outcome",
                encounters["by_disposition"],
                unit="encounters",
            ),
        ],
        "response_times": [
            {**row, "median_display": duration(row["median"]), "p90_display": duration(row["p90"])}
            for row in spreads
        ],
    }


# --- Pages ----------------------------------------------------------------------------------------
def _filters_or_errors(request):
    form = ReportFilterForm(request.GET)
    if form.is_bound and not form.is_valid():
        return form, None
    return form, form.filters()


@require_GET
@role_required(Action.PROGRAM_DATA)
def dashboard(request):
    """The program's numbers for a range; htmx asks for the report alone when the filters change."""
    form, filters = _filters_or_errors(request)
    context = {
        "form": form,
        "filters": filters,
        "call_type_codes": CallType.objects.values_list("code", flat=True),
        "time_zone": settings.TIME_ZONE,
        "may_export_identifiers": may(request.user, Action.PROGRAM_DATA_IDENTIFIERS),
    }
    if filters is not None:
        context.update(_dashboard_context(filters))
    template = "dispatch/dashboard.html#report" if request.htmx else "dispatch/dashboard.html"
    return render(request, template, context, status=400 if filters is None else 200)


@require_GET
@role_required(Action.PROGRAM_DATA)
def call_type_analysis(request):
    """For each call type: calls in, screened eligible, what removed the rest, served."""
    form, filters = _filters_or_errors(request)
    rows = []
    if filters is not None:
        for entry in reports.call_type_analysis(filters):
            rows.append(
                {
                    **entry,
                    "reason_counts": [
                        entry["reasons"].get(reason, 0) for reason, _ in reports.REASON_COLUMNS
                    ],
                    "eligible_share": share(entry["eligible"], entry["calls"]),
                }
            )
    context = {
        "form": form,
        "filters": filters,
        "rows": rows,
        "reason_columns": reports.REASON_COLUMNS,
        "call_type_codes": CallType.objects.values_list("code", flat=True),
        "chart": chart(
            "grow",
            "Calls that could be served (no safety disqualifier, not served)",
            [(row["code"], row["could_grow"]) for row in rows[:15]],
        ),
    }
    template = (
        "dispatch/call_type_analysis.html#report" if request.htmx else "dispatch/call_type_analysis.html"
    )
    return render(request, template, context, status=400 if filters is None else 200)


# --- CSV exports ----------------------------------------------------------------------------------
class ExportForm(ReportFilterForm):
    kind = forms.ChoiceField(choices=ExportAudit.Kind.choices)
    identifiers = forms.BooleanField(required=False, label="Include personal identifiers")


def _when(value):
    return timezone.localtime(value, reports.program_zone()).isoformat() if value else ""


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


# Each export: its rows (values_list fields), its header, how a row becomes CSV cells; the
# personal identifiers are separate fields, read only when asked for.
INCIDENT_FIELDS = [
    ("id", "id"),
    ("received_at", "received_at"),
    ("source", "source"),
    ("call_type_code", "call_type"),
    ("priority", "priority"),
    ("eligible", "eligible"),
    ("eligibility_reasons", "eligibility_reasons"),
    ("status", "status"),
    ("closed_at", "closed_at"),
    ("cancelled_at", "cancelled_at"),
]
INCIDENT_IDENTIFIERS = [
    ("caller_name", "caller_name"),
    ("caller_phone", "caller_phone"),
    ("address", "address"),
]
ASSIGNMENT_FIELDS = [
    ("id", "id"),
    ("incident_id", "incident_id"),
    ("unit__callsign", "unit"),
    ("status", "status"),
    ("incident__received_at", "received_at"),
    ("dispatched_at", "dispatched_at"),
    ("acknowledged_at", "acknowledged_at"),
    ("en_route_at", "en_route_at"),
    ("on_scene_at", "on_scene_at"),
    ("transporting_at", "transporting_at"),
    ("cleared_at", "cleared_at"),
    ("cancelled_at", "cancelled_at"),
    ("transport_destination", "transport_destination"),
]
OUTCOME_FIELDS = [
    ("assignment_id", "assignment_id"),
    ("assignment__incident_id", "incident_id"),
    ("self_initiated", "self_initiated"),
    ("disposition", "disposition"),
    ("services_provided", "services_provided"),
    ("people_contacted", "people_contacted"),
    ("police_involvement", "police_involvement"),
    ("ems_involvement", "ems_involvement"),
    ("transport_destination", "transport_destination"),
    ("follow_up_id", "follow_up_id"),
    ("recorded_at", "recorded_at"),
]
OUTCOME_IDENTIFIERS = [
    ("person_id", "person_id"),
    ("person__name", "person_name"),
    ("person__alias", "person_alias"),
    ("person__date_of_birth", "person_date_of_birth"),
    ("person__phone", "person_phone"),
]
TIMESTAMPS = {
    "received_at",
    "closed_at",
    "cancelled_at",
    "incident__received_at",
    "dispatched_at",
    "acknowledged_at",
    "en_route_at",
    "on_scene_at",
    "transporting_at",
    "cleared_at",
    "recorded_at",
}


def _export_queryset(kind: str, filters: reports.ReportFilters, identifiers: bool):
    """Everything whose incident was received in range (encounters included: an export is the
    record, not a metric), with the dashboard's filters."""
    incidents = reports.incidents_in_range(filters)
    if kind == ExportAudit.Kind.INCIDENTS:
        qs, fields = (
            incidents.order_by("received_at", "id"),
            INCIDENT_FIELDS + (INCIDENT_IDENTIFIERS if identifiers else []),
        )
    elif kind == ExportAudit.Kind.ASSIGNMENTS:
        qs = Assignment.objects.filter(incident__in=incidents.values("pk")).order_by("dispatched_at", "id")
        fields = ASSIGNMENT_FIELDS
        if filters.unit_id:
            qs = qs.filter(unit_id=filters.unit_id)
    else:
        qs = Outcome.objects.filter(assignment__incident__in=incidents.values("pk")).order_by(
            "recorded_at", "id"
        )
        fields = OUTCOME_FIELDS + (OUTCOME_IDENTIFIERS if identifiers else [])
        if filters.unit_id:
            qs = qs.filter(assignment__unit_id=filters.unit_id)
    names = [name for name, _ in fields]
    return qs.values_list(*names), [header for _, header in fields], [n in TIMESTAMPS for n in names]


class _Echo:
    """csv.writer writes into this and hands each line back, so lines can be streamed."""

    def write(self, value):
        return value


CHUNK_SIZE = 2000


def _take(rows, count: int) -> list:
    return list(islice(rows, count))


async def _csv_lines(queryset, header, stamps):
    """The CSV, one chunk of CHUNK_SIZE rows at a time, read while it is sent: Daphne streams
    each chunk as it comes instead of reading every row into memory first. The rows come from
    queryset.iterator(chunk_size=...) (a server-side cursor on PostgreSQL), advanced in the
    request's database thread."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    rows = queryset.iterator(chunk_size=CHUNK_SIZE)
    while chunk := await sync_to_async(_take)(rows, CHUNK_SIZE):
        yield "".join(
            writer.writerow([_when(v) if stamp else _plain(v) for v, stamp in zip(row, stamps, strict=True)])
            for row in chunk
        )


@require_POST
@role_required(Action.PROGRAM_DATA)
def export(request):
    """A CSV of incidents, assignments or outcomes for a range, streamed. Personal identifiers
    only when the box is ticked (and the role may); every export is recorded in ExportAudit,
    written before the first row is sent."""
    form = ExportForm(request.POST)
    if not form.is_valid():
        return render(request, "dispatch/dashboard_export_error.html", {"form": form}, status=400)
    filters = form.filters()
    kind = form.cleaned_data["kind"]
    identifiers = form.cleaned_data["identifiers"]
    if identifiers and not may(request.user, Action.PROGRAM_DATA_IDENTIFIERS):
        raise PermissionDenied
    ExportAudit.objects.create(
        user=request.user,
        kind=kind,
        range_start=filters.start,
        range_end=filters.end,
        with_identifiers=identifiers,
        filters={k: v for k, v in filters.as_dict().items() if k not in ("start", "end")},
    )
    queryset, header, stamps = _export_queryset(kind, filters, identifiers)
    suffix = "-identified" if identifiers else ""
    name = f"{kind}-{filters.start.isoformat()}-{filters.end.isoformat()}{suffix}.csv"
    response = StreamingHttpResponse(
        _csv_lines(queryset, header, stamps), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
