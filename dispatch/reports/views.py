"""Pages for the program's numbers: the supervisor dashboard and the call-type analysis. Thin:
the numbers come from dispatch.reports; these views read the filters and shape the numbers into
charts and tables (the CSV exports are in dispatch.reports.exports)."""

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dispatch.formatting import duration
from dispatch.models import CallType, Incident
from dispatch.reports import engine, sections
from dispatch.reports.forms import ProgramsRangeForm, ReportFilterForm
from dispatch.roles import Action, may, programs_for, role_required


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


TREND_LABEL_X = 170  # the week's label ends here; its bar starts 8 px after


def _week_label(week: dict) -> str:
    first, last = week["first"], week["last"]
    if first == last:
        span = f"{first:%b} {first.day}"
    elif first.month == last.month:
        span = f"{first:%b} {first.day}–{last.day}"
    else:
        span = f"{first:%b} {first.day}–{last:%b} {last.day}"
    return span if week["whole"] else f"{span} (part)"


def _trend_rows(weeks, segments_of, display_of) -> list[dict]:
    """One row per week: its stacked segments [(css class, value, title)], scaled so the largest
    week fills BAR_AREA, and the text shown beside the bar."""
    largest = max((sum(v for _, v, _ in segments_of(w)) for w in weeks), default=0) or 1
    rows = []
    for i, week in enumerate(weeks):
        x = TREND_LABEL_X + 8
        segments = []
        for css, value, title in segments_of(week):
            width = round(BAR_AREA * value / largest, 1)
            segments.append({"css": css, "x": x, "width": width, "title": title})
            x += width
        rows.append(
            {
                "label": _week_label(week),
                "segments": segments,
                "display": display_of(week),
                "y": i * ROW_HEIGHT,
                "text_y": i * ROW_HEIGHT + ROW_HEIGHT / 2 + 5,
                "value_x": x + 8,
            }
        )
    return rows


def trend_charts(trend: list[dict]) -> list[dict]:
    """The weekly trend as three charts, each week's numbers written beside its bar."""
    sources = [
        label for _, label in Incident.Source.choices if any(dict(w["by_source"]).get(label) for w in trend)
    ]
    css = {label: f"seg-{i}" for i, label in enumerate(sources)}

    def calls(week):
        counts = dict(week["by_source"])
        return [(css[s], counts[s], f"{s}: {counts[s]}") for s in sources if counts.get(s)]

    def response(week):
        spread = week["response"]
        return [
            ("seg-median", spread["median"] or 0, "median"),
            ("seg-p90", max(0, (spread["p90"] or 0) - (spread["median"] or 0)), "90th percentile"),
        ]

    def response_text(week):
        spread = week["response"]
        if not spread["count"]:
            return "none measured"
        return f"median {duration(spread['median'])} · 90th pct. {duration(spread['p90'])}"

    def served(week):
        return [
            ("seg-served", week["eligible_served"], "served"),
            ("seg-unserved", week["eligible"] - week["eligible_served"], "not served"),
        ]

    def served_text(week):
        served, eligible = week["eligible_served"], week["eligible"]
        return f"{served} of {eligible} ({share(served, eligible)})"

    charts = [
        (
            "trend-calls",
            "Calls per week, by source",
            calls,
            lambda w: f"{w['calls']:,}",
            [(css[s], s) for s in sources],
        ),
        (
            "trend-response",
            "Received → on scene, per week",
            response,
            response_text,
            [("seg-median", "Median"), ("seg-p90", "To the 90th percentile")],
        ),
        (
            "trend-served",
            "Eligible calls served, per week",
            served,
            served_text,
            [("seg-served", "Served"), ("seg-unserved", "Eligible, not served")],
        ),
    ]
    out = []
    for key, title, segments_of, display_of, legend in charts:
        rows = _trend_rows(trend, segments_of, display_of)
        out.append(
            {
                "key": key,
                "title": title,
                "rows": rows,
                "legend": legend,
                "height": max(len(rows), 1) * ROW_HEIGHT,
                "description": "; ".join(f"{r['label']}: {r['display']}" for r in rows)
                or "No weeks in range.",
            }
        )
    return out


