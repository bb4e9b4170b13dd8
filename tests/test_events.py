"""dispatch.events.event_record: an event is stored in the transaction of its change and pushed
only after that transaction commits, once per call; every pushed event names the event before
it, for dispatch and for its unit, however the transaction's calls and savepoints fall; on
PostgreSQL ids follow commit order."""

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dispatch import events as events_module
from dispatch.events import event_record, events_record
from dispatch.groups import dispatch_group, unit_group
from dispatch.models import Event
from dispatch.programs import first_program, program_slug
from tests import factories


class Pushed(list):
    """The messages pushed, in order, instead of through the channel layer; `trips` holds
    the (groups, message) pairs of each trip to the event loop."""

    def __init__(self):
        super().__init__()
        self.trips = []


@pytest.fixture
def pushed(monkeypatch):
    record = Pushed()
    lock = threading.Lock()  # the PostgreSQL tests push from two threads

    def recorder(function):
        def run(pushes):
            with lock:
                record.trips.append(pushes)
                record.extend(message for _groups, message in pushes)

        return run

    monkeypatch.setattr(events_module, "async_to_sync", recorder)
    return record


def sent(messages):
    return [(m["event"]["id"], m["prev"], m["prev_unit"]) for m in messages]


def trip_ids(pushed):
    return [[message["event"]["id"] for _groups, message in trip] for trip in pushed.trips]


def in_thread(work):
    """Run `work` on its own thread (so with its own database connection); returns what it
    returned (or raised) once `done` is set."""
    outcome, done = {}, threading.Event()

    def run():
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the test, which re-raises it
            outcome["error"] = error
        finally:
            connection.close()
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return outcome, done


def result(outcome):
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# --- in the transaction, sent after it ----------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_an_event_recorded_outside_a_transaction_is_refused_neither_stored_nor_sent(pushed):
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic\(\)"):
        event_record("test.loose", {})
    with pytest.raises(RuntimeError):
        events_record([("test.loose", {}, None), ("test.loose", {}, None)])
    assert not Event.objects.exists()
    assert pushed == []


@pytest.mark.django_db(transaction=True)
def test_an_event_is_pushed_only_after_its_transaction_committed_and_others_can_read_it(monkeypatch):
    seen_when_pushed = []

    def events_send(pushes):
        # What another connection finds in the log at the moment of the push.
        outcome, done = in_thread(lambda: list(Event.objects.values_list("id", flat=True)))
        assert done.wait(10)
        seen_when_pushed.append(([message["event"]["id"] for _g, message in pushes], result(outcome)))

    monkeypatch.setattr(events_module, "events_send", events_send)
    with transaction.atomic():
        a = event_record("test.a", {})
        assert seen_when_pushed == []  # nothing before the commit
    assert seen_when_pushed == [([a.id], [a.id])]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_pushed_for_a_transaction_that_rolls_back_and_the_next_one_pushes_alone(pushed):
    unit = factories.UnitFactory()
    with transaction.atomic():
        event_record("test.rolled_back", {}, unit=unit)
        transaction.set_rollback(True)
    assert pushed == []
    with transaction.atomic():
        b = event_record("test.b", {}, unit=unit)
    assert trip_ids(pushed) == [[b.id]]
    assert sent(pushed) == [(b.id, 0, 0)]


# --- one push per call, in the order of the calls ---------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_events_of_one_transaction_each_name_the_one_before_them(pushed):
    one, two = factories.UnitFactory(), factories.UnitFactory()
    with transaction.atomic():
        before = event_record("test.before", {}, unit=two)
    with transaction.atomic():
        a = event_record("test.a", {}, unit=one)
        b = event_record("test.b", {}, unit=one)
        c = event_record("test.c", {})
        d = event_record("test.d", {}, unit=two)
        e = event_record("test.e", {}, unit=one)
        assert pushed == [pushed[0]]  # nothing more before the commit
    assert sent(pushed) == [
        (before.id, 0, 0),
        (a.id, before.id, 0),
        (b.id, a.id, a.id),
        (c.id, b.id, None),
        (d.id, c.id, before.id),
        (e.id, d.id, b.id),
    ]
    # One trip to the event loop per call, in the order of the calls (so in id order); the
    # unit's group first for each event.
    assert trip_ids(pushed) == [[before.id], [a.id], [b.id], [c.id], [d.id], [e.id]]
    assert pushed.trips[1][0][0] == [unit_group(one.pk), dispatch_group(first_program().pk)]
    assert pushed.trips[3][0][0] == [dispatch_group(first_program().pk)]


