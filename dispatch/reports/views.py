"""Pages for the program's numbers: the supervisor dashboard and the call-type analysis. Thin:
the numbers come from dispatch.reports; these views read the filters and shape the numbers into
charts and tables (the CSV exports are in dispatch.reports.exports)."""



from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dispatch.formatting import duration
from dispatch.models import CallType
from dispatch.reports import engine, sections
from dispatch.reports.forms import ReportFilterForm
from dispatch.roles import Action, may, role_required


def duration_measured(seconds: float | None) -> str:
    return duration(seconds, precise=True)


# --- Shaping numbers for the page -------------------------------------------------------------
BAR_AREA = 300  # px of the chart's width given to the longest bar
ROW_HEIGHT = 30


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


def _dashboard_context(filters: engine.ReportFilters) -> dict:
    data = sections.dashboard(filters)
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
                duration_measured(first_contact["median"]),
                f"median; 90th percentile {duration_measured(first_contact['p90'])}",
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
            {
                **row,
                "median_display": duration_measured(row["median"]),
                "p90_display": duration_measured(row["p90"]),
            }
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
    template = "reports/dashboard.html#report" if request.htmx else "reports/dashboard.html"
    return render(request, template, context, status=400 if filters is None else 200)


@require_GET
@role_required(Action.PROGRAM_DATA)
def call_type_analysis(request):
    """For each call type: calls in, screened eligible, what removed the rest, served."""
    form, filters = _filters_or_errors(request)
    rows = []
    if filters is not None:
        for entry in sections.call_type_analysis(filters):
            rows.append(
                {
                    **entry,
                    "reason_counts": [
                        entry["reasons"].get(reason, 0) for reason, _ in sections.REASON_COLUMNS
                    ],
                    "eligible_share": share(entry["eligible"], entry["calls"]),
                }
            )
    context = {
        "form": form,
        "filters": filters,
        "rows": rows,
        "reason_columns": sections.REASON_COLUMNS,
        "call_type_codes": CallType.objects.values_list("code", flat=True),
        "chart": chart(
            "grow",
            "Calls that could be served (no safety disqualifier, not served)",
            [(row["code"], row["could_grow"]) for row in rows[:15]],
        ),
    }
    template = (
        "reports/call_type_analysis.html#report" if request.htmx else "reports/call_type_analysis.html"
    )
    return render(request, template, context, status=400 if filters is None else 200)
