"""Kept sums: each settled day's and whole month's Totals, per facet, used while their days'
versions are unchanged; and under them the day cells, from which the kept sums of a facet
nobody asked for yet are added up without reading a record (see dispatch.reports.engine for
the design)."""

import json
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from dispatch.models import Incident, Program, ReportCell, ReportClock, ReportDay, ReportMark, ReportSums
from dispatch.reports.engine import (
    BY_PROGRAM,
    BY_TYPE,
    BY_UNIT,
    SETTLED_AFTER_DAYS,
    ReportFilters,
    Totals,
    _Reader,
    day_bounds,
    program_today,
    program_zone,
)
from referrals.models import FollowUp, PoliceReferral


def _per_program(filters: ReportFilters) -> list[ReportFilters]:
    """The filters for each program they cover, one program each: sums are kept per program,
    and a report of several programs is the sum of theirs."""
    ids = filters.program_ids
    if ids is None:
        ids = tuple(Program.objects.order_by("id").values_list("id", flat=True))
    return [replace(filters, program_ids=(program_id,)) for program_id in sorted(set(ids))]


# --- Kept days and months -------------------------------------------------------------------------
def _runs(days: list[date], zone=None) -> list[tuple[datetime, datetime]]:
    """Consecutive days (of `zone`, the deployment's when None) as [low, high) datetime spans."""
    spans, first, last = [], None, None
    for day in sorted(days):
        if last is not None and day == last + timedelta(days=1):
            last = day
            continue
        if first is not None:
            spans.append(day_bounds(first, last, zone))
        first = last = day
    if first is not None:
        spans.append(day_bounds(first, last, zone))
    return spans


def _month_days(month: date) -> list[date]:
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [month + timedelta(days=i) for i in range((following - month).days)]


