"""The dashboard's day cells (dispatch.reports.sums): every settled day of a program kept ahead
of time for each filter the dashboard offers, so the first view of a year with any filter reads
no record but today's; against the hand-built dataset of tests/test_reports.py,
and against the record-reading engine for every combination of filters."""

import dataclasses
import threading
from datetime import date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from dispatch.models import Incident, Program, ReportCell, ReportClock, ReportMark, ReportSums
from dispatch.programs import first_program
from dispatch.reports import engine, sections, sums
from referrals.models import FollowUp, PoliceReferral
from tests.test_reports import (
    MARCH,
    T0,
    ZONE,
    _assign,
    _follow_up,
    _incident,
    _referral,
    build_dataset,
)

RECORD_TABLES = ("incident", "assignment", "outcome", "followup", "policereferral", "backuprequest")


@pytest.fixture(autouse=True)
def _a_day_in_june():
    """As in tests/test_reports.py: the March dataset is settled on 1 June 2026."""
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=ZONE), tick=True):
        yield


@pytest.fixture
def dataset(db):
    data = build_dataset()
    # More than the reports' own tests need: a call two units went to, a follow-up of a March
    # call made in April, a referral of a call type no call has, a follow-up of no call.
    c1 = Incident.objects.get(caller_name="Jane Caller")
    _assign(c1, data["u2"], dispatched=1900, en_route=1950, on_scene=2400, cleared=3000)
    _follow_up(datetime(2026, 4, 3, 9, tzinfo=ZONE), "open", incident=c1, attempts=(600,))
    referral = _referral(data["user"], T0, "now", "dispatch")
    type(referral).objects.filter(pk=referral.pk).update(call_type_code="CIVIL")
    _follow_up(T0 + timedelta(hours=2), "open", attempts=(60,))
    return data


def _program_march(**narrow) -> engine.ReportFilters:
    return dataclasses.replace(MARCH, **engine.ReportFilters.program_scope(first_program()), **narrow)


def _from_records(filters: engine.ReportFilters) -> engine.Totals:
    """What the engine reads from the records for the range (no cell, no kept sum)."""
    totals = engine.Totals()
    for day_totals in engine._Reader(filters, [filters.bounds()]).read().values():
        totals.add(day_totals)
    return totals


def _from_cells(filters: engine.ReportFilters) -> engine.Totals:
    days = filters.days()
    read = sums._from_cells(filters, days)
    assert sorted(read) == days  # every day from a cell: none left to the records
    totals = engine.Totals()
    for day_totals in read.values():
        totals.add(day_totals)
    return totals


def _build() -> str:
    out = StringIO()
    call_command("build_report_cells", stdout=out)
    return out.getvalue()


def test_every_filter_the_dashboard_offers_adds_up_from_the_cells_as_the_records_count_it(dataset):
    _build()
    units = [None, dataset["u1"].pk, dataset["u2"].pk]
    codes = ["", *Incident.objects.values_list("call_type_code", flat=True).distinct(), "CIVIL", "NONE-SUCH"]
    sources = ["", *Incident.Source.values]
    checked = 0
    for source in sources:
        for code in set(codes):
            for unit in units:
                filters = _program_march(source=source, call_type=code, unit_id=unit)
                assert _from_cells(filters) == _from_records(filters), filters
                checked += 1
    assert checked == len(sources) * len(set(codes)) * len(units)
    # And day by day, the April follow-up and the February one included.
    whole = dataclasses.replace(_program_march(), start=date(2026, 2, 1), end=date(2026, 4, 30))
    by_day = engine._Reader(whole, [whole.bounds()]).read()
    cells = sums._from_cells(whole, whole.days())
    assert {day: t for day, t in cells.items() if t != engine.Totals()} == by_day


def test_a_cold_filtered_year_reads_no_record_but_today(dataset, monkeypatch):
    _build()
    today = engine.program_today(ZONE)
    year = engine.ReportFilters(
        today - timedelta(days=364),
        today,
        source="911",
        **engine.ReportFilters.program_scope(first_program()),
    )
    assert not ReportSums.objects.filter(facet__contains="source=911").exists()  # nobody asked yet
    spans = []
    reader = engine._Reader.__init__

    def spy(self, filters, read, by=()):
        spans.extend(read)
        reader(self, filters, read, by)

    monkeypatch.setattr(engine._Reader, "__init__", spy)
    with CaptureQueriesContext(connection) as queries:
        data = sections.dashboard(year)
    # c1 c3 c5 c6 c7 c10 and the last evening of February; c1 c3 c6 c7 and February's sent.
    assert data["calls"]["total"] == 7 and data["calls"]["dispatched"] == 5
    # The only records read: today's (yesterday's cells computed after its midnight's grace).
    assert spans == [engine.day_bounds(today, today, ZONE)]
    reads = [q["sql"] for q in queries if any(f"_{table}" in q["sql"] for table in RECORD_TABLES)]
    assert reads and len(reads) <= 12  # one reader's fixed queries, over that day
    assert all("dispatch_reportcell" not in sql for sql in reads)


