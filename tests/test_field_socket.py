"""/ws/field/ as the tablet's services drive it: starting and ending a shift moves the socket
to the right unit, and a responder never receives another unit's calls."""

import pytest
from channels.db import database_sync_to_async

from dispatch import services
from dispatch.models import Unit
from tests import factories
from tests.realtime_support import (
    assign,
    fresh_channel_layer,  # noqa: F401 - a fixture
    make_incident,
    receive,
    receive_events,
    socket,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]

db = database_sync_to_async


async def test_starting_a_shift_joins_the_unit_and_only_its_calls_arrive(personas, call_types):
    cr1 = await db(factories.UnitFactory)(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    await db(factories.UnitFactory)(callsign="CR-2")
    responder = personas["responder"]
    async with socket("/ws/field/", responder) as ws:
        assert await receive(ws) == {"type": "shift", "unit_id": None}
        await db(services.shift_start)(user=responder, unit_id=cr1.pk)
        assert await receive(ws) == {"type": "shift", "unit_id": cr1.pk}
        (unit_event,) = await receive_events(ws, 1)
        assert unit_event["type"] == "unit.updated" and unit_event["data"]["status"] == "available"

        await db(assign)(await db(make_incident)(narrative="CR-2's call"), "CR-2")
        await db(assign)(await db(make_incident)(narrative="CR-1's call"), "CR-1")
        events = await receive_events(ws, 2)
        created = [e for e in events if e["type"] == "assignment.created"]
        assert [e["data"]["incident"]["narrative"] for e in created] == ["CR-1's call"]
        assert {e["data"].get("unit", e["data"].get("callsign")) for e in events} == {"CR-1"}


async def test_ending_the_shift_leaves_the_unit(personas, call_types):
    cr1 = await db(factories.UnitFactory)(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    responder = personas["responder"]
    await db(services.shift_start)(user=responder, unit_id=cr1.pk)
    async with socket("/ws/field/", responder) as ws:
        assert await receive(ws) == {"type": "shift", "unit_id": cr1.pk}
        await db(services.shift_end)(user=responder)
        off_duty = await receive(ws)  # the unit's last event reaches the tablet, then it leaves
        assert off_duty["type"] == "unit.updated" and off_duty["data"]["status"] == "off_duty"
        assert await receive(ws) == {"type": "shift", "unit_id": None}
        await db(Unit.objects.filter(pk=cr1.pk).update)(status=Unit.Status.AVAILABLE)
        await db(assign)(await db(make_incident)(), "CR-1")
        assert await ws.receive_nothing(timeout=0.5)


@pytest.mark.parametrize("role", ["police_officer", "case_manager"])
async def test_police_officers_and_case_managers_are_refused_the_tablet_socket(personas, role):
    async with socket("/ws/field/", personas[role]) as ws:
        assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}
