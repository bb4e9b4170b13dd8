"""Kept sums: each settled day's and whole month's Totals, per facet, used while their days'
versions are unchanged (see dispatch.reports.engine for the design)."""

import json
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from dispatch.models import Program, ReportDay, ReportSums
from dispatch.reports.engine import (
    SETTLED_AFTER_DAYS,
    ReportFilters,
    Totals,
    _Reader,
    day_bounds,
    program_today,
    program_zone,
)


def _per_program(filters: ReportFilters) -> list[ReportFilters]:
    """The filters for each program they cover, one program each: sums are kept per program,
    and a report of several programs is the sum of theirs."""
    ids = filters.program_ids
    if ids is None:
        ids = tuple(Program.objects.order_by("id").values_list("id", flat=True))
    return [replace(filters, program_ids=(program_id,)) for program_id in sorted(set(ids))]


# --- Kept days and months -------------------------------------------------------------------------
def _runs(days: list[date]) -> list[tuple[datetime, datetime]]:
    """Consecutive days as [low, high) datetime spans."""
    spans, first, last = [], None, None
    for day in sorted(days):
        if last is not None and day == last + timedelta(days=1):
            last = day
            continue
        if first is not None:
            spans.append(day_bounds(first, last))
        first = last = day
    if first is not None:
        spans.append(day_bounds(first, last))
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
    settled_until = program_today() - timedelta(days=SETTLED_AFTER_DAYS)
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
        read = _Reader(filters, _runs(missing)).read()
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


def days_changed(*moments: datetime | None) -> None:
    """Raise the version of the days (in the program's zone) of these moments, all but today
    and later ones: their stored sums are no longer used. Called in the writer's transaction."""
    today = program_today()
    zone = program_zone()
    days = {timezone.localdate(moment, timezone=zone) for moment in moments if moment is not None}
    table = connection.ops.quote_name(ReportDay._meta.db_table)
    with connection.cursor() as cursor:
        for day in sorted(d for d in days if d < today):
            cursor.execute(
                f'INSERT INTO {table} ("day", "version") VALUES (%s, 1) '
                f'ON CONFLICT ("day") DO UPDATE SET "version" = {table}."version" + 1',
                [day],
            )


def days_fill(first: date, last: date) -> int:
    """Read and keep every settled day and whole month from first to last whose kept sums are
    missing or out of date, a calendar month at a time (after a bulk load, so the first
    dashboard does not wait). How many days and months it kept."""
    last = min(last, program_today() - timedelta(days=SETTLED_AFTER_DAYS))
    kept, day = 0, first
    while day <= last:
        until = min(_month_days(day.replace(day=1))[-1], last)
        for filters in _per_program(ReportFilters(day, until)):
            pending = _Pending(program_id=filters.program_ids[0])
            with report_snapshot():
                _range_totals(filters, pending)
            _store(pending)
            kept += len(pending.periods)
        day = until + timedelta(days=1)
    return kept


def days_changed_between(first: date, last: date) -> None:
    """Raise the version of every day from first to last (a bulk load wrote them without
    signals), the days no write had raised yet included: their kept sums are at version 0."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
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
    """The range's sums, read in one snapshot; the settled days read are stored afterwards."""
    pendings, totals = [], Totals()
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
    settled_until = program_today() - timedelta(days=SETTLED_AFTER_DAYS)
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
    read = _Reader(filters, _runs(missing)).read() if missing else {}
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
    with report_snapshot():
        for one in _per_program(filters):
            pendings.append(_Pending(program_id=one.program_ids[0]))
            for day, day_totals in _days_totals(one, pendings[-1]).items():
                totals[day].add(day_totals)
    for pending in pendings:
        _store(pending)
    return totals
