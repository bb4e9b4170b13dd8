"""The program's numbers: every metric the supervisor dashboard, the call-type analysis and the
exports show is computed here, and only here.

Scope, for every metric unless its docstring says otherwise:
- The range is a span of whole days in the program's own time zone (`Program.time_zone`; for a
  report over the whole deployment, settings.TIME_ZONE), first and last day included,
  applied to when a call was *received* (`Incident.received_at`): a call received on the last
  evening of the month and cleared the next morning belongs to that month, with all its
  assignments and its outcome. Follow-ups and police referrals count on the day they were created.
- A *call* is an incident from any source except `self_initiated`. Self-initiated encounters
  (the team stopped for someone) are counted apart and never enter a call metric.
- Filters: `source` and `call_type` (the code as the CAD sent it) narrow the incidents;
  `unit` narrows the calls to those the unit was assigned to, and the assignment-level
  metrics (response times, time on scene, outcomes) to that unit's own assignments.
- Durations are measured to the second and counted on a grid (`on_grid`): to the second under
  two minutes, to 10 s under 20 minutes, to the minute under two hours, to 10 minutes under a
  day, to the hour beyond. Medians and 90th percentiles are those of the durations on the grid
  (PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks).

How a year stays fast: every number is a sum over days. A range's sums (`Totals`) are read from
the records in a fixed number of grouped queries, whatever the amount of data. Once read, the
sums of each day that is over (two days back and older) and of each whole calendar month are
kept in `ReportSums`, per facet (every call, or one combination of filters), so a year adds up
about a dozen kept months and the days at its edges, and reads only the last two days from the
records. Kept sums are used only while nothing their days' numbers depend on has changed:
every save or delete of an incident, assignment, outcome, backup request, follow-up, contact
attempt or police referral raises the version of the day it counts on (`days_changed`, wired
in dispatch.reports.signals), in the same transaction as the change.

How a facet is never cold: under the kept sums, each settled day of each program is kept ahead
of time as day cells (`ReportCell`, dispatch.reports.sums), one whole Totals per source (or
any), call type (or any) and unit (or every unit), so the days a facet has not kept yet are
added up from one cell a day. A cell holds what the filters above count, exactly: a unit's cell
its calls and its own assignments; a filtered cell only the follow-ups of the program's own
calls (those of no call count only in the unfiltered cell), and no police referrals but in the
call-type cells of any source and unit (referrals follow the call-type filter only). The same
write that raises a day's version marks that day of its program (`ReportMark`); a reader
computes the marked days of its range before its snapshot, and reads a day marked after that
from the records, within the snapshot.
"""

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Func, IntegerField, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from dispatch.models import Assignment, Incident
from field.models import BackupRequest, Outcome
from referrals.models import FollowUp, PoliceReferral

DEFAULT_DAYS = 30
SELF_INITIATED = Incident.Source.SELF_INITIATED
POLICE_BACKUP_INVOLVEMENT = (Outcome.PoliceInvolvement.BACKUP_REQUESTED, Outcome.PoliceInvolvement.ARREST)
# Days this many days before today and older are kept once read; younger ones are read each time.
# Writers raise the version of every day but today, so a change that commits around midnight
# is never missed by a day being stored.
SETTLED_AFTER_DAYS = 2

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
    # The programs reported on (ids; the caller's, dispatch.roles.program_ids_for); None:
    # every program. Kept sums are per program (dispatch.reports.sums adds them up).
    program_ids: tuple[int, ...] | None = None
    # The clock the days are drawn on (an IANA name): one program's own (program_scope), or ""
    # for the deployment's (settings.TIME_ZONE), as a report of several programs is.
    time_zone: str = ""

    @classmethod
    def default(cls, program=None) -> "ReportFilters":
        """The last 30 days, today included, in the program's time zone."""
        scope = cls.program_scope(program)
        today = program_today(ZoneInfo(scope.get("time_zone") or settings.TIME_ZONE))
        return cls(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today, **scope)

    @staticmethod
    def program_scope(program) -> dict:
        """The filters' fields that narrow them to `program` (a Program, or None: no narrowing)."""
        if program is None:
            return {}
        return {"program_ids": (program.pk,), "time_zone": program.time_zone}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone or settings.TIME_ZONE)

    def today(self) -> date:
        return program_today(self.zone)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start of the first day, start of the day after the last day) in the program's zone."""
        return day_bounds(self.start, self.end, self.zone)

    @property
    def narrowed(self) -> bool:
        return bool(self.source or self.call_type or self.unit_id)

    @property
    def facet(self) -> str:
        """Which sums the filters ask for: "" for every call, else the filters, in one order."""
        # Programs are kept apart by ReportSums.program; a program's own clock, when it is not
        # the deployment's, draws other days: those sums are kept apart too.
        zone = self.time_zone if self.time_zone not in ("", settings.TIME_ZONE) else ""
        parts = [
            ("zone", zone),
            ("source", self.source),
            ("call_type", self.call_type),
            ("unit", self.unit_id or ""),
        ]
        return "&".join(f"{name}={value}" for name, value in parts if value)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return {k: v for k, v in data.items() if v not in ("", None)}


