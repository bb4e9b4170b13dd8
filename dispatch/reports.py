"""The program's numbers: every metric the supervisor dashboard, the call-type analysis and the
exports show is computed here, and only here. Pure reads.

Scope, for every metric unless its docstring says otherwise:
- The range is a span of whole days in the program's TIME_ZONE, first and last day included,
  applied to when a call was *received* (`Incident.received_at`): a call received on the last
  evening of the month and cleared the next morning belongs to that month, with all its
  assignments and its outcome.
- A *call* is an incident from any source except `self_initiated`. Self-initiated encounters
  (the team stopped for someone) are counted apart and never enter a call metric.
- Filters: `source` and `call_type` (the code as the CAD sent it) narrow the incidents;
  `unit` narrows the calls to those the unit was assigned to, and the assignment-level
  metrics (response times, time on scene, outcomes) to that unit's own assignments.

The number of queries per page does not depend on the amount of data: each section is one
grouped or aggregate query, and the grouping keys (sources, codes, dispositions, reason
combinations) are small sets.
"""

import math
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Aggregate, Count, F, FloatField, Func, Min, Q
from django.utils import timezone

from dispatch.models import Assignment, Incident
from dispatch.screening import DISQUALIFIERS, REASON_LABELS
from field.models import BackupRequest, Outcome
from referrals.models import FollowUp, PoliceReferral

DEFAULT_DAYS = 30
PERCENTILES = (0.5, 0.9)
SELF_INITIATED = Incident.Source.SELF_INITIATED
POLICE_BACKUP_INVOLVEMENT = (Outcome.PoliceInvolvement.BACKUP_REQUESTED, Outcome.PoliceInvolvement.ARREST)

# The response-time definitions programs use (PRODUCT.md), plus time on scene: (key, label, start, end).
# Each is measured per assignment that has both timestamps; fields are on Assignment, except
# `incident__received_at`.
DURATIONS = (
    ("received_to_dispatched", "Received → dispatched", "incident__received_at", "dispatched_at"),
    ("dispatched_to_on_scene", "Dispatched → on scene", "dispatched_at", "on_scene_at"),
    ("en_route_to_on_scene", "En route → on scene", "en_route_at", "on_scene_at"),
    ("received_to_on_scene", "Received → on scene", "incident__received_at", "on_scene_at"),
    ("time_on_scene", "Time on scene (on scene → cleared)", "on_scene_at", "cleared_at"),
)


# --- The range and the filters --------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFilters:
    start: date
    end: date  # inclusive
    source: str = ""
    call_type: str = ""
    unit_id: int | None = None

    @classmethod
    def default(cls) -> "ReportFilters":
        """The last 30 days, today included, in the program's time zone."""
        today = timezone.localdate(timezone=program_zone())
        return cls(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start of the first day, start of the day after the last day) in the program's zone."""
        zone = program_zone()
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone),
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return {k: v for k, v in data.items() if v not in ("", None)}


def program_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def incidents_in_range(filters: ReportFilters):
    """Incidents received in the range, of every source, narrowed by the filters."""
    low, high = filters.bounds()
    return _narrow(Incident.objects.filter(received_at__gte=low, received_at__lt=high), filters, bounded=True)


def _narrow(qs, filters: ReportFilters, *, bounded: bool = False):
    """Apply the source, call-type and unit filters to incidents. The unit's assignments are
    looked up within the range when `bounded`, so the database reads only that range's."""
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.call_type:
        qs = qs.filter(call_type_code=filters.call_type)
    if filters.unit_id:
        units = Assignment.objects.filter(unit_id=filters.unit_id)
        if bounded:
            low, high = filters.bounds()
            units = units.filter(incident__received_at__gte=low, incident__received_at__lt=high)
        qs = qs.filter(pk__in=units.values("incident_id"))
    return qs


def calls_in_range(filters: ReportFilters):
    return incidents_in_range(filters).exclude(source=SELF_INITIATED)


# Nothing happens to a call before it is received: an assignment is dispatched, a backup requested
# and an outcome recorded after received_at. Each table's own timestamp (indexed) may therefore be
# bounded below by the range's start, less a day of slack for a sender's clock; the database can
# then skip the years before the range without changing the answer.
CLOCK_SLACK = timedelta(days=1)