def _months_within(first: date, last: date) -> list[date]:
    """The first days of the calendar months wholly inside [first, last]."""
    month = first if first.day == 1 else (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    months = []
    while _month_days(month)[-1] <= last:
        months.append(month)
        month = _month_days(month)[-1] + timedelta(days=1)
    return months


@dataclass
class _Pending:
    """Settled periods (a day, or a calendar month) just added up, to keep: (first, last) →
    the versions of its days as read, and its sums."""

    program_id: int | None = None
    facet: str = ""
    periods: dict[tuple[date, date], tuple[list[int], Totals]] = field(default_factory=dict)


def _range_totals(filters: ReportFilters, pending: _Pending) -> Totals:
    """The range's sums for its facet: kept months and days whose days' versions have not
    moved, and the rest from the records (read per day, and added to `pending` to keep when
    settled). At most four queries before the records, none of them over the records."""
    return _range_totals_many([filters], [pending])[0]


@dataclass
class _Plan:
    """One program's part of _range_totals_many, as its days are sorted out."""

    filters: ReportFilters
    pending: _Pending
    settled_until: date
    months: list[date]
    total: Totals = field(default_factory=Totals)
    stale_months: set[date] = field(default_factory=set)
    wanted: list[date] = field(default_factory=list)
    settled: list[date] = field(default_factory=list)
    texts: dict[date, str] = field(default_factory=dict)


def _kept_rows(plans: list[_Plan], periods: dict[int, list[date]], *, months: bool):
    """The kept months (or days) starting on `periods[i]` of each plan i, of its program and
    facet, in one query: (plan, first day, last day, versions, data). None when none is asked."""
    owner, ids_of, firsts = {}, {}, set()
    for i, days in periods.items():
        if not days:
            continue
        plan = plans[i]
        owner[(plan.pending.program_id, plan.pending.facet)] = plan
        ids_of.setdefault(plan.pending.facet, []).append(plan.pending.program_id)
        firsts.update(days)
    if not owner:
        return None
    wanted = Q()
    for facet, ids in sorted(ids_of.items()):
        wanted |= Q(facet=facet, program_id__in=ids) if len(ids) > 1 else Q(facet=facet, program_id=ids[0])
    rows = ReportSums.objects.filter(wanted, first_day__in=sorted(firsts))
    rows = rows.filter(last_day__gt=F("first_day")) if months else rows.filter(last_day=F("first_day"))
    return [
        (owner[(program_id, facet)], first, last, kept, data)
        for program_id, facet, first, last, kept, data in rows.values_list(
            "program_id", "facet", "first_day", "last_day", "versions", "data"
        )
    ]


def _range_totals_many(many: list[ReportFilters], pendings: list[_Pending]) -> list[Totals]:
    """Each filters' range sums (one program each, its own pending beside it), as
    _range_totals gives them one at a time, read together: the days' versions, the kept months
    and the kept days of every one of them in one query each, then their missing days in one
    pass (_read_many). A program appears once."""
    assert len(pendings) == len(many) == len({(f.program_ids[0], f.zone.key) for f in many})
    if not many:
        return []
    versions = dict(
        ReportDay.objects.filter(
            day__gte=min(f.start for f in many), day__lte=max(f.end for f in many)
        ).values_list("day", "version")
    )

    def current(days):
        return [versions.get(day, 0) for day in days]

    plans = []
    for filters, pending in zip(many, pendings, strict=True):
        pending.facet = filters.facet
        settled_until = filters.today() - timedelta(days=SETTLED_AFTER_DAYS)
        months = _months_within(filters.start, min(filters.end, settled_until))
        plans.append(_Plan(filters, pending, settled_until, months, stale_months=set(months)))

    kept_months = _kept_rows(plans, {i: plan.months for i, plan in enumerate(plans)}, months=True)
    for plan, first, last, kept_versions, data in kept_months or ():
        if first not in plan.stale_months:
            continue
        days = _month_days(first)
        if last == days[-1] and json.loads(kept_versions) == current(days):
            plan.total.add_json(data)
            plan.stale_months.discard(first)
    for plan in plans:
        in_kept_months = {
            day for month in plan.months if month not in plan.stale_months for day in _month_days(month)
        }
        plan.wanted = [day for day in plan.filters.days() if day not in in_kept_months]
        plan.settled = [day for day in plan.wanted if day <= plan.settled_until]
    kept_days = _kept_rows(plans, {i: plan.settled for i, plan in enumerate(plans)}, months=False)
    for plan, day, _last, kept, data in kept_days or ():
        if day in plan.settled and json.loads(kept) == current([day]):
            plan.texts[day] = data

    missing = [[day for day in plan.wanted if day not in plan.texts] for plan in plans]
    reads = _read_many([(plan.filters, days) for plan, days in zip(plans, missing, strict=True) if days])
    totals = []
    for plan, days in zip(plans, missing, strict=True):
        read = reads.pop(0) if days else {}
        for day in days:
            if day <= plan.settled_until:
                plan.pending.periods[(day, day)] = (current([day]), read.setdefault(day, Totals()))
        in_stale_months = set()
        for month in sorted(plan.stale_months):
            days_of_month = _month_days(month)
            month_total = Totals()
            for day in days_of_month:
                _add_day(month_total, day, plan.texts, read)
            plan.total.add(month_total)
            plan.pending.periods[(month, days_of_month[-1])] = (current(days_of_month), month_total)
            in_stale_months.update(days_of_month)
        for day in plan.wanted:
            if day not in in_stale_months:
                _add_day(plan.total, day, plan.texts, read)
        totals.append(plan.total)
    return totals


def _add_day(to: Totals, day: date, texts: dict[date, str], read: dict[date, Totals]) -> None:
    if day in texts:
        to.add_json(texts[day])
    elif day in read:
        to.add(read[day])


def _store(pending: _Pending) -> None:
    """Keep the settled days and months just added up. One whose days' versions moved while it
    was read is kept with the versions it was read at, so it is not used and is read again."""
    _store_many([pending])


def _store_many(pendings: list[_Pending]) -> None:
    """_store for several programs' pending sums, in one statement."""
    rows = [
        ReportSums(
            program_id=pending.program_id,
            facet=pending.facet,
            first_day=first,
            last_day=last,
            versions=json.dumps(versions),
            data=totals.dumps(),
        )
        for pending in pendings
        for (first, last), (versions, totals) in pending.periods.items()
    ]
    if not rows:
        return
    with transaction.atomic():
        ReportSums.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["program", "facet", "first_day", "last_day"],
            update_fields=["versions", "data"],
        )


