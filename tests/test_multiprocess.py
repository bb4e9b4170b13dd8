"""Delivery across processes and despite a lossy channel layer.

With REDIS_URL set, a tablet connected to one Daphne process receives an assignment made
through another. And a message the channel layer drops is still delivered, from the log."""

import asyncio
import json
import threading
import time
import urllib.request

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from dispatch import events as events_module
from dispatch.models import Shift
from tests import factories
from tests.live import session_cookie_for
from tests.realtime_support import (
    assign,
    fresh_channel_layer,  # noqa: F401 - a fixture
    make_incident,
    make_unit_with_responder,
    receive,
    receive_until,
    socket,
)


def post_json(url: str, body: dict, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def start_both(daphne_factory, **env):
    """Start two Daphne processes side by side (half the wait of one after the other)."""
    servers, errors = [None, None], []

    def start(index):
        try:
            servers[index] = daphne_factory(**env)
        except Exception as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return servers


def test_a_tablet_on_one_process_receives_an_assignment_made_through_another(
    require_redis, require_postgres, daphne_factory, call_types
):
    unit = factories.UnitFactory(callsign="CR-1")
    responder = factories.UserFactory(username="maya", roles=["responder"])
    Shift.objects.create(unit=unit, user=responder, started_at=timezone.now())
    _client, key = factories.api_client("cad-mp", "cad")
    cookie = session_cookie_for(responder)
    # A long catch-up: only the channel layer (Redis) can bring the event in time.
    server_a, server_b = start_both(daphne_factory, EVENT_CATCHUP_SECONDS=60)

    async def scenario():
        headers = {"Cookie": f"{cookie['name']}={cookie['value']}", "Origin": server_a.url}
        async with websockets.connect(f"{server_a.ws_url}/ws/field/", additional_headers=headers) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "shift", "unit_id": unit.pk}
            status, incident = await asyncio.to_thread(
                post_json,
                f"{server_b.url}/api/v1/incidents/",
                factories.cad_incident_body(external_id="MP-1", location={"address": "1 Process Way"}),
                key,
            )
            assert status == 201
            started = time.monotonic()
            status, assignment = await asyncio.to_thread(
                post_json, f"{server_b.url}/api/v1/incidents/{incident['id']}/assign", {"unit": "CR-1"}, key
            )
            assert status == 201
            async with asyncio.timeout(2):
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("type") == "assignment.created":
                        break
            return message, time.monotonic() - started, assignment

    message, elapsed, assignment = asyncio.run(scenario())
    assert message["data"]["id"] == assignment["id"]
    assert message["data"]["incident"]["location"]["address"] == "1 Process Way"
    assert elapsed < 2.0
    print(f"assign on B -> tablet on A: {elapsed * 1000:.0f} ms")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_an_event_the_channel_layer_drops_still_reaches_the_tablet_from_the_log(
    call_types, monkeypatch
):
    monkeypatch.setattr(events_module, "events_send", lambda pushes: None)  # every push lost
    unit, maya = await database_sync_to_async(make_unit_with_responder)("CR-1", "maya")
    async with socket("/ws/field/", maya) as tablet:
        await receive(tablet)
        started = time.monotonic()
        assignment = await database_sync_to_async(assign)(
            await database_sync_to_async(make_incident)(), "CR-1"
        )
        # The tests' catch-up runs every 0.5 s (production: EVENT_CATCHUP_SECONDS).
        events = await receive_until(tablet, lambda e: e["type"] == "assignment.created", timeout=3)
        assert time.monotonic() - started < 3
        assert events[-1]["data"]["id"] == str(assignment.pk)
        assert [e["type"] for e in events] == ["unit.updated", "assignment.created"]


@pytest.mark.asyncio
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_channel_layer_outwaits_an_idle_stretch_longer_than_its_read_timeout(
    require_redis, settings
):
    """redis-py 8 gives up on a read after its socket timeout: with the list-based layer every
    idle tablet's socket died with "Timeout reading from" (the benchmark's unplanned drops).
    Nothing arriving, for longer than a read may take, must only mean waiting."""
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {
                **settings.CHANNEL_LAYERS["default"]["CONFIG"],
                "hosts": [{**settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0], "socket_timeout": 1}],
            },
        }
    }
    layer = get_channel_layer()
    channel = await layer.new_channel()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), timeout=3)
    channel = await layer.new_channel()  # the cancelled receive gave its channel up
    await layer.send(channel, {"type": "still.here"})
    assert await asyncio.wait_for(layer.receive(channel), timeout=2) == {"type": "still.here"}


@pytest.mark.asyncio
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_a_whole_process_of_tablets_may_leave_their_groups_at_once(require_redis):
    """A proxy restart drops every socket of a process together: 250 tablets leaving two
    groups each must not run out of Redis connections (redis-py 8 caps a pool at 100)."""
    layer = get_channel_layer()
    channels = [await layer.new_channel() for _ in range(250)]
    for channel in channels:
        await layer.group_add("test.mass", channel)
    groups = ("test.mass", "test.other")
    await asyncio.gather(*(layer.group_discard(group, channel) for channel in channels for group in groups))