def _dashboard_context(filters: engine.ReportFilters) -> dict:
    data, trend = sections.dashboard_with_trend(filters)
    calls, outcomes = data["calls"], data["outcomes"]
    follow_ups, encounters = data["follow_ups"], data["encounters"]
    spreads = data["response_times"]
    first_contact = follow_ups["first_contact"]
    return {
        "data": data,
        "trend": trend_charts(trend),
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
    form = ReportFilterForm(request.GET, user=request.user)
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
        "time_zone": filters.zone.key if filters is not None else settings.TIME_ZONE,
        "may_export_identifiers": may(request.user, Action.PROGRAM_DATA_IDENTIFIERS),
    }
    if filters is not None:
        context["program"] = form.chosen_program()
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
    template = "reports/call_type_analysis.html#report" if request.htmx else "reports/call_type_analysis.html"
    return render(request, template, context, status=400 if filters is None else 200)


def _month_end(month):
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _months_back(today, count: int) -> list:
    """This month and the `count` before it, newest first (their first days)."""
    months, month = [], today.replace(day=1)
    for _ in range(count + 1):
        months.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return months


@require_GET
@role_required(Action.PROGRAM_DATA)
def month_report(request):
    """One calendar month on one printed page: the numbers a program manager hands to a
    council. `?month=YYYY-MM`; the last whole month unless asked. `?program=slug`: one of the
    caller's programs, on its own clock (a caller who is not statewide always reads one)."""
    choices = ReportFilterForm(None, user=request.user)
    asked_program = request.GET.get("program", "")
    program = next((p for p in choices.programs if p.slug == asked_program), choices.default_program)
    zone = ZoneInfo(program.time_zone) if program is not None else engine.program_zone()
    today = engine.program_today(zone)
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    error = ""
    asked = request.GET.get("month", "")
    if asked:
        try:
            month = datetime.strptime(asked, "%Y-%m").date()
        except ValueError:
            error = "Give the month as YYYY-MM, for example 2026-03."
        else:
            if month > today:
                error = "That month has not started yet."
    picker = {
        "programs": choices.programs if len(choices.programs) > 1 else [],
        "everyone": "Every program" if choices.program_ids is None else "All my programs",
        "program": program,
    }
    if error:
        return render(request, "reports/month.html", {"error": error, "month": None, **picker}, status=400)
    if program is not None:
        scope = engine.ReportFilters.program_scope(program)
    else:
        ids = choices.program_ids
        scope = {"program_ids": None if ids is None else tuple(sorted(ids))}
    filters = replace(sections.month_filters(month, today=today), **scope)
    context = _dashboard_context(filters)
    data = context["data"]
    context.update(
        {
            "month": month,
            "filters": filters,
            "partial": filters.end < _month_end(month),
            "top_call_types": data["calls"]["by_call_type"][:6],
            "top_outcomes": data["outcomes"]["by_disposition"][:6],
            "time_zone": zone.key,
            "months": _months_back(today, 12),
            **picker,
        }
    )
    return render(request, "reports/month.html", context)


# --- The programs side by side --------------------------------------------------------------------
def _measure_display(key: str, value: dict) -> dict:
    if key.startswith("duration:"):
        if not value["count"]:
            return {"main": "—", "detail": "none measured"}
        return {
            "main": duration_measured(value["median"]),
            "detail": f"90th pct. {duration_measured(value['p90'])} · {value['count']:,} measured",
        }
    if "share" in value:
        return {
            "main": share(value["part"], value["whole"]),
            "detail": f"{value['part']:,} of {value['whole']:,}",
        }
    return {"main": f"{value['value']:,}", "detail": ""}


@require_GET
@role_required(Action.PROGRAM_DATA)
def programs_side_by_side(request):
    """Every program the caller may read, side by side: the same definitions for each (one per
    row), each program's numbers from its own calls over the same dates on its own clock."""
    form = ProgramsRangeForm(request.GET)
    programs = list(programs_for(request.user, Action.PROGRAM_DATA).order_by("name", "slug"))
    context = {"form": form, "programs": programs, "rows": []}
    if form.is_bound and not form.is_valid():
        return render(request, "reports/programs.html", context, status=400)
    start, end = form.dates()
    scopes = [engine.ReportFilters(start, end, **engine.ReportFilters.program_scope(p)) for p in programs]
    # Every program's sums read together: a fixed number of queries, however many programs.
    columns = list(zip(programs, scopes, sections.programs_measures(scopes), strict=True))
    # Each program's first moment, written on its own clock (a template would show it on the
    # deployment's).
    context["columns"] = [
        {"program": program, "first": filters.bounds()[0].isoformat()} for program, filters, _ in columns
    ]
    context["start"], context["end"] = start, end
    context["rows"] = [
        {
            "key": key,
            "label": label,
            "definition": definition,
            "cells": [(program, _measure_display(key, values[key])) for program, _f, values in columns],
        }
        for key, label, definition in sections.PROGRAM_MEASURES
    ]
    return render(request, "reports/programs.html", context)