def _scoped(
    qs,
    filters: ReportFilters,
    *,
    to_assignment: str = "",
    encounters: bool | None = False,
    after: str = "dispatched_at",
):
    """Assignments (or rows reached from them: `to_assignment` is the path, e.g. "assignment__")
    whose incident was received in range, narrowed by the filters; with a unit filter, that
    unit's own assignments. `encounters`: False for calls, True for encounters, None for both.
    Written as joins from the range, so the database reads only the range's rows."""
    low, high = filters.bounds()
    incident = f"{to_assignment}incident__"
    qs = qs.filter(**{f"{incident}received_at__gte": low, f"{incident}received_at__lt": high})
    qs = qs.filter(**{f"{after}__gte": low - CLOCK_SLACK})
    if to_assignment:
        qs = qs.filter(**{f"{to_assignment}dispatched_at__gte": low - CLOCK_SLACK})
    if encounters is True:
        qs = qs.filter(**{f"{incident}source": SELF_INITIATED})
    elif encounters is False:
        qs = qs.exclude(**{f"{incident}source": SELF_INITIATED})
    if filters.source:
        qs = qs.filter(**{f"{incident}source": filters.source})
    if filters.call_type:
        qs = qs.filter(**{f"{incident}call_type_code": filters.call_type})
    if filters.unit_id:
        qs = qs.filter(**{f"{to_assignment}unit_id": filters.unit_id})
    return qs


def _assignments(filters: ReportFilters, *, encounters: bool | None = False):
    return _scoped(Assignment.objects.all(), filters, encounters=encounters)


# --- Percentiles: in the database on PostgreSQL, in Python elsewhere ------------------------------
class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: percentile_cont(ARRAY[...]) WITHIN GROUP (ORDER BY x).
    One sort answers every fraction asked; NULL inputs are ignored."""

    function = "percentile_cont"
    template = "%(function)s(ARRAY[%(fractions)s]::float8[]) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fractions=PERCENTILES, **extra):
        fractions_sql = ", ".join(repr(float(f)) for f in fractions)
        super().__init__(expression, fractions=fractions_sql, **extra)

    def convert_value(self, value, expression, connection):
        return value  # a list of floats, or None for no rows

    def get_db_converters(self, connection):
        return []


class EpochSeconds(Func):
    """Seconds between two timestamps, as a float (PostgreSQL)."""

    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    arg_joiner = " - "
    output_field = FloatField()


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The same answer as PostgreSQL's percentile_cont: linear interpolation between the two
    nearest ranks of the sorted values (position fraction × (n − 1))."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    """How long something took: how many were measured, the median and the 90th percentile (seconds)."""

    count: int
    median: float | None
    p90: float | None


def _spread_from_values(values: list[float]) -> Spread:
    values = sorted(values)
    return Spread(len(values), percentile_cont(values, 0.5), percentile_cont(values, 0.9))


def _use_database_percentiles(engine: str | None) -> bool:
    if engine is None:
        return connection.vendor == "postgresql"
    if engine == "database" and connection.vendor != "postgresql":
        raise ValueError("Percentiles in the database need PostgreSQL.")
    return engine == "database"


# --- Calls ----------------------------------------------------------------------------------------
def _call_totals(filters: ReportFilters, *, with_times: bool) -> dict:
    """One pass over the calls' assignments for everything counted on them: distinct calls
    dispatched, served, eligible served and needing police backup, and (with_times, PostgreSQL
    only) the percentiles of every duration. The dashboard asks once and shares the answer, so
    the year's assignments are read once, not three times."""
    on_scene = Q(on_scene_at__isnull=False)
    police_backup = BackupRequest.objects.filter(kind=BackupRequest.Kind.POLICE)
    aggregates = {
        "dispatched": Count("incident_id", distinct=True),
        "served": Count("incident_id", distinct=True, filter=on_scene),
        "eligible_served": Count("incident_id", distinct=True, filter=on_scene & Q(incident__eligible=True)),
        "backup_calls": Count(
            "incident_id",
            distinct=True,
            filter=Q(outcome__police_involvement__in=POLICE_BACKUP_INVOLVEMENT)
            | Q(
                pk__in=_scoped(
                    police_backup, filters, to_assignment="assignment__", after="requested_at"
                ).values("assignment_id")
            ),
        ),
    }
    if with_times:
        for key, _label, start, end in DURATIONS:
            aggregates[f"{key}__p"] = PercentileCont(EpochSeconds(F(end), F(start)))
            aggregates[f"{key}__n"] = Count(
                "pk", filter=Q(**{f"{start}__isnull": False, f"{end}__isnull": False})
            )
    return _assignments(filters).aggregate(**aggregates)


