"""The embedded default's channel layer (config/channel_layer.py): channels' in-memory layer,
its expiry sweep at most once a second instead of on every send and receive."""

import asyncio
import os
import subprocess
import sys
from unittest import mock

import pytest
import time_machine
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from config.channel_layer import SweptInMemoryChannelLayer

# A fixed moment the tests move the clock from; the layer dates messages by time.time().
START = 1_800_000_000
ORIGINAL_WALK = InMemoryChannelLayer._clean_expired


class Counted(SweptInMemoryChannelLayer):
    """The layer, counting the walks over every channel and membership it makes (channels'
    own _clean_expired, which it calls when its clock says so)."""

    walks = 0

    def _clean_expired(self):
        with mock.patch.object(InMemoryChannelLayer, "_clean_expired", autospec=True) as walk:
            walk.side_effect = ORIGINAL_WALK
            super()._clean_expired()
        self.walks += walk.call_count


async def a_layer_with(sockets: int, **config) -> tuple[Counted, list[str]]:
    layer = Counted(**config)
    channels = [await layer.new_channel() for _ in range(sockets)]
    for n, channel in enumerate(channels):
        await layer.group_add(f"unit.{n // 2}", channel)
        await layer.group_add(f"user.{n}", channel)
    return layer, channels


@pytest.mark.asyncio
async def test_many_sends_within_a_second_walk_the_channels_once():
    with time_machine.travel(START, tick=False):
        layer, channels = await a_layer_with(20)
        for n in range(10):
            await layer.group_send(f"unit.{n}", {"type": "event", "n": n})
        for channel in channels:
            assert (await layer.receive(channel))["type"] == "event"
    # Channels' own layer walks on each of the 10 group sends and 20 receives.
    assert layer.walks == 1


@pytest.mark.asyncio
async def test_a_message_is_delivered_whatever_the_sweep():
    with time_machine.travel(START, tick=False) as clock:
        layer, channels = await a_layer_with(2)
        await layer.group_send("unit.0", {"type": "event", "n": 1})
        clock.shift(0.5)
        await layer.group_send("unit.0", {"type": "event", "n": 2})
        assert [(await layer.receive(channels[0]))["n"] for _ in range(2)] == [1, 2]
        assert [(await layer.receive(channels[1]))["n"] for _ in range(2)] == [1, 2]


@pytest.mark.asyncio
async def test_an_expired_message_and_its_channels_memberships_go_on_the_next_sweep():
    with time_machine.travel(START, tick=False) as clock:
        layer, (kept, gone) = await a_layer_with(2, expiry=60)
        await layer.send(gone, {"type": "event", "n": 1})  # nobody reads it
        clock.shift(61)
        await layer.group_send("user.0", {"type": "event", "n": 2})  # sends and receives sweep
        assert gone not in layer.channels
        assert gone not in layer.groups["unit.0"] and gone not in layer.groups["user.1"]
        assert kept in layer.groups["unit.0"]
        assert (await layer.receive(kept))["n"] == 2


@pytest.mark.asyncio
async def test_a_membership_older_than_the_group_expiry_ends_on_the_next_sweep():
    with time_machine.travel(START, tick=False) as clock:
        layer, (first, second) = await a_layer_with(2, group_expiry=3600)
        clock.shift(3601)
        await layer.group_send("unit.0", {"type": "event"})
        assert not layer.groups["unit.0"]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(first), timeout=0.05)


@pytest.mark.asyncio
async def test_with_sweep_seconds_zero_it_walks_on_every_call_as_channels_does():
    with time_machine.travel(START, tick=False):
        layer, channels = await a_layer_with(4, sweep_seconds=0)
        for n in range(2):
            await layer.group_send(f"unit.{n}", {"type": "event"})
    assert layer.walks == 2


@pytest.mark.asyncio
async def test_flush_empties_the_layer_and_the_next_call_sweeps():
    with time_machine.travel(START, tick=False):
        layer, channels = await a_layer_with(2)
        await layer.group_send("unit.0", {"type": "event"})
        await layer.flush()
        assert layer.channels == {} and layer.groups == {}
        await layer.group_send("unit.0", {"type": "event"})
    assert layer.walks == 2


def test_the_embedded_default_uses_it_and_production_keeps_redis():
    """Whatever mode this run is in: the settings, evaluated without and with REDIS_URL."""

    def backend(redis_url: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update({"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"})
        if redis_url:
            env["REDIS_URL"] = redis_url
        code = "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert backend("") == "config.channel_layer.SweptInMemoryChannelLayer"
    assert backend("redis://127.0.0.1:6379/0") == "channels_redis.pubsub.RedisPubSubChannelLayer"
