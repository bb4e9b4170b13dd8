"""/ws/field/ and /ws/dispatch/ (CONTRACT.md "Live events over WebSocket"), in-process."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.utils import timezone

from dispatch import events as events_module
from dispatch import services
from dispatch.events import EventType, event_record
from dispatch.groups import dispatch_group
from dispatch.models import Assignment, Event
from dispatch.programs import first_program
from tests.realtime_support import (
    assign,
    drain,
    fresh_channel_layer,  # noqa: F401 - a fixture
    make_incident,
    make_unit_with_responder,
    receive,
    receive_events,
    receive_until,
    socket,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]

db = database_sync_to_async


@pytest.fixture
def two_units(call_types):
    """CR-1 and CR-2, each with a responder on shift."""
    cr1, maya = make_unit_with_responder("CR-1", "maya")
    cr2, theo = make_unit_with_responder("CR-2", "theo")
    return {"cr1": cr1, "maya": maya, "cr2": cr2, "theo": theo}


def newest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- who may connect ----------------------------------------------------------------------------
async def test_sockets_close_4401_for_anonymous_and_4403_for_a_wrong_role(personas):
    for path in ["/ws/field/", "/ws/dispatch/"]:
        async with socket(path) as ws:
            assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
    refused = [
        ("/ws/field/", "dispatcher"),
        ("/ws/field/", "supervisor"),
        ("/ws/field/", "police_officer"),
        ("/ws/field/", "nobody"),
        ("/ws/dispatch/", "responder"),
        ("/ws/dispatch/", "case_manager"),
        ("/ws/dispatch/", "police_officer"),
        ("/ws/dispatch/", "nobody"),
    ]
    for path, role in refused:
        async with socket(path, personas[role]) as ws:
            closed = await ws.receive_output(timeout=2)
            assert closed == {"type": "websocket.close", "code": 4403}, (path, role)
    for role in ["dispatcher", "supervisor"]:
        async with socket("/ws/dispatch/", personas[role]) as ws:
            assert await ws.receive_nothing(timeout=0.2)
    async with socket("/ws/field/", personas["responder"]) as ws:
        assert await receive(ws) == {"type": "shift", "unit_id": None}


# --- who receives what ----------------------------------------------------------------------------
async def test_the_tablet_on_shift_receives_its_units_assignment_with_the_call(two_units):
    incident = await db(make_incident)(call_type="WELFARE", location_details="lobby")
    async with (
        socket("/ws/field/", two_units["maya"]) as mine,
        socket("/ws/field/", two_units["theo"]) as other,
    ):
        assert await receive(mine) == {"type": "shift", "unit_id": two_units["cr1"].pk}
        assert await receive(other) == {"type": "shift", "unit_id": two_units["cr2"].pk}
        assignment = await db(assign)(incident, "CR-1")
        received = await receive_until(mine, lambda e: e["type"] == "assignment.created")
        created = received[-1]
        assert set(created) == {"id", "type", "at", "data"}
        assert created["at"].endswith("Z")
        data = created["data"]
        assert data["id"] == str(assignment.pk)
        assert data["unit"] == "CR-1"
        assert data["status"] == "dispatched"
        call = data["incident"]
        assert call["id"] == str(incident.pk)
        assert call["call_type"] == "WELFARE"
        assert call["location"]["address"] == "100 Main St"
        assert call["location"]["details"] == "lobby"
        assert call["narrative"] == "Man sitting on the sidewalk for hours."
        assert call["screening"] == {
            "weapons": False,
            "violence": False,
            "medical_emergency": False,
            "police_only": False,
        }
        assert call["caller"]["phone"] == "303-555-0100"
        assert [e["type"] for e in received] == ["unit.updated", "assignment.created"]
        # Nothing about CR-1 reaches CR-2's tablet, live or through the catch-up.
        assert await other.receive_nothing(timeout=1.0)
        assert await drain(mine, quiet=0.7) == []


async def test_the_console_receives_every_units_and_incidents_events(two_units, personas):
    async with socket("/ws/dispatch/", personas["dispatcher"]) as console:
        incident = await db(make_incident)()
        await db(assign)(incident, "CR-2")
        received = await receive_events(console, 4)
        assert [e["type"] for e in received] == [
            "incident.created",
            "unit.updated",
            "assignment.created",
            "incident.updated",
        ]
        ids = [e["id"] for e in received]
        assert ids == sorted(ids)
        assert received[2]["data"]["unit"] == "CR-2"
        assert await drain(console, quiet=0.7) == []


async def test_a_responder_whose_shift_moves_follows_the_new_unit(two_units):
    from dispatch.models import Shift

    maya = two_units["maya"]
    async with socket("/ws/field/", maya) as ws:
        await receive(ws)

        def move():
            Shift.objects.filter(user=maya).update(ended_at=timezone.now())
            Shift.objects.create(unit=two_units["cr2"], user=maya, started_at=timezone.now())

        await db(move)()
        # The server side group message a field service sends on a shift change.
        from channels.layers import get_channel_layer

        from dispatch.groups import user_group

        await get_channel_layer().group_send(user_group(maya.pk), {"type": "shift.changed"})
        assert await receive(ws) == {"type": "shift", "unit_id": two_units["cr2"].pk}
        incident = await db(make_incident)()
        await db(assign)(incident, "CR-2")
        received = await receive_until(ws, lambda e: e["type"] == "assignment.created")
        assert received[-1]["data"]["unit"] == "CR-2"


# --- resume and resync ------------------------------------------------------------------------------
async def test_resume_replays_every_visible_event_in_order_then_continues_live(two_units):
    first = await db(make_incident)()
    start = await db(newest_event_id)()
    await db(assign)(first, "CR-1")
    assignment = await db(Assignment.objects.get)(incident=first)
    await db(services.assignment_set_status)(assignment_id=assignment.pk, status="en_route", actor=None)
    other = await db(make_incident)()
    await db(assign)(other, "CR-2")
    expected = await db(
        lambda: list(
            Event.objects.filter(id__gt=start, unit=two_units["cr1"]).order_by("id").values("id", "type")
        )
    )()
    assert [e["type"] for e in expected] == [
        "unit.updated",
        "assignment.created",
        "unit.updated",
        "assignment.updated",
    ]
    async with socket("/ws/field/", two_units["maya"]) as ws:
        await receive(ws)
        await ws.send_json_to({"type": "resume", "last_event_id": start})
        replayed = await receive_events(ws, len(expected))
        assert [{"id": e["id"], "type": e["type"]} for e in replayed] == expected
        await db(services.assignment_set_status)(assignment_id=assignment.pk, status="on_scene", actor=None)
        live = await receive_until(ws, lambda e: e["type"] == "assignment.updated")
        assert live[-1]["data"]["status"] == "on_scene"
        assert min(e["id"] for e in live) > replayed[-1]["id"]
        # No duplicates, not even from the catch-up (every 0.5 s in the tests).
        assert await drain(ws, quiet=1.2) == []


async def test_the_console_resumes_from_its_last_id_and_sees_everything_after(two_units, personas):
    incident = await db(make_incident)()
    start = await db(newest_event_id)()
    await db(assign)(incident, "CR-1")
    await db(services.incident_cancel)(incident=incident, actor=None)
    expected = await db(
        lambda: list(Event.objects.filter(id__gt=start).order_by("id").values_list("id", flat=True))
    )()
    async with socket("/ws/dispatch/", personas["dispatcher"]) as ws:
        await ws.send_json_to({"type": "resume", "last_event_id": start})
        replayed = await receive_events(ws, len(expected))
        assert [e["id"] for e in replayed] == expected
        assert await drain(ws, quiet=0.7) == []
    async with socket("/ws/dispatch/", personas["dispatcher"]) as ws:
        # Resuming at the newest id sends nothing old.
        await ws.send_json_to({"type": "resume", "last_event_id": expected[-1]})
        assert await drain(ws, quiet=0.7) == []


async def test_resume_from_before_what_the_log_keeps_or_after_the_newest_asks_for_a_resync(
    two_units, personas, settings
):
    await db(make_incident)()
    await db(make_incident)()
    old = await db(newest_event_id)()
    await db(make_incident)()

    def age_and_prune():
        Event.objects.filter(id__lte=old).update(at=timezone.now() - timedelta(hours=100))
        call_command("prune_events", stdout=open("/dev/null", "w"))  # noqa: SIM115

    settings.EVENT_RETENTION_HOURS = 72
    await db(age_and_prune)()
    async with socket("/ws/dispatch/", personas["dispatcher"]) as ws:
        await ws.send_json_to({"type": "resume", "last_event_id": old - 1})
        assert await receive(ws) == {"type": "resync"}
        # ...and it stays live after the resync.
        await db(make_incident)()
        [created] = await receive_events(ws, 1)
        assert created["type"] == "incident.created"
    async with socket("/ws/dispatch/", personas["dispatcher"]) as ws:
        # Exactly at the edge nothing was lost: replay, not resync.
        await ws.send_json_to({"type": "resume", "last_event_id": old})
        [kept] = await receive_events(ws, 1)
        assert kept["id"] == old + 1
    newest = await db(newest_event_id)()
    for path, user in [("/ws/dispatch/", personas["dispatcher"]), ("/ws/field/", two_units["maya"])]:
        async with socket(path, user) as ws:
            # An id newer than any (another database, a restored backup): reload.
            await ws.send_json_to({"type": "resume", "last_event_id": newest + 1000})
            assert await receive_until_type(ws, "resync") == {"type": "resync"}


async def receive_until_type(ws, kind):
    while True:
        message = await receive(ws)
        if message.get("type") == kind:
            return message


async def test_a_resume_after_live_events_went_out_resyncs_rather_than_reorder(two_units, personas):
    await db(make_incident)()
    before = await db(newest_event_id)()
    await db(make_incident)()
    async with socket("/ws/dispatch/", personas["dispatcher"]) as ws:
        await db(make_incident)()
        [live] = await receive_events(ws, 1)
        # The client now asks for older events than one it already has: they cannot come
        # before it any more, so the client is told to reload.
        await ws.send_json_to({"type": "resume", "last_event_id": before})
        assert await receive(ws) == {"type": "resync"}
        await db(make_incident)()
        [after] = await receive_events(ws, 1)
        assert after["id"] > live["id"]


BAD_MESSAGES = [
    ({"type": "resume"}, "bad_message"),
    ({"type": "resume", "last_event_id": "12"}, "bad_message"),
    ({"type": "resume", "last_event_id": -1}, "bad_message"),
    ({"type": "resume", "last_event_id": True}, "bad_message"),
    ({"type": "shout"}, "unknown_type"),
    ([1, 2], "bad_message"),
]


async def test_a_bad_message_is_answered_with_an_error_and_the_socket_stays_open(personas):
    async with socket("/ws/dispatch/", personas["dispatcher"]) as ws:
        for message, code in BAD_MESSAGES:
            await ws.send_json_to(message)
            answer = await receive(ws)
            assert answer["type"] == "error"
            assert answer["code"] == code, message
        await ws.send_to(text_data="not json")
        assert (await receive(ws))["code"] == "bad_message"


# --- ordering and lost messages -----------------------------------------------------------------------
async def test_a_live_event_whose_predecessor_was_dropped_brings_it_from_the_log_first(
    two_units, personas, settings, monkeypatch
):
    settings.EVENT_CATCHUP_SECONDS = 60  # only the gap check may recover it here
    real_send = events_module.events_send
    dropped = []

    def flaky_send(pushes):
        if not dropped:
            # The channel layer loses the first push (the incident.created alone).
            dropped.extend(message["event"]["id"] for _groups, message in pushes)
            return
        real_send(pushes)

    monkeypatch.setattr(events_module, "events_send", flaky_send)
    async with (
        socket("/ws/dispatch/", personas["dispatcher"]) as console,
        socket("/ws/field/", two_units["maya"]) as tablet,
    ):
        await receive(tablet)
        incident = await db(make_incident)()  # incident.created: dropped
        await db(assign)(incident, "CR-1")  # unit.updated (CR-1) etc.: delivered
        received = await receive_events(console, 4, timeout=2)
        assert [e["type"] for e in received] == [
            "incident.created",
            "unit.updated",
            "assignment.created",
            "incident.updated",
        ]
        assert received[0]["id"] == dropped[0]
        tablet_events = await receive_events(tablet, 2, timeout=2)
        assert [e["type"] for e in tablet_events] == ["unit.updated", "assignment.created"]


def a_recorded_event_id() -> int:
    """The id of a fresh event, so a resume from it is never older than the log."""
    from django.db import transaction

    with transaction.atomic():
        return event_record(EventType.INCIDENT_UPDATED, {"n": 0}).id


async def test_events_arriving_out_of_order_reach_the_client_in_order_once(
    two_units, personas, settings, monkeypatch
):
    settings.EVENT_CATCHUP_SECONDS = 60
    monkeypatch.setattr(events_module, "events_send", lambda pushes: None)
    from channels.layers import get_channel_layer

    async with socket("/ws/dispatch/", personas["dispatcher"]) as ws:

        def two_events_not_sent():
            from django.db import transaction

            stored = []
            with transaction.atomic():
                stored.append(event_record(EventType.INCIDENT_UPDATED, {"n": 1}))
            with transaction.atomic():
                stored.append(event_record(EventType.INCIDENT_UPDATED, {"n": 2}))
            return stored

        # The console is live (it has resumed), so pushes go straight out unless one is missing.
        await ws.send_json_to({"type": "resume", "last_event_id": await db(a_recorded_event_id)()})
        # Record both without pushing them, then push them swapped, as two processes' pushes
        # may cross on the way.
        first, second = await db(two_events_not_sent)()
        layer = get_channel_layer()
        program_id = await db(lambda: first_program().pk)()
        for event, prev in [(second, first.id), (first, first.id - 1)]:
            await layer.group_send(
                dispatch_group(program_id), events_module.event_push_message(event, prev, None)
            )
        received = await drain(ws, quiet=0.5)
        assert [m["id"] for m in received] == [first.id, second.id]


async def test_an_assigns_events_reach_the_tablet_in_one_layer_message_in_order_once(
    two_units, settings, monkeypatch
):
    """The events one call records (an assign's three) travel to each group as one
    channel-layer message."""
    settings.EVENT_CATCHUP_SECONDS = 60  # only the push may bring them here
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    real_group_send = layer.group_send
    sent = []

    async def group_send(group, message):
        sent.append((group, message["type"]))
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "group_send", group_send)
    async with socket("/ws/field/", two_units["maya"]) as tablet:
        await receive(tablet)
        await tablet.send_json_to({"type": "resume", "last_event_id": await db(a_recorded_event_id)()})
        await drain(tablet, quiet=0.3)
        sent.clear()
        await db(assign)(await db(make_incident)(), "CR-1")
        received = await drain(tablet, quiet=0.5)
        assert [e["type"] for e in received] == ["unit.updated", "assignment.created"]
        assert received[0]["id"] < received[1]["id"]
    unit_sends = [kind for group, kind in sent if group.startswith("unit.")]
    assert unit_sends == ["events.deliver"]


async def test_a_live_event_is_encoded_once_however_many_sockets_send_it(personas, settings, monkeypatch):
    """Five consoles hear one event: its JSON is written once (dispatch.events), and each
    socket sends that text as it is, not an encoding of its own."""
    import json

    settings.EVENT_CATCHUP_SECONDS = 60  # only the push may bring it here (a fill encodes its own)
    from contextlib import AsyncExitStack

    from django.db import transaction

    real_dumps = json.dumps
    encoded = []

    def counting_dumps(obj, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("type") == EventType.INCIDENT_UPDATED:
            encoded.append(obj.get("id"))
        return real_dumps(obj, *args, **kwargs)

    def an_update():
        with transaction.atomic():
            return event_record(EventType.INCIDENT_UPDATED, {"n": 1})

    async with AsyncExitStack() as stack:
        consoles = [
            await stack.enter_async_context(socket("/ws/dispatch/", personas["dispatcher"])) for _ in range(5)
        ]
        start = await db(a_recorded_event_id)()
        for console in consoles:  # live: every later event goes straight out
            await console.send_json_to({"type": "resume", "last_event_id": start})
        for console in consoles:
            assert await drain(console, quiet=0.2) == []
        monkeypatch.setattr(json, "dumps", counting_dumps)
        event = await db(an_update)()
        received = [await receive(console) for console in consoles]
        monkeypatch.undo()
    assert received == [json.loads(json.dumps(events_module.event_as_message(event)))] * 5
    assert encoded == [event.id]


# --- ack -----------------------------------------------------------------------------------------------
async def test_ack_records_acknowledged_at_and_tells_the_console_and_only_for_its_own_unit(
    two_units, personas
):
    incident = await db(make_incident)()
    others = await db(assign)(await db(make_incident)(), "CR-2")
    others_created = await db(
        lambda: Event.objects.get(type="assignment.created", data__id=str(others.pk)).id
    )()
    async with (
        socket("/ws/dispatch/", personas["dispatcher"]) as console,
        socket("/ws/field/", two_units["maya"]) as tablet,
    ):
        await receive(tablet)
        for bad in [others_created, 10**9]:
            await tablet.send_json_to({"type": "ack", "event_id": bad})
            answer = await receive(tablet)
            assert (answer["type"], answer["code"]) == ("error", "not_found")
        await tablet.send_json_to({"type": "ack", "event_id": "7"})
        assert (await receive(tablet))["code"] == "bad_message"
        assert (await db(Assignment.objects.get)(pk=others.pk)).acknowledged_at is None
        assignment = await db(assign)(incident, "CR-1")
        created = (await receive_until(tablet, lambda e: e["type"] == "assignment.created"))[-1]
        await receive_until(console, lambda e: e["type"] == "incident.updated")
        await tablet.send_json_to({"type": "ack", "event_id": created["id"]})
        told = (await receive_until(console, lambda e: e["type"] == "assignment.updated"))[-1]
        assert told["data"]["id"] == str(assignment.pk)
        assert told["data"]["acknowledged_at"].endswith("Z")
        stored = await db(Assignment.objects.get)(pk=assignment.pk)
        assert stored.acknowledged_at is not None
        # A second ack changes nothing and tells no one again.
        await tablet.send_json_to({"type": "ack", "event_id": created["id"]})
        await drain(tablet, quiet=0.3)
        assert await drain(console, quiet=0.5) == []
        assert (await db(Assignment.objects.get)(pk=assignment.pk)).acknowledged_at == stored.acknowledged_at


# --- the moment between the socket opening and the client's resume --------------------------------
async def test_a_live_event_before_the_resume_arrives_is_sent_in_order_after_the_missed_ones(two_units):
    """A reconnecting tablet missed an assignment; another lands while its resume is on the way.
    It gets both, in order, and no resync."""
    first_incident = await db(make_incident)(call_type="WELFARE")
    before = await db(newest_event_id)()
    missed = await db(assign)(first_incident, "CR-1")  # while the tablet was away
    async with socket("/ws/field/", two_units["maya"]) as ws:
        assert await receive(ws) == {"type": "shift", "unit_id": two_units["cr1"].pk}
        await db(services.assignment_set_status)(assignment_id=missed.pk, status="en_route", actor=None)
        await ws.send_json_to({"type": "resume", "last_event_id": before})
        received = await drain(ws, quiet=1.5)
    assert all(message.get("type") != "resync" for message in received)
    ids = [message["id"] for message in received]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    kinds = [(m["type"], m["data"].get("status")) for m in received if m["type"].startswith("assignment.")]
    assert kinds == [("assignment.created", "dispatched"), ("assignment.updated", "en_route")]


async def test_a_client_that_never_resumes_still_gets_live_events_after_the_grace(two_units):
    incident = await db(make_incident)(call_type="WELFARE")
    async with socket("/ws/field/", two_units["maya"]) as ws:
        await receive(ws)  # the shift message
        await db(assign)(incident, "CR-1")
        created = await receive_until(ws, lambda m: m.get("type") == "assignment.created", timeout=4)
    assert created[-1]["data"]["incident"]["id"] == str(incident.pk)