def test_yesterday_is_read_from_its_cells_once_its_midnight_is_well_past(db):
    """A call written just before midnight marks nothing (it was today), and its transaction may
    commit just after: yesterday's cells are first computed CELLS_GRACE after midnight, by when
    it has. Before that yesterday is read from the records; after, from its cells, exactly."""
    program = first_program()
    call_command("build_report_cells", stdout=StringIO())
    evening = datetime(2026, 6, 1, 23, 58, tzinfo=ZONE)
    with time_machine.travel(evening, tick=False):
        _incident(evening, program=program, source="988")
        assert not ReportMark.objects.exists()  # today's: nothing marked
    june_1 = dataclasses.replace(
        MARCH, start=date(2026, 6, 1), end=date(2026, 6, 2), **engine.ReportFilters.program_scope(program)
    )
    by_988 = dataclasses.replace(june_1, source="988")
    for moment, from_cells in (
        (datetime(2026, 6, 2, 0, 5, tzinfo=ZONE), False),
        (datetime(2026, 6, 2, 0, 15, tzinfo=ZONE), True),
    ):
        with time_machine.travel(moment, tick=False):
            assert sums._cells_until(ZONE) == (date(2026, 6, 1) if from_cells else date(2026, 5, 31))
            sums._cells_refresh_for(by_988)
            assert (date(2026, 6, 1) in sums._from_cells(by_988, by_988.days())) is from_cells
            assert sections.calls_summary(by_988)["total"] == 1
            assert sections.calls_summary(june_1)["total"] == 1
    with time_machine.travel(datetime(2026, 6, 2, 0, 15, tzinfo=ZONE), tick=False):
        yesterday = dataclasses.replace(by_988, end=date(2026, 6, 1))
        assert _from_cells(yesterday) == _from_records(yesterday)


def test_a_change_to_a_settled_day_marks_it_and_the_next_read_is_exact(dataset):
    _build()
    program = first_program()
    by_911 = _program_march(source="911")
    assert sections.calls_summary(by_911)["dispatched"] == 4
    assert not ReportMark.objects.exists()
    c4 = Incident.objects.get(call_type_code="TRESPASS", source="non_emergency")
    c4.source = "911"
    c4.save()
    _assign(c4, dataset["u1"], dispatched=600, en_route=660, on_scene=1200, cleared=1500)
    marked = set(ReportMark.objects.values_list("program_id", "zone", "day"))
    assert (program.pk, "America/Denver", T0.date()) in marked
    assert sections.calls_summary(by_911)["dispatched"] == 5
    assert not ReportMark.objects.filter(day__gte=MARCH.start, day__lte=MARCH.end).exists()  # computed
    mine = _program_march(source="911", unit_id=dataset["u1"].pk)
    assert _from_cells(mine) == _from_records(mine)


def test_a_day_marked_after_its_cells_were_computed_is_read_from_the_records(dataset):
    _build()
    by_988 = _program_march(source="988")
    # The cells are computed; then, before the report's snapshot, a write commits to 15 March
    # (a bulk update sends no signal: it marks the day itself, as generate_history does).
    Incident.objects.filter(call_type_code="TRESPASS", source="non_emergency").update(source="988")
    sums.days_changed(T0, program_ids=(first_program().pk,))
    pending = sums._Pending(program_id=first_program().pk)
    with sums.report_snapshot():
        totals = sums._range_totals(by_988, pending)
    assert sum(totals.sources.values()) == 2


