"""The unacknowledged-assignment alert: raised once per overdue assignment, never for an
acknowledged one, pushed to the console, and raised in production by the open consoles."""

import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from dispatch import services
from dispatch.models import Alert, Assignment, Event
from tests.factories import UnitFactory
from tests.realtime_support import (
    assign,
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
async def test_an_open_console_raises_and_receives_the_alert_without_anyone_asking(
    call_types, personas, settings
):
    settings.ACK_ALERT_SECONDS = 1
    settings.ACK_ALERT_CHECK_SECONDS = 0.3
    await db(UnitFactory)(callsign="CR-1")
    async with socket("/ws/dispatch/", personas["dispatcher"]) as console:
        assignment = await db(assign)(await db(make_incident)(), "CR-1")
        events = await receive_until(console, lambda e: e["type"] == "alert.raised", timeout=5)
        alert = events[-1]["data"]
        assert alert["kind"] == "ack_overdue"
        assert alert["assignment"] == str(assignment.pk)
        assert alert["unit"] == "CR-1"
        # Raised once, even though the check keeps running.
        assert await console.receive_nothing(timeout=1.0)
    assert await db(Alert.objects.filter(assignment_id=assignment.pk).count)() == 1