@pytest.mark.django_db(transaction=True)
def test_the_events_of_one_call_go_out_in_one_trip_each_naming_the_one_before_it(pushed):
    one, two = factories.UnitFactory(), factories.UnitFactory()
    with transaction.atomic():
        before = event_record("test.before", {}, unit=two)
    with transaction.atomic():
        a, b, c, d = events_record(
            [("test.a", {}, one), ("test.b", {}, two), ("test.c", {}, None), ("test.d", {}, one)]
        )
        e = event_record("test.e", {}, unit=two)
    assert [a.id, b.id, c.id, d.id] == list(range(a.id, a.id + 4))
    assert sent(pushed) == [
        (before.id, 0, 0),
        (a.id, before.id, 0),
        (b.id, a.id, before.id),
        (c.id, b.id, None),
        (d.id, c.id, a.id),
        (e.id, d.id, b.id),
    ]
    assert trip_ids(pushed) == [[before.id], [a.id, b.id, c.id, d.id], [e.id]]
    assert [groups for groups, _message in pushed.trips[1]] == [
        [unit_group(one.pk), dispatch_group(first_program().pk)],
        [unit_group(two.pk), dispatch_group(first_program().pk)],
        [dispatch_group(first_program().pk)],
        [unit_group(one.pk), dispatch_group(first_program().pk)],
    ]


@pytest.mark.django_db(transaction=True)
def test_one_call_costs_the_lock_and_one_statement_that_reads_the_newest_ids_and_inserts(pushed, settings):
    # PostgreSQL: the advisory lock, then the read and the insert in one statement; SQLite
    # (its one write lock held already): the read, then the insert.
    one, two = factories.UnitFactory(), factories.UnitFactory()
    with transaction.atomic():
        before = event_record("test.before", {}, unit=one)
    slug = program_slug(one.program_id)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        # An event without a unit names its program, as every payload does (its slug, read once).
        events = events_record(
            [("test.a", {"n": 1}, one), ("test.b", {}, two), ("test.c", {"program": slug}, None)]
        )
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 2, "\n".join(statements)
    assert "INSERT" in statements[-1]
    # The ids the insert handed out, in the order given, are the rows stored, as stored.
    assert [e.id for e in events] == sorted(e.id for e in events) and events[0].id > before.id
    stored = {e.id: (e.type, e.data, e.unit_id, e.program_id) for e in Event.objects.filter(id__gt=before.id)}
    assert stored == {e.id: (e.type, e.data, e.unit_id, e.program_id) for e in events}
    assert all(not e._state.adding for e in events)
    # Each names the one before it: the event before the call, then each other in turn.
    trip = pushed.trips[-1]
    assert [message["prev"] for _groups, message in trip] == [before.id, events[0].id, events[1].id]
    assert trip[0][1]["prev_unit"] == before.id  # unit one's event before


@pytest.mark.django_db(transaction=True)
def test_each_transaction_reads_what_others_committed_before_it(pushed):
    unit = factories.UnitFactory()
    with transaction.atomic():
        a = event_record("test.a", {}, unit=unit)
    with transaction.atomic():
        b = event_record("test.b", {})
    with transaction.atomic():
        c = event_record("test.c", {}, unit=unit)
    with transaction.atomic():
        event_record("test.rolled_back", {}, unit=unit)
        transaction.set_rollback(True)
    with transaction.atomic():
        e = event_record("test.e", {}, unit=unit)
    assert sent(pushed) == [(a.id, 0, 0), (b.id, a.id, None), (c.id, b.id, a.id), (e.id, c.id, c.id)]


# --- savepoints --------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_an_event_taken_back_by_a_savepoint_between_two_calls_is_no_ones_predecessor(pushed):
    unit, other = factories.UnitFactory(), factories.UnitFactory()
    with transaction.atomic():
        a = event_record("test.a", {}, unit=unit)
        try:
            with transaction.atomic():
                event_record("test.rolled_back", {}, unit=unit)
                event_record("test.rolled_back", {}, unit=other)
                raise RuntimeError("take it back")
        except RuntimeError:
            pass
        c = event_record("test.c", {}, unit=unit)
        d = event_record("test.d", {}, unit=other)
    assert sent(pushed) == [(a.id, 0, 0), (c.id, a.id, a.id), (d.id, c.id, 0)]
    assert trip_ids(pushed) == [[a.id], [c.id], [d.id]]
    assert list(Event.objects.values_list("type", flat=True).order_by("id")) == ["test.a", "test.c", "test.d"]


@pytest.mark.django_db(transaction=True)
def test_a_savepoint_that_recorded_the_first_event_and_was_rolled_back_leaves_nothing_behind(pushed):
    unit = factories.UnitFactory()
    with transaction.atomic():
        try:
            with transaction.atomic():
                event_record("test.rolled_back", {}, unit=unit)
                raise RuntimeError("take it back")
        except RuntimeError:
            pass
        b = event_record("test.b", {}, unit=unit)
    assert sent(pushed) == [(b.id, 0, 0)]


