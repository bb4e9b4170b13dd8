"""The dashboard's sections and the call-type analysis, from a range's Totals."""

from collections import Counter
from dataclasses import asdict
from datetime import date, timedelta

from dispatch.models import Incident
from dispatch.reports.engine import DURATIONS, SELF_INITIATED, ReportFilters, Spread, Totals
from dispatch.reports.sums import days_totals, programs_range_totals, range_totals
from dispatch.screening import DISQUALIFIERS, REASON_LABELS
from field.models import Outcome
from referrals.models import PoliceReferral


# --- The sections ---------------------------------------------------------------------------------
def calls_summary(filters: ReportFilters, *, totals: Totals | None = None) -> dict:
    """Counts of the calls received in range, by source, call type and eligibility.

    - `dispatched`: calls with at least one assignment (of the filtered unit, if one is set).
    - `served`: calls with an assignment that reached on scene; `eligible_served` the eligible
      ones among them; `served_share` = eligible_served / eligible (None when no call was
      eligible): the share of eligible calls actually served.
    """
    totals = totals or range_totals(filters)
    by_type = Counter()
    eligible = 0
    for (code, is_eligible, _), n in totals.types.items():
        by_type[code] += n
        eligible += n if is_eligible else 0
    total = sum(totals.sources.values())
    labels = dict(Incident.Source.choices)
    return {
        "total": total,
        "eligible": eligible,
        "dispatched": totals.dispatched,
        "served": totals.served,
        "eligible_served": totals.eligible_served,
        "served_share": totals.eligible_served / eligible if eligible else None,
        "by_source": [(labels.get(s, s), n) for s, n in totals.sources.most_common()],
        "by_call_type": sorted(by_type.items(), key=lambda item: (-item[1], item[0])),
    }


def response_times(filters: ReportFilters, *, totals: Totals | None = None) -> list[dict]:
    """Median and 90th percentile of each response-time definition and of time on scene, over
    the assignments of the calls in range (each assignment with both timestamps counts once; a
    call sent to two units in turn counts twice). Seconds, on the grid (`on_grid`)."""
    totals = totals or range_totals(filters)
    return [
        {"key": key, "label": label, **asdict(Spread.of(totals.durations[key]))}
        for key, label, *_ in DURATIONS
    ]


def outcomes_summary(filters: ReportFilters, *, totals: Totals | None = None) -> dict:
    """What happened on the calls in range, from their recorded outcomes and backup requests.

    - `dispatched`: calls with at least one assignment (of the filtered unit, if set).
    - `backup_calls`: of those, calls where the team needed police: an outcome records police
      involvement `backup_requested` or `arrest`, or a police BackupRequest was made on one of
      the call's assignments. A call counts once however many requests it had.
    - `backup_rate` = backup_calls / dispatched (None when nothing was dispatched). CAHOOTS
      reported about 0.6% of calls, Olympia about 20%.
    - `arrests`: outcomes of calls recording an arrest.
    - `by_disposition`, `transports` (outcomes with a transport destination, by destination).
    Encounters are left out here; encounters_summary counts them.
    """
    totals = totals or range_totals(filters)
    dispositions, transports, arrests = _outcome_counts(totals, encounters=False)
    labels = dict(Outcome.Disposition.choices)
    dispatched = totals.dispatched
    return {
        "dispatched": dispatched,
        "backup_calls": totals.backup_calls,
        "backup_rate": totals.backup_calls / dispatched if dispatched else None,
        "arrests": arrests,
        "recorded": sum(dispositions.values()),
        "by_disposition": [(labels.get(d, d), n) for d, n in dispositions.most_common()],
        "transports": sorted(transports.items(), key=lambda item: (-item[1], item[0])),
    }


def _outcome_counts(totals: Totals, *, encounters: bool) -> tuple[Counter, Counter, int]:
    dispositions, transports = Counter(), Counter()
    arrests = 0
    for (self_initiated, disposition, destination, police), n in totals.outcomes.items():
        if self_initiated != encounters:
            continue
        dispositions[disposition] += n
        if destination:
            transports[destination] += n
        if police == Outcome.PoliceInvolvement.ARREST:
            arrests += n
    return dispositions, transports, arrests


def encounters_summary(filters: ReportFilters, *, totals: Totals | None = None) -> dict:
    """Self-initiated encounters received in range, kept apart from calls: how many, and their
    outcomes by disposition ("Not recorded yet" for an encounter without one). A source filter
    other than self-initiated leaves none."""
    if filters.source and filters.source != SELF_INITIATED:
        return {"total": 0, "by_disposition": [], "arrests": 0}
    totals = totals or range_totals(filters)
    dispositions, _transports, arrests = _outcome_counts(totals, encounters=True)
    labels = dict(Outcome.Disposition.choices)
    by_disposition = [(labels.get(d, d), n) for d, n in dispositions.most_common()]
    missing = totals.encounters - sum(dispositions.values())
    if missing > 0:
        by_disposition.append(("Not recorded yet", missing))
    return {"total": totals.encounters, "by_disposition": by_disposition, "arrests": arrests}