def _past_days(moments, zone) -> set[date]:
    today = program_today(zone)
    return {
        day
        for day in (timezone.localdate(moment, timezone=zone) for moment in moments if moment is not None)
        if day < today
    }


def days_changed(*moments: datetime | None, zones=(), program_ids=None) -> None:
    """Raise the version of the days of these moments, all but today and later ones: their
    stored sums are no longer used. The days are drawn in the deployment's zone and in each of
    `zones` (the record's program's: its own reports draw its days there). And mark those days
    of the programs `program_ids` (None: every program) on those clocks: their cells are read
    from the records until they are computed again. Called in the writer's transaction."""
    days = set()
    for zone in {program_zone(), *zones}:
        days.update(_past_days(moments, zone))
    if not days:
        return
    if program_ids is None:
        clocks = {(pk, name) for pk, name in Program.objects.values_list("pk", "time_zone")}
    else:
        clocks = set()
    marks = set()
    for program_id in program_ids or ():
        for zone in {program_zone(), *zones}:
            marks.update((program_id, zone.key, day) for day in _past_days(moments, zone))
    for program_id, name in clocks:
        for zone in {program_zone(), ZoneInfo(name), *zones}:
            marks.update((program_id, zone.key, day) for day in _past_days(moments, zone))
    _raise_and_mark(sorted(days), sorted(marks))


def _raise_and_mark(days: list[date], marks: list[tuple[int, str, date]]) -> None:
    """Raise the days' versions and mark these (program, zone, day). On PostgreSQL one
    statement (the writes the live path pays for stay one round trip each). A mark is an update
    on conflict, not a do-nothing: a reader that holds it (computing that day) is waited for,
    and the mark written again after it clears it, so a change it did not see is never left
    unmarked."""
    table = connection.ops.quote_name(ReportDay._meta.db_table)
    marks_table = connection.ops.quote_name(ReportMark._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(marks))
    mark_sql = (
        f'INSERT INTO {marks_table} ("program_id", "zone", "day") VALUES {values} '
        'ON CONFLICT ("program_id", "zone", "day") DO UPDATE SET "day" = excluded."day"'
    )
    mark_params = [value for mark in marks for value in mark]
    with connection.cursor() as cursor:
        for i, day in enumerate(days):
            raise_sql = (
                f'INSERT INTO {table} ("day", "version") VALUES (%s, 1) '
                f'ON CONFLICT ("day") DO UPDATE SET "version" = {table}."version" + 1'
            )
            if marks and i == len(days) - 1 and connection.vendor == "postgresql":
                cursor.execute(f"WITH raised AS ({raise_sql} RETURNING 1) {mark_sql}", [day, *mark_params])
                return
            cursor.execute(raise_sql, [day])
        if marks:
            cursor.execute(mark_sql, mark_params)


def days_fill(first: date, last: date, program_ids=None) -> int:
    """Read and keep every settled day and whole month from first to last whose kept sums are
    missing or out of date, a calendar month at a time (after a bulk load, so the first
    dashboard does not wait), and the marked days' cells before them; of the programs
    `program_ids` (None: every program). How many days and months it kept."""
    last = min(last, program_today() - timedelta(days=SETTLED_AFTER_DAYS))
    kept, day = 0, first
    while day <= last:
        until = min(_month_days(day.replace(day=1))[-1], last)
        programs = Program.objects.order_by("pk")
        if program_ids is not None:
            programs = programs.filter(pk__in=program_ids)
        for program in programs:
            for zone in program_clocks(program):
                _cells_refresh(program.pk, zone, day, until)
        scope = None if program_ids is None else tuple(program_ids)
        for filters in _per_program(ReportFilters(day, until, program_ids=scope)):
            pending = _Pending(program_id=filters.program_ids[0])
            with report_snapshot():
                _range_totals(filters, pending)
            _store(pending)
            kept += len(pending.periods)
        day = until + timedelta(days=1)
    return kept