@pytest.mark.django_db(transaction=True)
def test_a_savepoint_rolled_back_after_the_last_event_still_lets_the_others_go_out(pushed):
    unit = factories.UnitFactory()
    with transaction.atomic():
        a = event_record("test.a", {}, unit=unit)
        try:
            with transaction.atomic():
                event_record("test.rolled_back", {}, unit=unit)
                raise RuntimeError("take it back")
        except RuntimeError:
            pass
    assert sent(pushed) == [(a.id, 0, 0)]
    assert len(pushed.trips) == 1


@pytest.mark.django_db(transaction=True)
def test_the_events_of_a_savepoint_that_is_kept_go_out_in_their_place(pushed):
    unit = factories.UnitFactory()
    with transaction.atomic():
        a = event_record("test.a", {}, unit=unit)
        with transaction.atomic():
            b = event_record("test.b", {}, unit=unit)
        c = event_record("test.c", {})
    assert sent(pushed) == [(a.id, 0, 0), (b.id, a.id, a.id), (c.id, b.id, None)]


# --- a push that fails -------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_push_that_fails_is_logged_and_the_transactions_later_pushes_still_go_out(monkeypatch, caplog):
    trips = []

    async def push(pushes):
        trips.append([message["event"]["id"] for _groups, message in pushes])
        if len(trips) == 1:
            raise ConnectionError("the channel layer is away")

    monkeypatch.setattr(events_module, "_push", push)
    with transaction.atomic():
        a = event_record("test.a", {})
        b = event_record("test.b", {})
    assert trips == [[a.id], [b.id]]
    assert f"could not push events [{a.id}]" in caplog.text
    assert list(Event.objects.values_list("id", flat=True).order_by("id")) == [a.id, b.id]


class BrokenUnitGroups:
    """A channel layer that refuses every send to a unit's group."""

    def __init__(self):
        self.delivered = []

    async def group_send(self, group, message):
        if group.startswith("unit."):
            raise ConnectionError("the channel layer is away")
        self.delivered.append((group, message))


@pytest.mark.django_db(transaction=True)
def test_a_group_the_channel_layer_refuses_is_logged_and_the_other_groups_still_get_the_event(
    monkeypatch, caplog
):
    layer = BrokenUnitGroups()
    monkeypatch.setattr(events_module, "get_channel_layer", lambda: layer)
    unit = factories.UnitFactory()
    with transaction.atomic():
        a = event_record("test.a", {}, unit=unit)
    assert [(group, message["event"]["id"]) for group, message in layer.delivered] == [
        (dispatch_group(first_program().pk), a.id)
    ]
    assert f"could not push events [{a.id}] to {unit_group(unit.pk)}" in caplog.text


# --- commit order on PostgreSQL ----------------------------------------------------------------
def a_writer_holding_its_transaction_open(record):
    """Start a writer that runs `record` in a transaction and keeps it open until told to
    commit. Returns (outcome, done, recorded, commit)."""
    recorded, commit = threading.Event(), threading.Event()

    def write():
        with transaction.atomic():
            event = record()
            recorded.set()
            assert commit.wait(10)
        return event

    outcome, done = in_thread(write)
    return outcome, done, recorded, commit


def a_lone_event():
    with transaction.atomic():
        return event_record("test.second", {})


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_second_writer_waits_for_the_first_commit_so_ids_follow_commit_order(
    require_postgres, pushed
):
    first, first_done, recorded, commit = a_writer_holding_its_transaction_open(
        lambda: event_record("test.first", {})
    )
    assert recorded.wait(10)
    second, second_done = in_thread(a_lone_event)
    # Drawing an id while the first writer's lower one is not yet committed would let a
    # client see the second event, then the first: `resume` from the second would skip it.
    assert not second_done.wait(0.5), "the second writer did not wait for the first to commit"
    commit.set()
    assert first_done.wait(10) and second_done.wait(10)
    first, second = result(first), result(second)
    assert first.id < second.id
    assert sorted(sent(pushed)) == [(first.id, 0, None), (second.id, first.id, None)]


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_lock_is_taken_again_after_a_savepoint_that_took_it_rolled_back(
    require_postgres, pushed
):
    def record_after_a_rolled_back_savepoint():
        try:
            with transaction.atomic():
                event_record("test.rolled_back", {})  # takes the lock, inside the savepoint
                raise RuntimeError("take it back")  # and the rollback to it lets the lock go
        except RuntimeError:
            pass
        return event_record("test.first", {})

    first, first_done, recorded, commit = a_writer_holding_its_transaction_open(
        record_after_a_rolled_back_savepoint
    )
    assert recorded.wait(10)
    second, second_done = in_thread(a_lone_event)
    assert not second_done.wait(0.5), "the second writer did not wait for the first to commit"
    commit.set()
    assert first_done.wait(10) and second_done.wait(10)
    first, second = result(first), result(second)
    assert first.id < second.id
    assert sorted(sent(pushed)) == [(first.id, 0, None), (second.id, first.id, None)]