def test_a_call_moved_to_another_day_or_program_leaves_the_first(dataset):
    _build()
    denver = first_program()
    eastern = Program.objects.create(slug="east-care", name="East Care", time_zone="America/New_York")
    eastern_march = dataclasses.replace(MARCH, **engine.ReportFilters.program_scope(eastern))
    assert set(ReportClock.objects.filter(program=eastern).values_list("zone", flat=True)) == {
        "America/Denver",
        "America/New_York",
    }
    by_trespass = _program_march(call_type="TRESPASS")
    assert sections.calls_summary(by_trespass)["total"] == 2
    c4 = Incident.objects.get(call_type_code="TRESPASS", source="non_emergency")
    c4.received_at = datetime(2026, 4, 1, 0, 5, tzinfo=ZONE)
    c4.save()
    assert sections.calls_summary(by_trespass)["total"] == 1
    april = dataclasses.replace(by_trespass, start=date(2026, 4, 1), end=date(2026, 4, 30))
    assert sections.calls_summary(april)["total"] == 1
    c3 = Incident.objects.get(call_type_code="TRESPASS", source="911")
    c3.program = eastern
    c3.save(update_fields=["program"])
    assert sections.calls_summary(by_trespass)["total"] == 0
    assert sections.calls_summary(dataclasses.replace(eastern_march, call_type="TRESPASS"))["total"] == 1
    for filters in (by_trespass, dataclasses.replace(eastern_march, call_type="TRESPASS"), april):
        assert _from_cells(filters) == _from_records(filters)
    # Side by side on the deployment's clock, both programs.
    both = dataclasses.replace(MARCH, call_type="TRESPASS", program_ids=(denver.pk, eastern.pk))
    assert sections.calls_summary(both)["total"] == 1


def test_a_follow_up_or_referral_moved_to_another_program_leaves_the_first(dataset):
    """Not only a call: a follow-up or a police referral, which the reports count by its own
    program, marks the program it leaves as well as the one it joins, so neither program's
    cells keep counting it where it was."""
    _build()
    eastern = Program.objects.create(slug="east-care", name="East Care", time_zone="America/Denver")
    denver_march = _program_march()
    eastern_march = dataclasses.replace(MARCH, **engine.ReportFilters.program_scope(eastern))
    assert not ReportMark.objects.exists()
    before = _from_records(denver_march)

    follow_up = FollowUp.objects.get(incident__isnull=True, created_at=T0 + timedelta(hours=2))
    follow_up.program = eastern
    follow_up.save()
    referral = PoliceReferral.objects.filter(call_type_code="CIVIL").get()
    referral.program = eastern
    referral.save()

    marked = set(ReportMark.objects.values_list("program_id", flat=True))
    assert marked == {first_program().pk, eastern.pk}
    for filters in (denver_march, eastern_march):
        sums._cells_refresh_for(filters)
        assert _from_cells(filters) == _from_records(filters)
    after, moved = _from_records(denver_march), _from_records(eastern_march)
    assert (after.follow_ups, sum(after.referrals.values())) == (
        before.follow_ups - 1,
        sum(before.referrals.values()) - 1,
    )
    assert (moved.follow_ups, sum(moved.referrals.values())) == (1, 1)


def test_a_program_on_another_clock_has_its_own_days_cells(db):
    eastern = Program.objects.create(slug="east-care", name="East Care", time_zone="America/New_York")
    # 23:30 in Denver on 28 February is 01:30 on 1 March in New York.
    _incident(datetime(2026, 2, 28, 23, 30, tzinfo=ZONE), program=eastern, source="988")
    _build()
    own = engine.ReportFilters(
        date(2026, 3, 1), date(2026, 3, 1), source="988", **engine.ReportFilters.program_scope(eastern)
    )
    deployment = dataclasses.replace(own, time_zone="", start=date(2026, 2, 28), end=date(2026, 2, 28))
    assert sum(_from_cells(own).sources.values()) == 1
    assert sum(_from_cells(deployment).sources.values()) == 1
    assert set(ReportCell.objects.filter(source="988").values_list("zone", "day")) == {
        ("America/New_York", date(2026, 3, 1)),
        ("America/Denver", date(2026, 2, 28)),
    }
    # Moving the program to another zone drops the cells of the zone it left.
    eastern.time_zone = "America/Chicago"
    eastern.save()
    assert set(ReportClock.objects.filter(program=eastern).values_list("zone", flat=True)) == {
        "America/Chicago",
        "America/Denver",
    }
    assert not ReportCell.objects.filter(zone="America/New_York").exists()
    # 00:30 on 1 March in Chicago.
    chicago = dataclasses.replace(own, time_zone="America/Chicago")
    assert sections.calls_summary(chicago)["total"] == 1