def days_changed_between(first: date, last: date, program_ids=None) -> None:
    """Raise the version of every day from first to last (a bulk load wrote them without
    signals), the days no write had raised yet included: their kept sums are at version 0. And
    mark those days on the clocks of the programs `program_ids` (None: every program)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    clocks = ReportClock.objects.all()
    if program_ids is not None:
        clocks = clocks.filter(program_id__in=program_ids)
    for program_id, zone in clocks.values_list("program_id", "zone"):
        ReportMark.objects.bulk_create(
            [ReportMark(program_id=program_id, zone=zone, day=day) for day in days],
            batch_size=300,
            ignore_conflicts=True,
        )
    in_range = ReportDay.objects.filter(day__gte=first, day__lte=last)
    had = set(in_range.values_list("day", flat=True))
    in_range.update(version=F("version") + 1)
    # A writer that adds one of these meanwhile raises it itself: its insert wins.
    ReportDay.objects.bulk_create(
        [ReportDay(day=day, version=1) for day in days if day not in had], ignore_conflicts=True
    )


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


def range_totals(filters: ReportFilters) -> Totals:
    """The range's sums, read in one snapshot; the settled days read are stored afterwards.
    Before it, the marked days of the range have their cells computed. Of several programs,
    the sum of theirs (programs_range_totals)."""
    totals = Totals()
    for one in programs_range_totals(_per_program(filters)):
        totals.add(one)
    return totals


def programs_range_totals(many: list[ReportFilters]) -> list[Totals]:
    """Each filters' range sums (one program each, on its own clock if it says so; a program
    once), as range_totals gives each alone, read together in one snapshot: the marked days
    checked for all of them at once, then a fixed number of queries per clock, whatever the
    number of programs (_range_totals_many). What the programs side by side read."""
    _cells_refresh_many(many)
    pendings = [_Pending(program_id=one.program_ids[0]) for one in many]
    with report_snapshot():
        totals = _range_totals_many(many, pendings)
    _store_many(pendings)
    return totals


def _days_totals(filters: ReportFilters, pending: _Pending) -> dict[date, Totals]:
    """Each day's sums of the range, for its facet: kept days whose version has not moved,
    the rest from the records (added to `pending` to keep when settled). Three queries before
    the records, whatever the range: the versions, the kept days, then one read of the missing
    days. Kept months cannot stand in here: a week does not keep to the calendar's months."""
    settled_until = filters.today() - timedelta(days=SETTLED_AFTER_DAYS)
    pending.facet = facet = filters.facet
    versions = dict(
        ReportDay.objects.filter(day__gte=filters.start, day__lte=filters.end).values_list("day", "version")
    )
    days = filters.days()
    settled = [day for day in days if day <= settled_until]
    texts = {}
    if settled:
        kept_days = ReportSums.objects.filter(
            program_id=pending.program_id,
            facet=facet,
            first_day__gte=filters.start,
            first_day__lte=settled[-1],
            last_day=F("first_day"),
        ).values_list("first_day", "versions", "data")
        texts = {day: data for day, kept, data in kept_days if json.loads(kept) == [versions.get(day, 0)]}
    missing = [day for day in days if day not in texts]
    read = _read(filters, missing) if missing else {}
    result = {}
    for day in days:
        # A day read is handed on as read (its kept sums are written from it, unchanged).
        totals = Totals().add_json(texts[day]) if day in texts else read.get(day) or Totals()
        if day in missing and day <= settled_until:
            pending.periods[(day, day)] = ([versions.get(day, 0)], totals)
        result[day] = totals
    return result