def follow_ups_summary(filters: ReportFilters, *, totals: Totals | None = None) -> dict:
    """Follow-up service connections created in range (by `FollowUp.created_at`, whole days in
    the program's zone).

    - `connected`: follow-ups that are connected now, or closed with reason `engaged`.
    - `connection_rate` = connected / created (None when none were created).
    - `first_contact`: time from creation to the first contact attempt (whatever its result),
      over the follow-ups that have one; median and 90th percentile in seconds, on the grid.
    With a source, call-type or unit filter, only follow-ups from a call that matches count.
    """
    totals = totals or range_totals(filters)
    created = totals.follow_ups
    return {
        "created": created,
        "connected": totals.connected,
        "connection_rate": totals.connected / created if created else None,
        "first_contact": asdict(Spread.of(totals.first_contact)),
    }


def referrals_summary(filters: ReportFilters, *, totals: Totals | None = None) -> dict:
    """Police referrals filed in range (by `created_at`), by urgency and the program's working
    state. The call-type filter applies; source and unit do not."""
    totals = totals or range_totals(filters)
    urgency = dict(PoliceReferral.Urgency.choices)
    states = dict(PoliceReferral.State.choices)
    by_state = [
        (f"{urgency[u].split(':')[0]} · {states[s]}", n) for (u, s), n in sorted(totals.referrals.items())
    ]
    return {"total": sum(totals.referrals.values()), "by_state": by_state}


def dashboard(filters: ReportFilters, *, totals: Totals | None = None) -> dict:
    """Every section of the supervisor dashboard, for one range and set of filters."""
    totals = totals or range_totals(filters)
    return {
        "calls": calls_summary(filters, totals=totals),
        "response_times": response_times(filters, totals=totals),
        "outcomes": outcomes_summary(filters, totals=totals),
        "encounters": encounters_summary(filters, totals=totals),
        "follow_ups": follow_ups_summary(filters, totals=totals),
        "referrals": referrals_summary(filters, totals=totals),
    }


def dashboard_with_trend(filters: ReportFilters) -> tuple[dict, list[dict]]:
    """The dashboard's sections and its weekly trend, from one reading of the range's days
    (days_totals, one snapshot): the range's sums are the sum of its days' (a call counts on one
    day), so the range is not read a second time through its kept months, nor today twice."""
    weeks = _weeks(days_totals(filters))
    totals = Totals()
    for _first, _last, week in weeks:
        totals.add(week)
    return dashboard(filters, totals=totals), _trend(weeks)


# --- Programs side by side -----------------------------------------------------------------------
# The state's comparison: one definition per row, the same for every program, each program's
# numbers from its own calls, its range drawn on its own clock. (key, label, definition)
PROGRAM_MEASURES = (
    ("calls", "Calls", "Calls received in range, every source but self-initiated encounters."),
    (
        "eligible_served",
        "Eligible calls served",
        "Calls screened eligible that a team reached on scene, of the calls screened eligible.",
    ),
    *(
        (f"duration:{key}", label, "Median and 90th percentile over the assignments with both steps.")
        for key, label, *_ in DURATIONS
    ),
    (
        "backup_rate",
        "Police backup rate",
        "Dispatched calls where the team needed police (backup requested, or an arrest), "
        "of the calls dispatched.",
    ),
    (
        "follow_up_connection",
        "Follow-up connection rate",
        "Follow-ups created in range that are connected, or closed engaged, of those created.",
    ),
)


def programs_measures(many: list[ReportFilters]) -> list[dict]:
    """program_measures of each filters (each narrowed to one program by program_scope, a
    program once), their sums read together (programs_range_totals): the same numbers, in a
    number of queries that does not grow with the programs."""
    return [
        program_measures(filters, totals=totals)
        for filters, totals in zip(many, programs_range_totals(many), strict=True)
    ]


def program_measures(filters: ReportFilters, *, totals: Totals | None = None) -> dict:
    """One program's values of PROGRAM_MEASURES (filters narrowed to it by program_scope): each
    a dict with `part`/`whole`/`share` for rates, `count`/`median`/`p90` for durations, `value`
    for counts. Read as the dashboard reads it, from the same sums."""
    totals = totals or range_totals(filters)
    calls = calls_summary(filters, totals=totals)
    outcomes = outcomes_summary(filters, totals=totals)
    follow_ups = follow_ups_summary(filters, totals=totals)
    values = {
        "calls": {"value": calls["total"]},
        "eligible_served": {
            "part": calls["eligible_served"],
            "whole": calls["eligible"],
            "share": calls["served_share"],
        },
        "backup_rate": {
            "part": outcomes["backup_calls"],
            "whole": outcomes["dispatched"],
            "share": outcomes["backup_rate"],
        },
        "follow_up_connection": {
            "part": follow_ups["connected"],
            "whole": follow_ups["created"],
            "share": follow_ups["connection_rate"],
        },
    }
    for row in response_times(filters, totals=totals):
        values[f"duration:{row['key']}"] = {"count": row["count"], "median": row["median"], "p90": row["p90"]}
    return values