def program_zone() -> ZoneInfo:
    """The deployment's own zone (settings.TIME_ZONE): a program's is ReportFilters.zone."""
    return ZoneInfo(settings.TIME_ZONE)


def program_today(zone: ZoneInfo | None = None) -> date:
    return timezone.localdate(timezone=zone or program_zone())


def day_bounds(first: date, last: date, zone: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    zone = zone or program_zone()
    return (
        datetime.combine(first, time.min, tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
    )


def incidents_in_range(filters: ReportFilters):
    """Incidents received in the range, of every source, narrowed by the filters."""
    low, high = filters.bounds()
    return _narrow(Incident.objects.filter(received_at__gte=low, received_at__lt=high), filters, bounded=True)


def _narrow(qs, filters: ReportFilters, *, bounded: bool = False):
    """Apply the source, call-type and unit filters to incidents. The unit's assignments are
    looked up within the range when `bounded`, so the database reads only that range's."""
    if filters.program_ids is not None:
        qs = qs.filter(program_id__in=filters.program_ids)
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


# --- Durations on a grid --------------------------------------------------------------------------
# (below this many seconds, step); the last step applies beyond.
GRID = ((120, 1), (1200, 10), (7200, 60), (86400, 600), (None, 3600))


def on_grid(seconds: float) -> int:
    """A duration rounded to the nearest point of the grid (halves up), in seconds."""
    for below, step in GRID:
        if below is None or seconds < below:
            return int((seconds / step + 0.5) // 1) * step
    raise AssertionError("unreachable")


class GridSeconds(Func):
    """`on_grid(end - start)` in SQL, the same answer on PostgreSQL and SQLite."""

    output_field = IntegerField()
    SECONDS = "__seconds__"
    arity = 2  # end, start

    def _sql(self, compiler, seconds_template: str, floor: str):
        (end_sql, end_params), (start_sql, start_params) = (
            compiler.compile(expr) for expr in self.source_expressions
        )
        cases = []
        for below, step in GRID:
            rounded = floor.format(f"({self.SECONDS}) / {float(step)} + 0.5") + f" * {step}"
            cases.append(
                f"ELSE {rounded}" if below is None else f"WHEN ({self.SECONDS}) < {below} THEN {rounded}"
            )
        sql = f"(CASE {' '.join(cases)} END)"
        # Every use of the duration repeats its parameters, in order.
        params = [*end_params, *start_params] * sql.count(self.SECONDS)
        return sql.replace(self.SECONDS, seconds_template.format(end=end_sql, start=start_sql)), params

    def as_postgresql(self, compiler, connection, **extra):
        return self._sql(compiler, "EXTRACT(EPOCH FROM ({end} - {start}))", "CAST(FLOOR({}) AS integer)")

    def as_sqlite(self, compiler, connection, **extra):
        # Django's own timestamp difference (microseconds, exact); CAST truncates, so floor the
        # negative side too.
        return self._sql(
            compiler,
            "(django_timestamp_diff({end}, {start}) / 1000000.0)",
            "(CAST({0} AS INTEGER) - (CAST({0} AS INTEGER) > {0}))",
        )

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(f"GridSeconds needs PostgreSQL or SQLite, not {connection.vendor}.")


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks of the
    sorted values (position fraction × (n − 1))."""
    return histogram_percentile(Counter(values), fraction)


def histogram_percentile(histogram: Counter, fraction: float) -> float | None:
    """percentile_cont over the values a histogram {value: how many} holds."""
    n = sum(histogram.values())
    if not n:
        return None
    position = fraction * (n - 1)
    low_rank, high_rank = int(position // 1), -int(-position // 1)
    low = high = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if low is None and seen > low_rank:
            low = value
        if seen > high_rank:
            high = value
            break
    return low + (high - low) * (position - low_rank)


@dataclass(frozen=True)
class Spread:
    """How long something took: how many were measured, the median and the 90th percentile (seconds)."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, histogram: Counter) -> "Spread":
        return cls(
            sum(histogram.values()),
            histogram_percentile(histogram, 0.5),
            histogram_percentile(histogram, 0.9),
        )


# --- One range's sums -----------------------------------------------------------------------------
NUMBERS = ("dispatched", "served", "eligible_served", "backup_calls", "encounters", "follow_ups", "connected")


@dataclass
class Totals:
    """Everything the reports count, for calls received (follow-ups and referrals created) in a
    span of days. Sums of two spans are the sums of their union: a call is counted on one day."""

    sources: Counter = field(default_factory=Counter)  # source → calls
    types: Counter = field(default_factory=Counter)  # (code, eligible, reasons) → calls
    dispatched: int = 0  # calls with an assignment
    served: int = 0  # calls with an assignment that reached on scene
    eligible_served: int = 0
    backup_calls: int = 0  # dispatched calls where the team needed police
    encounters: int = 0  # self-initiated encounters with an assignment
    served_types: Counter = field(default_factory=Counter)  # (code, reasons) → served calls
    durations: dict = field(default_factory=lambda: {key: Counter() for key, *_ in DURATIONS})
    outcomes: Counter = field(default_factory=Counter)  # (encounter, disposition, destination, police)
    follow_ups: int = 0
    connected: int = 0
    first_contact: Counter = field(default_factory=Counter)  # seconds on the grid → follow-ups
    referrals: Counter = field(default_factory=Counter)  # (urgency, state) → referrals

    def add(self, other: "Totals") -> "Totals":
        for name in NUMBERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("sources", "types", "served_types", "outcomes", "first_contact", "referrals"):
            getattr(self, name).update(getattr(other, name))
        for key, histogram in other.durations.items():
            self.durations[key].update(histogram)
        return self

    def dumps(self) -> str:
        """Compact JSON: plain lists (JSON has no tuple keys), histograms as flat value, count
        pairs. add_json reads it back."""
        data = {
            "numbers": [getattr(self, name) for name in NUMBERS],
            "sources": list(self.sources.items()),
            "types": [
                [code, eligible, list(reasons), n] for (code, eligible, reasons), n in self.types.items()
            ],
            "served_types": [[code, list(reasons), n] for (code, reasons), n in self.served_types.items()],
            "durations": [_flat(self.durations[key]) for key, *_ in DURATIONS],
            "outcomes": [[*key, n] for key, n in self.outcomes.items()],
            "first_contact": _flat(self.first_contact),
            "referrals": [[*key, n] for key, n in self.referrals.items()],
        }
        return json.dumps(data, separators=(",", ":"))

    def add_json_referrals(self, text: str) -> "Totals":
        """Add only the police referrals of sums written by dumps() (a call type's cell read for
        its referrals alone: the rest of it is not added up to be thrown away)."""
        for *key, n in json.loads(text)["referrals"]:
            self.referrals[tuple(key)] += n
        return self

    def add_json(self, text: str) -> "Totals":
        """Add sums written by dumps(), without building a Totals for them first. Each list
        dumps() wrote holds a key once (it was a Counter's), so it is added as one mapping:
        Counter.update adds the counts, and into an empty Counter (a day's Totals read fresh)
        copies them at C speed."""
        data = json.loads(text)
        for name, n in zip(NUMBERS, data["numbers"], strict=True):
            setattr(self, name, getattr(self, name) + n)
        self.sources.update(dict(data["sources"]))
        self.types.update({(code, ok, tuple(reasons)): n for code, ok, reasons, n in data["types"]})
        self.served_types.update({(code, tuple(reasons)): n for code, reasons, n in data["served_types"]})
        for (key, *_), flat in zip(DURATIONS, data["durations"], strict=True):
            _add_flat(self.durations[key], flat)
        self.outcomes.update({tuple(key): n for *key, n in data["outcomes"]})
        _add_flat(self.first_contact, data["first_contact"])
        self.referrals.update({tuple(key): n for *key, n in data["referrals"]})
        return self


def _flat(histogram: Counter) -> list:
    return [item for pair in histogram.items() for item in pair]


def _add_flat(histogram: Counter, flat: list) -> None:
    pairs = iter(flat)
    histogram.update(dict(zip(pairs, pairs, strict=True)))


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _reasons(value) -> tuple:
    return tuple(value or ())


# --- Reading the records --------------------------------------------------------------------------
# Nothing happens to a call before it is received: an assignment is dispatched, a backup requested
# and an outcome recorded after received_at. Each table's own timestamp (indexed) may therefore be
# bounded below by the range's start, less a day of slack for a sender's clock; the database can
# then skip the years before the range without changing the answer. Only for one run of days:
# for scattered days (a day changed long ago, and the last two) the bound would make it read
# every assignment since the oldest of them, where the incidents' own index finds a few thousand.
CLOCK_SLACK = timedelta(days=1)
# Reads of at most this many days run without parallel workers (PostgreSQL).
SMALL_READ_DAYS = 7


# What a reader may group its sums by, besides the day (dispatch.reports.sums builds the day
# cells from them): the incident's source and call type, and the unit of each assignment.
BY_TYPE = ("source", "call_type")
BY_UNIT = ("source", "call_type", "unit")
# Or by program alone: several programs' own sums in one pass (the programs side by side), each
# group what that program's own reader gives, as its filters narrowed to it count.
BY_PROGRAM = ("program",)


class _Reader:
    """The records' sums over `spans` (a list of [low, high) datetimes), narrowed by `filters`,
    per day of the program's zone. A fixed number of grouped queries, whatever the spans and
    the data.

    `by` (BY_TYPE or BY_UNIT) also groups them by the incident's source and call type, and by
    the unit: each group's sums are those the filters source=, call_type= (and unit=) would
    give, keyed (day, source, call_type[, unit]). Grouped so, they count only what a filter
    counts: follow-ups of the program's own calls (not those without a call), and no police
    referrals, which follow the call-type filter alone: those are in `referral_types`, keyed
    (day, call type).

    `by` BY_PROGRAM groups them by program only, keyed (day, program id): each group is what a
    reader of the filters narrowed to that program alone reads (a follow-up and a referral
    count in their own program, as the program filter reads them)."""

    def __init__(self, filters: ReportFilters, spans: list[tuple[datetime, datetime]], by: tuple = ()):
        assert by in ((), BY_TYPE, BY_UNIT, BY_PROGRAM), by
        self.filters, self.spans, self.by = filters, spans, by
        # Grouped by a filter's values (the cells), not by program.
        self.faceted = by not in ((), BY_PROGRAM)
        self.low = min(low for low, _high in spans)
        self.totals: dict = {}
        self.referral_types: dict[tuple[date, str], Counter] = {}

    def at(self, day, row=None, dims: tuple = ()) -> Totals:
        key = (day, *(row[path] for path in dims)) if dims else day
        if "unit" in self.by and key[-1] is None:
            # A call no unit went to, met through the join to its assignments: no unit's.
            return Totals()
        if key not in self.totals:
            self.totals[key] = Totals()
        return self.totals[key]

    def dims(self, incident: str, unit: str, program: str = "") -> tuple:
        """The paths of what `by` groups on, from a row whose incident is at `incident` (a
        prefix, e.g. "assignment__incident__") and whose unit is at `unit`; its program is its
        incident's, unless `program` names the row's own (what the program filter reads)."""
        paths = {
            "source": f"{incident}source",
            "call_type": f"{incident}call_type_code",
            "unit": unit,
            "program": program or f"{incident}program_id",
        }
        return tuple(paths[name] for name in self.by)

    def within(self, path: str) -> Q:
        q = Q()
        for low, high in self.spans:
            q |= Q(**{f"{path}__gte": low, f"{path}__lt": high})
        return q

    def grouped(self, qs, day_path: str, fields: tuple, dims: tuple = (), **aggregates):
        """Rows of `fields`, `dims` and `aggregates`, with the day of `day_path` as "report_day"."""
        qs = qs.annotate(report_day=TruncDate(day_path, tzinfo=self.filters.zone))
        return qs.values("report_day", *dict.fromkeys((*dims, *fields))).annotate(**aggregates).order_by()

    def scoped(self, qs, *, to_assignment: str = "", encounters: bool | None = False, after: str):
        """Assignments (or rows reached from them: `to_assignment` is the path, e.g.
        "assignment__") whose incident was received in the spans, narrowed by the filters; with
        a unit filter, that unit's own assignments. `encounters`: False for calls, True for
        encounters, None for both."""
        filters = self.filters
        incident = f"{to_assignment}incident__"
        qs = qs.filter(self.within(f"{incident}received_at"))
        if len(self.spans) == 1:
            qs = qs.filter(**{f"{after}__gte": self.low - CLOCK_SLACK})
            if to_assignment:
                qs = qs.filter(**{f"{to_assignment}dispatched_at__gte": self.low - CLOCK_SLACK})
        if encounters is True:
            qs = qs.filter(**{f"{incident}source": SELF_INITIATED})
        elif encounters is False:
            qs = qs.exclude(**{f"{incident}source": SELF_INITIATED})
        if filters.program_ids is not None:
            qs = qs.filter(**{f"{incident}program_id__in": filters.program_ids})
        if filters.source:
            qs = qs.filter(**{f"{incident}source": filters.source})
        if filters.call_type:
            qs = qs.filter(**{f"{incident}call_type_code": filters.call_type})
        if filters.unit_id:
            qs = qs.filter(**{f"{to_assignment}unit_id": filters.unit_id})
        return qs

    def assignments(self, *, encounters: bool | None = False):
        return self.scoped(Assignment.objects.all(), encounters=encounters, after="dispatched_at")

    def read(self) -> dict[date, Totals]:
        # A few days' records are a few thousand rows, found through the indexes: starting
        # parallel workers for them costs more than it saves. A long run keeps them.
        few = sum((high - low for low, high in self.spans), timedelta()) <= timedelta(days=SMALL_READ_DAYS)
        serial = few and connection.vendor == "postgresql" and connection.in_atomic_block
        if serial:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        self._calls()
        self._assignment_counts()
        self._served_types()
        self._durations()
        self._outcomes()
        self._follow_ups()
        self._referrals()
        if serial:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
        return self.totals

    def _calls(self):
        incidents = _narrow(Incident.objects.filter(self.within("received_at")), self.filters)
        fields = ("source", "call_type_code", "eligible", "eligibility_reasons")
        dims = self.dims("", "assignments__unit_id")
        rows = self.grouped(
            incidents.exclude(source=SELF_INITIATED),
            "received_at",
            fields,
            dims,
            # Through the join to the assignments, a call to which a unit went twice.
            n=Count("pk", distinct="unit" in self.by),
        )
        for row in rows:
            totals = self.at(row["report_day"], row, dims)
            totals.sources[row["source"]] += row["n"]
            key = (row["call_type_code"], row["eligible"], _reasons(row["eligibility_reasons"]))
            totals.types[key] += row["n"]

    def _assignment_counts(self):
        """Distinct calls dispatched, served, eligible served and needing police backup, and
        encounters, in one pass over the spans' assignments."""
        call = ~Q(incident__source=SELF_INITIATED)
        on_scene = call & Q(on_scene_at__isnull=False)
        police_backup = self.scoped(
            BackupRequest.objects.filter(kind=BackupRequest.Kind.POLICE),
            to_assignment="assignment__",
            after="requested_at",
        ).values("assignment_id")
        backup = call & (
            Q(outcome__police_involvement__in=POLICE_BACKUP_INVOLVEMENT) | Q(pk__in=police_backup)
        )
        dims = self.dims("incident__", "unit_id")
        rows = self.grouped(
            self.assignments(encounters=None),
            "incident__received_at",
            (),
            dims,
            dispatched=Count("incident_id", distinct=True, filter=call),
            served=Count("incident_id", distinct=True, filter=on_scene),
            eligible_served=Count("incident_id", distinct=True, filter=on_scene & Q(incident__eligible=True)),
            backup_calls=Count("incident_id", distinct=True, filter=backup),
            encounters=Count("incident_id", distinct=True, filter=~call),
        )
        for row in rows:
            totals = self.at(row["report_day"], row, dims)
            for name in ("dispatched", "served", "eligible_served", "backup_calls", "encounters"):
                setattr(totals, name, getattr(totals, name) + row[name])

    def _served_types(self):
        dims = self.dims("incident__", "unit_id")
        rows = self.grouped(
            self.assignments().filter(on_scene_at__isnull=False),
            "incident__received_at",
            ("incident__call_type_code", "incident__eligibility_reasons"),
            dims,
            n=Count("incident_id", distinct=True),
        )
        for row in rows:
            key = (row["incident__call_type_code"], _reasons(row["incident__eligibility_reasons"]))
            self.at(row["report_day"], row, dims).served_types[key] += row["n"]

    def _durations(self):
        dims = self.dims("incident__", "unit_id")
        for key, _label, start, end in DURATIONS:
            measured = self.assignments().filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
            measured = measured.annotate(seconds=GridSeconds(F(end), F(start)))
            for row in self.grouped(measured, "incident__received_at", ("seconds",), dims, n=Count("pk")):
                self.at(row["report_day"], row, dims).durations[key][row["seconds"]] += row["n"]

    def _outcomes(self):
        outcomes = self.scoped(
            Outcome.objects.all(), to_assignment="assignment__", encounters=None, after="recorded_at"
        )
        fields = ("self_initiated", "disposition", "transport_destination", "police_involvement")
        dims = self.dims("assignment__incident__", "assignment__unit_id")
        for row in self.grouped(outcomes, "assignment__incident__received_at", fields, dims, n=Count("pk")):
            self.at(row["report_day"], row, dims).outcomes[tuple(row[f] for f in fields)] += row["n"]

    def _follow_ups(self):
        """Follow-ups created in the spans: how many, how many connected (connected now, or
        closed engaged), and the time from creation to the first contact attempt."""
        qs = FollowUp.objects.filter(self.within("created_at"))
        if self.filters.program_ids is not None:
            qs = qs.filter(program_id__in=self.filters.program_ids)
        if self.filters.narrowed or self.faceted:
            # Grouped, each group is a filter's: the calls of the programs only.
            qs = qs.filter(incident__in=_narrow(Incident.objects.all(), self.filters).values("pk"))
        dims = self.dims("incident__", "incident__assignments__unit_id", program="program_id")
        connected = Q(status=FollowUp.Status.CONNECTED) | Q(
            status=FollowUp.Status.CLOSED, close_reason=FollowUp.CloseReason.ENGAGED
        )
        for row in self.grouped(
            qs,
            "created_at",
            (),
            dims,
            n=Count("pk", distinct=True),
            connected=Count("pk", distinct=True, filter=connected),
        ):
            totals = self.at(row["report_day"], row, dims)
            totals.follow_ups += row["n"]
            totals.connected += row["connected"]
        # Each follow-up's first attempt (an aggregate PostgreSQL computes once however often the
        # grid repeats it), then the follow-ups counted by day and grid point around that.
        per_follow_up = qs.annotate(report_day=TruncDate("created_at", tzinfo=self.filters.zone))
        aliases = tuple(f"by_{i}" for i in range(len(dims)))
        if dims:
            # One row per follow-up and group (per unit: a follow-up counts once for each unit
            # that went to its call).
            per_follow_up = per_follow_up.annotate(
                **{alias: F(path) for alias, path in zip(aliases, dims, strict=True)}
            ).values("pk", "report_day", *aliases)
        per_follow_up = (
            per_follow_up.annotate(seconds=GridSeconds(Min("attempts__at"), F("created_at")))
            .filter(seconds__isnull=False)
            .values_list("report_day", "seconds", *aliases)
        )
        inner, params = per_follow_up.query.sql_with_params()
        grouping = ", ".join(f"t.{name}" for name in ("report_day", "seconds", *aliases))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {grouping}, COUNT(*) FROM ({inner}) t GROUP BY {grouping}", params)
            rows = cursor.fetchall()
        for day, seconds, *values, n in rows:
            self.at(_as_date(day), dict(zip(dims, values, strict=True)), dims).first_contact[seconds] += n

    def _referrals(self):
        """Police referrals created in the spans. The call-type filter applies; source and unit
        do not (a referral is its own source and is often not a unit's yet)."""
        qs = PoliceReferral.objects.filter(self.within("created_at"))
        if self.filters.program_ids is not None:
            qs = qs.filter(program_id__in=self.filters.program_ids)
        if self.filters.call_type:
            qs = qs.filter(call_type_code=self.filters.call_type)
        if self.faceted:
            if "unit" not in self.by:
                for row in self.grouped(
                    qs, "created_at", ("call_type_code", "urgency", "state"), n=Count("pk")
                ):
                    key = (row["report_day"], row["call_type_code"])
                    self.referral_types.setdefault(key, Counter())[(row["urgency"], row["state"])] += row["n"]
            return
        dims = self.dims("", "", program="program_id")
        for row in self.grouped(qs, "created_at", ("urgency", "state"), dims, n=Count("pk")):
            self.at(row["report_day"], row, dims).referrals[(row["urgency"], row["state"])] += row["n"]
