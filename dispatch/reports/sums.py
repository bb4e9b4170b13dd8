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
    settled_until = filters.today() - timedelta(days=SETTLED_AFTER_DAYS)
    pending.facet = facet = filters.facet
    versions = dict(
        ReportDay.objects.filter(day__gte=filters.start, day__lte=filters.end).values_list("day", "version")
    )

    def current(days):
        return [versions.get(day, 0) for day in days]

    total = Totals()
    months = _months_within(filters.start, min(filters.end, settled_until))
    stale_months = set(months)
    if months:
        kept_months = ReportSums.objects.filter(
            program_id=pending.program_id, facet=facet, first_day__in=months, last_day__gt=F("first_day")
        ).values_list("first_day", "last_day", "versions", "data")
        for first, last, kept_versions, data in kept_months:
            days = _month_days(first)
            if last == days[-1] and json.loads(kept_versions) == current(days):
                total.add_json(data)
                stale_months.discard(first)
    in_kept_months = {day for month in months if month not in stale_months for day in _month_days(month)}
    wanted = [day for day in filters.days() if day not in in_kept_months]
    texts = {}
    settled = [day for day in wanted if day <= settled_until]
    if settled:
        kept_days = ReportSums.objects.filter(
            program_id=pending.program_id, facet=facet, first_day__in=settled, last_day=F("first_day")
        ).values_list("first_day", "versions", "data")
        texts = {day: data for day, kept, data in kept_days if json.loads(kept) == current([day])}
    missing = [day for day in wanted if day not in texts]
    read = {}
    if missing:
        read = _read(filters, missing)
        for day in missing:
            if day <= settled_until:
                pending.periods[(day, day)] = (current([day]), read.setdefault(day, Totals()))

    def add_day(to: Totals, day: date) -> None:
        if day in texts:
            to.add_json(texts[day])
        elif day in read:
            to.add(read[day])

    in_stale_months = set()
    for month in sorted(stale_months):
        days = _month_days(month)
        month_total = Totals()
        for day in days:
            add_day(month_total, day)
        total.add(month_total)
        pending.periods[(month, days[-1])] = (current(days), month_total)
        in_stale_months.update(days)
    for day in wanted:
        if day not in in_stale_months:
            add_day(total, day)
    return total


def _store(pending: _Pending) -> None:
    """Keep the settled days and months just added up. One whose days' versions moved while it
    was read is kept with the versions it was read at, so it is not used and is read again."""
    if not pending.periods:
        return
    rows = [
        ReportSums(
            program_id=pending.program_id,
            facet=pending.facet,
            first_day=first,
            last_day=last,
            versions=json.dumps(versions),
            data=totals.dumps(),
        )
        for (first, last), (versions, totals) in pending.periods.items()
    ]
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
    Before it, the marked days of the range have their cells computed."""
    pendings, totals = [], Totals()
    _cells_refresh_for(filters)
    with report_snapshot():
        for one in _per_program(filters):
            pendings.append(_Pending(program_id=one.program_ids[0]))
            totals.add(_range_totals(one, pendings[-1]))
    for pending in pendings:
        _store(pending)
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
        totals = Totals()
        if day in texts:
            totals.add_json(texts[day])
        elif day in read:
            totals.add(read[day])
        if day in missing and day <= settled_until:
            pending.periods[(day, day)] = ([versions.get(day, 0)], read.get(day) or Totals())
        result[day] = totals
    return result


def days_totals(filters: ReportFilters) -> dict[date, Totals]:
    """Each day's sums of the range (every day, the empty ones too), read in one snapshot;
    the settled days read from the records are kept afterwards. What the weekly trend adds up:
    a week's sums are the sums of its days."""
    pendings, totals = [], {day: Totals() for day in filters.days()}
    _cells_refresh_for(filters)
    with report_snapshot():
        for one in _per_program(filters):
            pendings.append(_Pending(program_id=one.program_ids[0]))
            for day, day_totals in _days_totals(one, pendings[-1]).items():
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
    for one in _per_program(filters):
        _cells_refresh(one.program_ids[0], one.zone.key, one.start, one.end)


def _from_cells(filters: ReportFilters, days: list[date]) -> dict[date, Totals]:
    """The sums of the days among `days` (settled ones) whose cells are computed and unmarked,
    for the filters (one program): one cell a day, and the call type's cell for its police
    referrals when the filters also name a source or a unit. Three queries."""
    program_id, zone = filters.program_ids[0], filters.zone.key
    until = (
        ReportClock.objects.filter(program_id=program_id, zone=zone).values_list("until", flat=True).first()
    )
    days = [day for day in days if until is not None and day <= until]
    if not days:
        return {}
    marked = set(
        ReportMark.objects.filter(
            program_id=program_id, zone=zone, day__gte=days[0], day__lte=days[-1]
        ).values_list("day", flat=True)
    )
    result = {day: Totals() for day in days if day not in marked}
    if not result:
        return {}
    key = (filters.source or ANY, filters.call_type or ANY, filters.unit_id or 0)
    referrals = (ANY, key[1], 0)
    wanted = Q(source=key[0], call_type=key[1], unit_id=key[2])
    if referrals != key:
        wanted |= Q(source=referrals[0], call_type=referrals[1], unit_id=0)
    rows = ReportCell.objects.filter(
        wanted, program_id=program_id, zone=zone, day__gte=min(result), day__lte=max(result)
    ).values_list("day", "source", "call_type", "unit_id", "data")
    for day, source, code, unit, data in rows:
        if day not in result:
            continue
        if (source, code, unit) == key:
            result[day].add_json(data)
        else:
            result[day].referrals.update(Totals().add_json(data).referrals)
    return result


def _read(filters: ReportFilters, days: list[date]) -> dict[date, Totals]:
    """These days' sums for the filters (one program): from the cells where they are up to
    date, the rest (today, and marked days) from the records."""
    until = _cells_until(filters.zone)
    read = _from_cells(filters, [day for day in days if day <= until])
    rest = [day for day in days if day not in read]
    if rest:
        read.update(_Reader(filters, _runs(rest, filters.zone)).read())
    return read


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