def test_build_report_cells_starts_the_clocks_and_computes_every_marked_day_once(db):
    program = first_program()
    _incident(T0)
    _incident(T0 + timedelta(days=20), source="988")
    _follow_up(T0 + timedelta(days=40), "open")
    assert not ReportClock.objects.exists()  # made before the cells, and no records then
    assert _build().startswith("Computed the cells of 3 days on 1 program clocks in ")
    assert ReportClock.objects.get(program=program).until == date(2026, 5, 31)  # yesterday
    assert not ReportMark.objects.exists()
    assert set(ReportCell.objects.values_list("day", flat=True)) == {
        T0.date(),
        T0.date() + timedelta(days=20),
        T0.date() + timedelta(days=40),
    }
    assert _build().startswith("Computed the cells of 0 days on 1 program clocks")
    _incident(T0, source="988")  # a write marks its day
    assert _build().startswith("Computed the cells of 1 days on 1 program clocks")
    filters = engine.ReportFilters(
        MARCH.start, MARCH.end, source="988", **engine.ReportFilters.program_scope(program)
    )
    assert sum(_from_cells(filters).sources.values()) == 1
    # Days that go by later are passed by the clock, marked, and computed: 1 to 9 June.
    with time_machine.travel(datetime(2026, 6, 10, 12, 0, tzinfo=ZONE), tick=True):
        assert _build().startswith("Computed the cells of 9 days on 1 program clocks")
        assert ReportClock.objects.get(program=program).until == date(2026, 6, 9)


def test_the_migration_marks_every_day_that_holds_records(transactional_db):
    from django.db.migrations.executor import MigrationExecutor

    program = first_program()
    _incident(T0)
    _incident(T0 + timedelta(hours=1))
    _follow_up(T0 + timedelta(days=3), "open")
    _referral(_user(), T0 + timedelta(days=5), "later", "queued")
    executor = MigrationExecutor(connection)
    executor.migrate([("dispatch", "0020_program_screening_and_hours")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert ReportClock.objects.get(program=program).until == date(2026, 5, 30)
    assert sorted(ReportMark.objects.values_list("day", flat=True)) == [
        T0.date(),
        T0.date() + timedelta(days=3),
        T0.date() + timedelta(days=5),
    ]
    assert not ReportCell.objects.exists()
    # Until they are computed, the marked days are read from the records.
    filters = engine.ReportFilters(MARCH.start, MARCH.end, **engine.ReportFilters.program_scope(program))
    assert sums._from_cells(filters, [T0.date()]) == {}
    assert sections.calls_summary(filters)["total"] == 2


def _user():
    from tests.factories import UserFactory

    return UserFactory(username="referrer")


@pytest.mark.django_db(transaction=True)
def test_a_write_while_a_reader_computes_its_day_is_marked_again(require_postgres):
    """A reader holds a day's mark (computing it) while a writer commits a change to that day:
    the writer's mark waits for the reader and is written again after the reader clears it."""
    program = first_program()
    _incident(T0)
    _build()
    _incident(T0, source="988")  # the mark a reader will take
    locked, release = threading.Event(), threading.Event()

    def reader():
        try:
            with transaction.atomic():
                list(ReportMark.objects.select_for_update().filter(day=T0.date()))
                locked.set()
                release.wait(10)
                ReportMark.objects.filter(day=T0.date()).delete()  # as a reader that computed it
        finally:
            connections.close_all()

    thread = threading.Thread(target=reader)
    thread.start()
    assert locked.wait(10)
    writer = threading.Thread(target=lambda: (_incident(T0, source="988"), connections.close_all()))
    writer.start()
    writer.join(1)
    assert writer.is_alive()  # waits for the reader's lock
    release.set()
    thread.join(10)
    writer.join(10)
    assert ReportMark.objects.filter(program=program, day=T0.date()).exists()
    filters = engine.ReportFilters(
        MARCH.start, MARCH.end, source="988", **engine.ReportFilters.program_scope(program)
    )
    assert sections.calls_summary(filters)["total"] == 2


def test_a_follow_up_of_no_call_counts_only_in_the_unfiltered_cell(dataset):
    _build()
    whole, by_911 = _program_march(), _program_march(source="911")
    assert sections.follow_ups_summary(whole)["created"] == 5  # four of calls, one of none
    assert sections.follow_ups_summary(by_911)["created"] == 3  # c1's two and c7's
    assert FollowUp.objects.filter(incident__isnull=True, created_at__gte=MARCH.bounds()[0]).count() == 1