def calls_summary(filters: ReportFilters, *, totals: dict | None = None) -> dict:
    """Counts of the calls received in range, by source, call type and eligibility.

    - `dispatched`: calls with at least one assignment (of the filtered unit, if one is set).
    - `served`: calls with an assignment that reached on scene; `eligible_served` the eligible
      ones among them; `served_share` = eligible_served / eligible (None when no call was
      eligible): the share of eligible calls actually served.
    Two queries: the incidents grouped by (source, code, eligible), and the calls' assignments.
    """
    rows = (
        calls_in_range(filters)
        .values_list("source", "call_type_code", "eligible")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_source, by_type = Counter(), Counter()
    total = eligible = 0
    for source, code, is_eligible, n in rows:
        total += n
        by_source[source] += n
        by_type[code] += n
        eligible += n if is_eligible else 0
    totals = totals or _call_totals(filters, with_times=False)
    reached = {key: totals[key] for key in ("dispatched", "served", "eligible_served")}
    labels = dict(Incident.Source.choices)
    return {
        "total": total,
        "eligible": eligible,
        **reached,
        "served_share": reached["eligible_served"] / eligible if eligible else None,
        "by_source": [(labels.get(s, s), n) for s, n in by_source.most_common()],
        "by_call_type": sorted(by_type.items(), key=lambda item: (-item[1], item[0])),
    }


def response_times(
    filters: ReportFilters, *, engine: str | None = None, totals: dict | None = None
) -> list[dict]:
    """Median and 90th percentile of each response-time definition and of time on scene, over
    the assignments of the calls in range (each assignment with both timestamps counts once; a
    call sent to two units in turn counts twice). Seconds.

    `engine`: None picks the database on PostgreSQL and Python elsewhere; "database" or
    "python" force one (the tests compare them)."""
    qs = _assignments(filters, encounters=False)
    if _use_database_percentiles(engine):
        row = totals if totals and "time_on_scene__p" in totals else _call_totals(filters, with_times=True)
        spreads = {
            key: Spread(row[f"{key}__n"], *(row[f"{key}__p"] or (None, None))) for key, *_ in DURATIONS
        }
    else:
        fields = sorted({f for *_, start, end in DURATIONS for f in (start, end)})
        values = defaultdict(list)
        for record in qs.values(*fields).iterator(chunk_size=5000):
            for key, _label, start, end in DURATIONS:
                if record[start] is not None and record[end] is not None:
                    values[key].append((record[end] - record[start]).total_seconds())
        spreads = {key: _spread_from_values(values[key]) for key, *_ in DURATIONS}
    return [{"key": key, "label": label, **asdict(spreads[key])} for key, label, *_ in DURATIONS]


def outcomes_summary(filters: ReportFilters, *, totals: dict | None = None) -> dict:
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
    totals = totals or _call_totals(filters, with_times=False)
    dispositions, transports, arrests = _outcome_counts(filters, encounters=False)
    labels = dict(Outcome.Disposition.choices)
    dispatched = totals["dispatched"]
    return {
        "dispatched": dispatched,
        "backup_calls": totals["backup_calls"],
        "backup_rate": totals["backup_calls"] / dispatched if dispatched else None,
        "arrests": arrests,
        "recorded": sum(dispositions.values()),
        "by_disposition": [(labels.get(d, d), n) for d, n in dispositions.most_common()],
        "transports": sorted(transports.items(), key=lambda item: (-item[1], item[0])),
    }


def _outcome_counts(filters: ReportFilters, *, encounters: bool) -> tuple[Counter, Counter, int]:
    rows = (
        _scoped(
            # self_initiated is the incident's source, stored on the outcome: with recorded_at it
            # lets the database start from the outcome_kind_recorded index.
            Outcome.objects.filter(self_initiated=encounters),
            filters,
            to_assignment="assignment__",
            encounters=encounters,
            after="recorded_at",
        )
        .values_list("disposition", "transport_destination", "police_involvement")
        .annotate(n=Count("pk"))
        .order_by()
    )
    dispositions, transports = Counter(), Counter()
    arrests = 0
    for disposition, destination, police, n in rows:
        dispositions[disposition] += n
        if destination:
            transports[destination] += n
        if police == Outcome.PoliceInvolvement.ARREST:
            arrests += n
    return dispositions, transports, arrests


def encounters_summary(filters: ReportFilters) -> dict:
    """Self-initiated encounters received in range, kept apart from calls: how many, and their
    outcomes by disposition ("Not recorded yet" for an encounter without one). A source filter
    other than self-initiated leaves none."""
    if filters.source and filters.source != SELF_INITIATED:
        return {"total": 0, "by_disposition": [], "arrests": 0}
    total = _assignments(filters, encounters=True).aggregate(n=Count("incident_id", distinct=True))["n"]
    dispositions, _transports, arrests = _outcome_counts(filters, encounters=True)
    labels = dict(Outcome.Disposition.choices)
    by_disposition = [(labels.get(d, d), n) for d, n in dispositions.most_common()]
    missing = total - sum(dispositions.values())
    if missing > 0:
        by_disposition.append(("Not recorded yet", missing))
    return {"total": total, "by_disposition": by_disposition, "arrests": arrests}


# --- After the scene ------------------------------------------------------------------------------
def follow_ups_summary(filters: ReportFilters, *, engine: str | None = None) -> dict:
    """Follow-up service connections created in range (by `FollowUp.created_at`, whole days in
    the program's zone).

    - `connected`: follow-ups that are connected now, or closed with reason `engaged`.
    - `connection_rate` = connected / created (None when none were created).
    - `first_contact`: time from creation to the first contact attempt (whatever its result),
      over the follow-ups that have one; median and 90th percentile in seconds.
    With a source, call-type or unit filter, only follow-ups from a call that matches count.
    """
    low, high = filters.bounds()
    qs = FollowUp.objects.filter(created_at__gte=low, created_at__lt=high)
    if filters.source or filters.call_type or filters.unit_id:
        qs = qs.filter(incident__in=_narrow(Incident.objects.all(), filters).values("pk"))
    connected = Q(status=FollowUp.Status.CONNECTED) | Q(
        status=FollowUp.Status.CLOSED, close_reason=FollowUp.CloseReason.ENGAGED
    )
    totals = qs.aggregate(created=Count("pk"), connected=Count("pk", filter=connected))
    with_first = qs.annotate(first_attempt=Min("attempts__at")).filter(first_attempt__isnull=False)
    if _use_database_percentiles(engine):
        row = with_first.aggregate(
            n=Count("pk"), p=PercentileCont(EpochSeconds(F("first_attempt"), F("created_at")))
        )
        first_contact = Spread(row["n"], *(row["p"] or (None, None)))
    else:
        first_contact = _spread_from_values(
            [
                (first - created).total_seconds()
                for created, first in with_first.values_list("created_at", "first_attempt")
            ]
        )
    created = totals["created"]
    return {
        "created": created,
        "connected": totals["connected"],
        "connection_rate": totals["connected"] / created if created else None,
        "first_contact": asdict(first_contact),
    }


def referrals_summary(filters: ReportFilters) -> dict:
    """Police referrals filed in range (by `created_at`), by urgency and the program's working
    state. The call-type filter applies; source and unit do not (a referral is its own source
    and is often not a unit's yet)."""
    low, high = filters.bounds()
    qs = PoliceReferral.objects.filter(created_at__gte=low, created_at__lt=high)
    if filters.call_type:
        qs = qs.filter(call_type_code=filters.call_type)
    rows = qs.values_list("urgency", "state").annotate(n=Count("pk")).order_by("urgency", "state")
    urgency = dict(PoliceReferral.Urgency.choices)
    states = dict(PoliceReferral.State.choices)
    by_state = [(f"{urgency[u].split(':')[0]} · {states[s]}", n) for u, s, n in rows]
    return {"total": sum(n for *_, n in rows), "by_state": by_state}


@contextmanager
def report_snapshot():
    """Read a whole report in one transaction. On PostgreSQL: one REPEATABLE READ, READ ONLY
    snapshot, so the sections add up even while calls keep coming in, and a larger work_mem
    (REPORT_WORK_MEM) for this transaction only, so a year's sorts and hashes stay in memory
    instead of spilling to temporary files."""
    outer = connection.in_atomic_block  # a snapshot can only be chosen by the outermost transaction
    with transaction.atomic():
        if connection.vendor == "postgresql":
            statements = []
            if not outer:
                statements.append("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            work_mem = getattr(settings, "REPORT_WORK_MEM", "64MB")
            statements.append(f"SET LOCAL work_mem = '{int(work_mem.rstrip('MB'))}MB'")
            with connection.cursor() as cursor:
                cursor.execute("; ".join(statements))
        yield


def dashboard(filters: ReportFilters) -> dict:
    """Every section of the supervisor dashboard, for one range and set of filters."""
    with report_snapshot():
        return _dashboard(filters)


def _dashboard(filters: ReportFilters) -> dict:
    totals = _call_totals(filters, with_times=_use_database_percentiles(None))
    return {
        "calls": calls_summary(filters, totals=totals),
        "response_times": response_times(filters, totals=totals),
        "outcomes": outcomes_summary(filters, totals=totals),
        "encounters": encounters_summary(filters),
        "follow_ups": follow_ups_summary(filters),
        "referrals": referrals_summary(filters),
    }


# --- Call-type analysis ---------------------------------------------------------------------------
SAFETY_REASONS = frozenset(DISQUALIFIERS)
REASONS = (*DISQUALIFIERS, "call_type_not_eligible", "unknown_call_type", "screening_incomplete")


def call_type_analysis(filters: ReportFilters) -> list[dict]:
    """The call-type table (see _call_type_analysis), read in one snapshot."""
    with report_snapshot():
        return _call_type_analysis(filters)


def _call_type_analysis(filters: ReportFilters) -> list[dict]:
    """For each CAD call type: calls in, screened eligible, how many calls each reason removed
    (a call can carry several reasons, so these may add up to more than the ineligible calls),
    and how many were served (an assignment reached on scene).

    `could_grow`: calls with no safety disqualifier (weapons, violence, medical emergency,
    police-only) that were not served: removed only by the catalogue, an unknown code or an
    incomplete screening, or eligible but never reached. Sorted by it, largest first: where a
    program could grow by widening its catalogue, finishing screening or adding units.
    Two grouped queries, on (code, reasons, eligible) and on (code, reasons) for the served.
    """
    rows = (
        calls_in_range(filters)
        .values_list("call_type_code", "eligibility_reasons", "eligible")
        .annotate(n=Count("pk"))
        .order_by()
    )
    served_rows = (
        _assignments(filters)
        .filter(on_scene_at__isnull=False)
        .values_list("incident__call_type_code", "incident__eligibility_reasons")
        .annotate(n=Count("incident_id", distinct=True))
        .order_by()
    )
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

    for code, reasons, eligible, n in rows:
        row = entry(code)
        row["calls"] += n
        row["eligible"] += n if eligible else 0
        for reason in reasons or []:
            row["reasons"][reason] = row["reasons"].get(reason, 0) + n
        if not SAFETY_REASONS.intersection(reasons or []):
            row["could_grow"] += n
    for code, reasons, n in served_rows:
        row = entry(code)
        row["served"] += n
        if not SAFETY_REASONS.intersection(reasons or []):
            row["could_grow"] -= n
    return sorted(table.values(), key=lambda e: (-e["could_grow"], -e["calls"], e["code"]))


REASON_COLUMNS = [(reason, REASON_LABELS[reason]) for reason in REASONS]