def days_totals(filters: ReportFilters) -> dict[date, Totals]:
    """Each day's sums of the range (every day, the empty ones too), read in one snapshot;
    the settled days read from the records are kept afterwards. What the weekly trend adds up:
    a week's sums are the sums of its days."""
    pendings, totals = [], {day: Totals() for day in filters.days()}
    ones = _per_program(filters)
    _cells_refresh_for(filters)
    with report_snapshot():
        for one in ones:
            pendings.append(_Pending(program_id=one.program_ids[0]))
            days = _days_totals(one, pendings[-1])
            if len(ones) == 1:
                totals = days  # one program's days are the range's: not copied into new sums
                continue
            for day, day_totals in days.items():
                totals[day].add(day_totals)
    for pending in pendings:
        _store(pending)
    return totals


# --- Day cells ------------------------------------------------------------------------------------
# Every settled day of a program, on each of its clocks, has its sums kept for each filter the
# dashboard offers: source (or any), call type (or any), unit (or every unit), each a whole
# Totals. A facet's missing days are then added up from one cell a day, with no record read.
# The cells are computed ahead of time (build_report_cells, then by the readers): a write marks
# its day (days_changed, in its transaction); the next reader of a range holding marks locks
# them, computes those days' cells from the records and clears them. A day still marked inside a
# report's snapshot (a write committed after the reader computed) is read from the records there.
ANY = ReportCell.ANY


def program_clocks(program) -> list[str]:
    """The zones a program's days are drawn in: the deployment's (reports of several programs)
    and its own."""
    return sorted({settings.TIME_ZONE, program.time_zone})


# A day's cells may be computed once it is past and this long after its midnight: yesterday
# is read from its cells as every older day is (a write to it marks it), and a change that
# began while that day was today (so marked nothing) and committed just after midnight has
# committed before the clock passes over the day and reads it. Only today is read from the
# records then. (The kept sums above wait SETTLED_AFTER_DAYS: they know no marks.)
CELLS_GRACE = timedelta(minutes=10)


def _cells_until(zone: ZoneInfo) -> date:
    """The last day whose cells may be computed on this clock: yesterday, once CELLS_GRACE is
    past midnight, the day before until then."""
    return timezone.localdate(timezone.now() - CELLS_GRACE, timezone=zone) - timedelta(days=1)


def _record_days(program_id: int, zone: ZoneInfo, until: date) -> set[date]:
    """The days up to `until` that hold a record of the program: a call, a follow-up or a
    police referral (assignments, outcomes and the rest count on their call's day)."""
    high = day_bounds(until, until, zone)[1]
    days = set()
    for model, moment in (
        (Incident, "received_at"),
        (FollowUp, "created_at"),
        (PoliceReferral, "created_at"),
    ):
        days.update(
            model.objects.filter(program_id=program_id, **{f"{moment}__lt": high})
            .annotate(report_day=TruncDate(moment, tzinfo=zone))
            .values_list("report_day", flat=True)
            .distinct()
        )
    return {_date(day) for day in days}


def _date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def clock_start(program_id: int, zone_name: str) -> bool:
    """Give the program its cells on this clock, when it has none yet: every settled day that
    holds one of its records is marked (computed by the next reader or build_report_cells).
    Whether it started one."""
    zone = ZoneInfo(zone_name)
    with transaction.atomic():
        until = _cells_until(zone)
        _clock, created = ReportClock.objects.get_or_create(
            program_id=program_id, zone=zone_name, defaults={"until": until}
        )
        if not created:
            return False
        ReportMark.objects.bulk_create(
            [
                ReportMark(program_id=program_id, zone=zone_name, day=day)
                for day in sorted(_record_days(program_id, zone, until))
            ],
            batch_size=300,
            ignore_conflicts=True,
        )
    return True


