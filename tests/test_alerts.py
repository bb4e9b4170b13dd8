"""The unacknowledged-assignment alert: raised once per overdue assignment, never for an
acknowledged one, pushed to the console, and raised in production by the background worker's
periodic task (tests/test_worker.py runs a real worker)."""

import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from dispatch import services, tasks
from dispatch.models import Alert, Assignment, Event, WorkerChain
from tests.factories import UnitFactory
from tests.realtime_support import (
    assign,
    drain,
    fresh_channel_layer,  # noqa: F401 - a fixture
    make_incident,
    receive_until,
    socket,
)

db = database_sync_to_async


def dispatched(callsign: str, seconds_ago: float) -> Assignment:
    UnitFactory(callsign=callsign)
    assignment = assign(make_incident(), callsign)
    Assignment.objects.filter(pk=assignment.pk).update(
        dispatched_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    return assignment


def test_it_raises_one_alert_per_overdue_assignment_and_none_twice(call_types, settings):
    settings.ACK_ALERT_SECONDS = 60
    late = dispatched("CR-1", 61)
    also_late = dispatched("CR-2", 300)
    dispatched("CR-3", 30)  # not yet due
    acknowledged = dispatched("CR-4", 120)
    services.assignment_acknowledge(assignment_id=acknowledged.pk, actor=None)
    cancelled = dispatched("CR-5", 120)
    services.incident_cancel(incident=cancelled.incident, actor=None)

    raised = services.alerts_raise_overdue()

    assert sorted(a.assignment_id for a in raised) == sorted([late.pk, also_late.pk])
    assert all(a.kind == Alert.Kind.ACK_OVERDUE and a.urgent for a in raised)
    assert "CR-1 has not acknowledged WELFARE at 100 Main St" in Alert.objects.get(assignment=late).message
    assert services.alerts_raise_overdue() == []
    assert Alert.objects.count() == 2
    event = Event.objects.filter(type="alert.raised").order_by("id").first()
    assert event.data["kind"] == "ack_overdue"
    assert event.data["unit"] in ("CR-1", "CR-2")


def test_the_delay_is_a_setting(call_types, settings):
    settings.ACK_ALERT_SECONDS = 300
    dispatched("CR-1", 120)
    assert services.alerts_raise_overdue() == []
    settings.ACK_ALERT_SECONDS = 90
    assert len(services.alerts_raise_overdue()) == 1


def test_an_assignment_acknowledged_late_still_keeps_its_one_alert(call_types, settings):
    settings.ACK_ALERT_SECONDS = 60
    late = dispatched("CR-1", 90)
    [alert] = services.alerts_raise_overdue()
    services.assignment_acknowledge(assignment_id=late.pk, actor=None)
    assert services.alerts_raise_overdue() == []
    alert.refresh_from_db()
    assert alert.acknowledged_at is None  # a dispatcher still has to acknowledge the alert


def test_processes_checking_at_once_raise_each_alert_once(transactional_db, require_postgres, call_types):
    for n in range(4):
        dispatched(f"CR-{n}", 120)
    barrier = threading.Barrier(3)
    counts = []

    def check():
        try:
            barrier.wait(timeout=10)
            counts.append(len(services.alerts_raise_overdue()))
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(counts) == 4
    assert Alert.objects.count() == 4


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_workers_periodic_task_raises_the_alert_and_an_open_console_receives_it(
    call_types, personas, settings
):
    settings.ACK_ALERT_SECONDS = 1
    await db(UnitFactory)(callsign="CR-1")
    await db(tasks.periodic_ensure)()
    token = await db(WorkerChain.objects.values_list("token", flat=True).get)()
    async with socket("/ws/dispatch/", personas["dispatcher"]) as console:
        assignment = await db(assign)(await db(make_incident)(), "CR-1")
        await db(Assignment.objects.filter(pk=assignment.pk).update)(
            dispatched_at=timezone.now() - timedelta(seconds=5)
        )
        await db(tasks.periodic.call)(token)
        events = await receive_until(console, lambda e: e["type"] == "alert.raised", timeout=5)
        alert = events[-1]["data"]
        assert alert["kind"] == "ack_overdue"
        assert alert["assignment"] == str(assignment.pk)
        assert alert["unit"] == "CR-1"
        # Raised once, however often the job runs.
        await db(tasks.periodic.call)(token)
        assert await console.receive_nothing(timeout=0.5)
    assert await db(Alert.objects.filter(assignment_id=assignment.pk).count)() == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_an_open_console_no_longer_raises_alerts_itself(call_types, personas, settings):
    settings.ACK_ALERT_SECONDS = 1
    settings.ACK_ALERT_CHECK_SECONDS = 0.2
    await db(UnitFactory)(callsign="CR-1")
    async with socket("/ws/dispatch/", personas["dispatcher"]) as console:
        assignment = await db(assign)(await db(make_incident)(), "CR-1")
        await db(Assignment.objects.filter(pk=assignment.pk).update)(
            dispatched_at=timezone.now() - timedelta(seconds=5)
        )
        # A second of the console's life (five of the old check's intervals): no alert in it.
        heard = await drain(console, quiet=1.0)
        assert "assignment.created" in {e["type"] for e in heard}
        assert "alert.raised" not in {e["type"] for e in heard}
    assert not await db(Alert.objects.exists)()
