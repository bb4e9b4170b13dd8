"""dispatch.events.event_record: every pushed event names the event before it, for dispatch and
for its unit, even when one transaction records several or a savepoint takes one back."""

import pytest
from django.db import transaction

from dispatch import events as events_module
from dispatch.events import event_record
from dispatch.groups import DISPATCH_GROUP, unit_group
from dispatch.models import Event
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

    def recorder(function):
        def run(pushes):
            record.trips.append(pushes)
            record.extend(message for _groups, message in pushes)

        return run

    monkeypatch.setattr(events_module, "async_to_sync", recorder)
    return record


def sent(messages):
    return [(m["event"]["id"], m["prev"], m["prev_unit"]) for m in messages]


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
    # One trip to the event loop per transaction; the unit's group first for each event.
    assert [len(trip) for trip in pushed.trips] == [1, 5]
    assert pushed.trips[1][0][0] == [unit_group(one.pk), DISPATCH_GROUP]
    assert pushed.trips[1][2][0] == [DISPATCH_GROUP]


@pytest.mark.django_db(transaction=True)
def test_an_event_taken_back_by_a_savepoint_is_no_ones_predecessor(pushed):
    unit = factories.UnitFactory()
    with transaction.atomic():
        a = event_record("test.a", {}, unit=unit)
        try:
            with transaction.atomic():
                event_record("test.rolled_back", {}, unit=unit)
                raise RuntimeError("take it back")
        except RuntimeError:
            pass
        c = event_record("test.c", {}, unit=unit)
    assert sent(pushed) == [(a.id, 0, 0), (c.id, a.id, a.id)]
    assert len(pushed.trips) <= 2
    assert list(Event.objects.values_list("type", flat=True).order_by("id")) == ["test.a", "test.c"]


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
def test_nothing_is_pushed_for_a_transaction_that_rolls_back_and_the_next_one_pushes_alone(pushed):
    unit = factories.UnitFactory()
    with transaction.atomic():
        event_record("test.rolled_back", {}, unit=unit)
        transaction.set_rollback(True)
    assert pushed == []
    with transaction.atomic():
        b = event_record("test.b", {}, unit=unit)
    assert [[message["event"]["id"] for _g, message in trip] for trip in pushed.trips] == [[b.id]]


@pytest.mark.django_db(transaction=True)
def test_an_event_sent_outside_any_transaction_goes_at_once(pushed):
    with transaction.atomic():
        a = event_record("test.a", {})
    pushed.clear()
    events_module.event_send(a, prev=0, prev_unit=None)
    assert sent(pushed) == [(a.id, 0, None)]