def clocks_keep(program, *, created: bool) -> None:
    """After a program is saved: its cells are on the clocks it reads now. A new program starts
    with its clocks (nothing to mark). A program whose zone changed drops the cells of the zone
    it left (writes no longer mark that clock) and starts the new one. A program without clocks
    (made before the cells, with no records then) waits for build_report_cells."""
    wanted = set(program_clocks(program))
    have = set(ReportClock.objects.filter(program=program).values_list("zone", flat=True))
    if not created and not have:
        return
    left = have - wanted
    if left:
        for model in (ReportClock, ReportMark, ReportCell):
            model.objects.filter(program=program, zone__in=left).delete()
    for zone in sorted(wanted - have):
        clock_start(program.pk, zone)


def _cells_compute(program_id: int, zone_name: str, days: list[date]) -> list[ReportCell]:
    """The cells of these days, from the records: three readers (every call; by source and call
    type; and by unit too), whose groups add up to every other combination."""
    filters = ReportFilters(min(days), max(days), program_ids=(program_id,), time_zone=zone_name)
    spans = _runs(days, ZoneInfo(zone_name))
    cells: dict[tuple, Totals] = {}

    def into(key, totals: Totals) -> None:
        if key not in cells:
            cells[key] = Totals()
        cells[key].add(totals)

    for day, totals in _Reader(filters, spans).read().items():
        cells[(day, ANY, ANY, 0)] = totals
    by_type = _Reader(filters, spans, by=BY_TYPE)
    for (day, source, code), totals in by_type.read().items():
        for key in ((source, code), (source, ANY), (ANY, code)):
            into((day, *key, 0), totals)
    for (day, code), referrals in by_type.referral_types.items():
        into((day, ANY, code, 0), Totals(referrals=referrals))
    by_unit = _Reader(filters, spans, by=BY_UNIT)
    for (day, source, code, unit), totals in by_unit.read().items():
        for key in ((source, code), (source, ANY), (ANY, code), (ANY, ANY)):
            into((day, *key, unit), totals)
    return [
        ReportCell(
            program_id=program_id,
            zone=zone_name,
            day=day,
            source=source,
            call_type=code,
            unit_id=unit,
            data=totals.dumps(),
        )
        for (day, source, code, unit), totals in cells.items()
    ]


def _cells_refresh(program_id: int, zone_name: str, first: date, last: date) -> int:
    """Compute the cells of the marked days from first to last (settled ones only) and clear
    their marks, first passing the clock over the days settled since it last moved (marked:
    what was written on them while they were today was not). Locks the clock, then the marks,
    so two readers do not compute the same day, and a writer marking one of these days waits
    for the end and marks it again. How many days it computed."""
    with transaction.atomic():
        clock = ReportClock.objects.select_for_update().filter(program_id=program_id, zone=zone_name).first()
        if clock is None:
            return 0
        settled = _clock_pass(clock)
        last = min(last, settled)
        if first > last:
            return 0
        marks = ReportMark.objects.filter(
            program_id=program_id, zone=zone_name, day__gte=first, day__lte=last
        )
        days = list(marks.select_for_update().order_by("day").values_list("day", flat=True))
        if not days:
            return 0
        cells = _cells_compute(program_id, zone_name, days)
        ReportCell.objects.filter(program_id=program_id, zone=zone_name, day__in=days).delete()
        ReportCell.objects.bulk_create(cells, batch_size=500)
        marks.filter(day__in=days).delete()
    return len(days)


def _clock_pass(clock: ReportClock) -> date:
    """Move a (locked) clock over the days settled since it last moved, marking them: what was
    written on them while they were today marked nothing. The last settled day."""
    settled = _cells_until(ZoneInfo(clock.zone))
    if clock.until < settled:
        passed = [clock.until + timedelta(days=i + 1) for i in range((settled - clock.until).days)]
        ReportMark.objects.bulk_create(
            [ReportMark(program_id=clock.program_id, zone=clock.zone, day=day) for day in passed],
            batch_size=300,
            ignore_conflicts=True,
        )
        clock.until = settled
        clock.save(update_fields=["until"])
    return settled


def _cells_refresh_for(filters: ReportFilters) -> None:
    _cells_refresh_many(_per_program(filters))


