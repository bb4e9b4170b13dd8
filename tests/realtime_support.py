"""Helpers for the WebSocket tests: connect the real ASGI application in-process as a signed-in
user and read what it sends."""

import asyncio
from contextlib import asynccontextmanager

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from dispatch import services
from dispatch.models import Shift, Unit
from tests import factories
from tests.live import session_cookie_for


@pytest.fixture
def fresh_channel_layer():
    """A channel layer made on this test's event loop (the layers cache their backend)."""
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@asynccontextmanager
async def socket(path: str, user=None):
    """A WebSocket to `path` through config.asgi (origin check, session auth, routing)."""
    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie_for)(user)
        headers.append((b"cookie", f"{cookie['name']}={cookie['value']}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def receive(communicator, timeout=3.0) -> dict:
    return await communicator.receive_json_from(timeout=timeout)


async def receive_events(communicator, count: int, timeout=3.0) -> list[dict]:
    """The next `count` events (messages with an id), skipping control messages."""
    events = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            message = await communicator.receive_json_from(timeout=timeout)
            if "id" in message:
                events.append(message)
    return events


async def receive_until(communicator, predicate, timeout=3.0) -> list[dict]:
    """Every event up to and including the first one `predicate` accepts."""
    events = []
    async with asyncio.timeout(timeout):
        while True:
            message = await communicator.receive_json_from(timeout=timeout)
            if "id" not in message:
                continue
            events.append(message)
            if predicate(message):
                return events


async def drain(communicator, quiet=0.3) -> list[dict]:
    """Everything sent until the socket is quiet for `quiet` seconds."""
    messages = []
    while not await communicator.receive_nothing(timeout=quiet):
        messages.append(await communicator.receive_json_from())
    return messages


# --- sync helpers, called with database_sync_to_async ---------------------------------------
def make_unit_with_responder(callsign: str, username: str):
    unit = factories.UnitFactory(callsign=callsign)
    user = factories.UserFactory(username=username, roles=["responder"])
    Shift.objects.create(unit=unit, user=user, started_at=timezone.now())
    return unit, user


def make_incident(**overrides):
    values = {
        "caller_name": "Ann",
        "caller_phone": "303-555-0100",
        "narrative": "Man sitting on the sidewalk for hours.",
        **overrides,
    }
    return factories.incident(**values)


def assign(incident, callsign: str, actor=None):
    return services.assignment_create(incident_id=incident.pk, callsign=callsign, actor=actor)


def unit_status(callsign: str) -> str:
    return Unit.objects.get(callsign=callsign).status