# --- Over time -----------------------------------------------------------------------------------
# The response time the trend follows: the caller's wait, from the call to a team on scene.
TREND_DURATION = "received_to_on_scene"


def weekly_trend(filters: ReportFilters, *, days: dict | None = None) -> list[dict]:
    """The range week by week (Monday to Sunday; the first and last weeks cut to the range,
    `whole` says which are not), each week the sum of its days' kept sums:

    - `calls` and `by_source` [(source label, calls)], in the sources' own order, as
      calls_summary counts them (encounters apart);
    - `eligible`, `eligible_served` and `served_share`, as calls_summary defines them;
    - `response`: count, median and 90th percentile of TREND_DURATION (received → on scene),
      in seconds on the grid, as response_times measures them.
    """
    return _trend(_weeks(days if days is not None else days_totals(filters)))


def _weeks(days: dict[date, Totals]) -> list[tuple[date, date, Totals]]:
    """The days' sums added up week by week: (first day, last day, sums)."""
    weeks: list[tuple[date, date, Totals]] = []
    for day in sorted(days):
        monday = day - timedelta(days=day.weekday())
        if not weeks or weeks[-1][0] - timedelta(days=weeks[-1][0].weekday()) != monday:
            weeks.append((day, day, Totals()))
        first, _last, totals = weeks[-1]
        weeks[-1] = (first, day, totals.add(days[day]))
    return weeks


def _trend(weeks: list[tuple[date, date, Totals]]) -> list[dict]:
    labels = dict(Incident.Source.choices)
    trend = []
    for first, last, totals in weeks:
        eligible = sum(n for (_code, is_eligible, _reasons), n in totals.types.items() if is_eligible)
        trend.append(
            {
                "first": first,
                "last": last,
                "whole": (last - first).days == 6,
                "calls": sum(totals.sources.values()),
                "by_source": [(labels[s], totals.sources[s]) for s in labels if totals.sources.get(s)],
                "eligible": eligible,
                "eligible_served": totals.eligible_served,
                "served_share": totals.eligible_served / eligible if eligible else None,
                "response": asdict(Spread.of(totals.durations[TREND_DURATION])),
            }
        )
    return trend


def month_filters(month: date, *, today: date) -> ReportFilters:
    """A calendar month as the printed report covers it: the whole month, or up to today for
    the month under way."""
    first = month.replace(day=1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return ReportFilters(start=first, end=min(last, today))


# --- Call-type analysis ---------------------------------------------------------------------------
SAFETY_REASONS = frozenset(DISQUALIFIERS)
REASONS = (*DISQUALIFIERS, "call_type_not_eligible", "unknown_call_type", "screening_incomplete")


def call_type_analysis(filters: ReportFilters, *, totals: Totals | None = None) -> list[dict]:
    """For each CAD call type: calls in, screened eligible, how many calls each reason removed
    (a call can carry several reasons, so these may add up to more than the ineligible calls),
    and how many were served (an assignment reached on scene).

    `could_grow`: calls with no safety disqualifier (weapons, violence, medical emergency,
    police-only) that were not served: removed only by the catalogue, an unknown code or an
    incomplete screening, or eligible but never reached. Sorted by it, largest first: where a
    program could grow by widening its catalogue, finishing screening or adding units.
    """
    totals = totals or range_totals(filters)
    table: dict[str, dict] = {}

    def entry(code):
        return table.setdefault(
            code,
            {
                "code": code,
                "calls": 0,
                "eligible": 0,
                "served": 0,
                "could_grow": 0,
                "reasons": dict.fromkeys(REASONS, 0),
            },
        )

    for (code, eligible, reasons), n in totals.types.items():
        row = entry(code)
        row["calls"] += n
        row["eligible"] += n if eligible else 0
        for reason in reasons:
            row["reasons"][reason] = row["reasons"].get(reason, 0) + n
        if not SAFETY_REASONS.intersection(reasons):
            row["could_grow"] += n
    for (code, reasons), n in totals.served_types.items():
        row = entry(code)
        row["served"] += n
        if not SAFETY_REASONS.intersection(reasons):
            row["could_grow"] -= n
    return sorted(table.values(), key=lambda e: (-e["could_grow"], -e["calls"], e["code"]))


REASON_COLUMNS = [(reason, REASON_LABELS[reason]) for reason in REASONS]