def _clocks_q(many: list[ReportFilters]) -> Q:
    """The clocks of these filters' programs (one each), as a filter on program and zone."""
    ids_of: dict[str, list[int]] = {}
    for one in many:
        ids_of.setdefault(one.zone.key, []).append(one.program_ids[0])
    wanted = Q()
    for zone, ids in sorted(ids_of.items()):
        wanted |= Q(zone=zone, program_id__in=ids) if len(ids) > 1 else Q(zone=zone, program_id=ids[0])
    return wanted


def _cells_refresh_many(many: list[ReportFilters]) -> None:
    """_cells_refresh of each filters' program and range. Of several, first one look at their
    clocks and one at the marks of their ranges (no lock), and only those that have a day to
    compute or a clock to pass are refreshed: a mark written after this look is read from the
    records inside the report's snapshot (_from_cells), as after a refresh."""
    if len(many) <= 1:
        for one in many:
            _cells_refresh(one.program_ids[0], one.zone.key, one.start, one.end)
        return
    wanted = _clocks_q(many)
    untils = {
        (program_id, zone): until
        for program_id, zone, until in ReportClock.objects.filter(wanted).values_list(
            "program_id", "zone", "until"
        )
    }
    marked = set(
        ReportMark.objects.filter(
            wanted, day__gte=min(one.start for one in many), day__lte=max(one.end for one in many)
        ).values_list("program_id", "zone", "day")
    )
    for one in many:
        clock = (one.program_ids[0], one.zone.key)
        if clock not in untils:
            continue  # _cells_refresh would find no clock
        settled = _cells_until(one.zone)
        behind = untils[clock] < settled
        if behind or any((*clock, day) in marked for day in one.days() if day <= settled):
            _cells_refresh(*clock, one.start, one.end)


def _from_cells(filters: ReportFilters, days: list[date]) -> dict[date, Totals]:
    """The sums of the days among `days` (settled ones) whose cells are computed and unmarked,
    for the filters (one program): one cell a day, and the call type's cell for its police
    referrals when the filters also name a source or a unit. Three queries."""
    return _from_cells_many([(filters, days)])[0]


def _from_cells_many(wanted: list[tuple[ReportFilters, list[date]]]) -> list[dict[date, Totals]]:
    """_from_cells of each (filters of one program, its days), a program once: three queries
    for all of them (their clocks, their marks, their cells)."""
    clocks = _clocks_q([filters for filters, _days in wanted])
    untils = {
        (program_id, zone): until
        for program_id, zone, until in ReportClock.objects.filter(clocks).values_list(
            "program_id", "zone", "until"
        )
    }
    days_of = []
    for filters, days in wanted:
        until = untils.get((filters.program_ids[0], filters.zone.key))
        days_of.append([day for day in days if until is not None and day <= until])
    if not any(days_of):
        return [{} for _ in wanted]
    asked = [filters for (filters, _days), days in zip(wanted, days_of, strict=True) if days]
    marked = set(
        ReportMark.objects.filter(
            _clocks_q(asked),
            day__gte=min(day for days in days_of if days for day in days),
            day__lte=max(day for days in days_of if days for day in days),
        ).values_list("program_id", "zone", "day")
    )
    results = []
    for (filters, _days), days in zip(wanted, days_of, strict=True):
        clock = (filters.program_ids[0], filters.zone.key)
        results.append({day: Totals() for day in days if (*clock, day) not in marked})
    if not any(results):
        return [{} for _ in wanted]
    # Each program's cell (and its call type's, for the referrals); programs reading the same
    # cell on the same clock asked together.
    ids_of: dict[tuple, list[int]] = {}
    owner = {}
    for (filters, _days), result in zip(wanted, results, strict=True):
        if not result:
            continue
        key = (filters.source or ANY, filters.call_type or ANY, filters.unit_id or 0)
        ids_of.setdefault((filters.zone.key, key), []).append(filters.program_ids[0])
        owner[(filters.program_ids[0], filters.zone.key)] = (key, result)
    cells = Q()
    for (zone, key), ids in sorted(ids_of.items()):
        referrals = (ANY, key[1], 0)
        one = Q(source=key[0], call_type=key[1], unit_id=key[2])
        if referrals != key:
            one |= Q(source=referrals[0], call_type=referrals[1], unit_id=0)
        programs = Q(program_id__in=ids) if len(ids) > 1 else Q(program_id=ids[0])
        cells |= one & programs & Q(zone=zone)
    days = [day for result in results for day in result]
    rows = ReportCell.objects.filter(cells, day__gte=min(days), day__lte=max(days)).values_list(
        "program_id", "zone", "day", "source", "call_type", "unit_id", "data"
    )
    for program_id, zone, day, source, code, unit, data in rows:
        key, result = owner[(program_id, zone)]
        if day not in result:
            continue
        if (source, code, unit) == key:
            result[day].add_json(data)
        else:
            result[day].add_json_referrals(data)
    return results


def _read(filters: ReportFilters, days: list[date]) -> dict[date, Totals]:
    """These days' sums for the filters (one program): from the cells where they are up to
    date, the rest (today, and marked days) from the records."""
    return _read_many([(filters, days)])[0]


def _read_many(wanted: list[tuple[ReportFilters, list[date]]]) -> list[dict[date, Totals]]:
    """_read of each (filters of one program, its days), a program once: the cells of all of
    them in one pass (_from_cells_many), then the records of the rest in one reader per clock
    and filter (by program, over the days any of them lacks; each keeps its own days)."""
    if not wanted:
        return []
    reads = _from_cells_many(
        [(f, [day for day in days if day <= _cells_until(f.zone)]) for f, days in wanted]
    )
    groups: dict[tuple, list[tuple[int, list[date]]]] = {}
    for i, ((filters, days), read) in enumerate(zip(wanted, reads, strict=True)):
        rest = [day for day in days if day not in read]
        if rest:
            alike = (filters.zone.key, filters.source, filters.call_type, filters.unit_id)
            groups.setdefault(alike, []).append((i, rest))
    for members in groups.values():
        filters = wanted[members[0][0]][0]
        if len(members) == 1:
            ((i, rest),) = members
            reads[i].update(_Reader(filters, _runs(rest, filters.zone)).read())
            continue
        ids = tuple(sorted(wanted[i][0].program_ids[0] for i, _rest in members))
        days = sorted({day for _i, rest in members for day in rest})
        by_program = _Reader(
            replace(filters, program_ids=ids), _runs(days, filters.zone), by=BY_PROGRAM
        ).read()
        for i, rest in members:
            program_id = wanted[i][0].program_ids[0]
            for day in rest:
                if (day, program_id) in by_program:
                    reads[i][day] = by_program[(day, program_id)]
    return reads


def cells_build(*, log=None) -> tuple[int, int]:
    """Compute every marked day of every program's clocks, a calendar month at a time (one
    transaction each), starting the clocks a program lacks and dropping those of zones it no
    longer reads. What ops runs after a deploy (build_report_cells). (days computed, clocks)."""
    computed = clocks = 0
    for program in Program.objects.order_by("pk"):
        wanted = program_clocks(program)
        for model in (ReportClock, ReportMark, ReportCell):
            model.objects.filter(program=program).exclude(zone__in=wanted).delete()
        for zone in wanted:
            clock_start(program.pk, zone)
            clocks += 1
            with transaction.atomic():
                settled = _clock_pass(ReportClock.objects.select_for_update().get(program=program, zone=zone))
            first = (
                ReportMark.objects.filter(program=program, zone=zone)
                .order_by("day")
                .values_list("day", flat=True)
                .first()
            )
            day = first or settled
            while day <= settled:
                until = min(_month_days(day.replace(day=1))[-1], settled)
                done = _cells_refresh(program.pk, zone, day, until)
                computed += done
                if log is not None and done:
                    log(f"{program.slug} {zone} {day:%Y-%m}: {done} days")
                day = until + timedelta(days=1)
    return computed, clocks
