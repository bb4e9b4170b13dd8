"""The collector's full passes on a clock in a Daphne process (config/collector.py): the old
generation is left to the clock, which collects it, and only when something reached it."""

import asyncio
import gc
import weakref

import pytest

from config import collector


class Node:
    """A thing in a reference cycle: only the collector frees it."""

    def __init__(self):
        self.me = self


@pytest.fixture
def thresholds():
    kept = gc.get_threshold()
    yield
    gc.set_threshold(*kept)


def garbage_in_the_old_generation() -> weakref.ref:
    """A cycle that lived long enough to reach the old generation, then became garbage."""
    node = Node()
    gc.collect(1)  # the young generations' pass: the node, still in use, moves to the old one
    assert gc.is_tracked(node) and gc.get_count()[2] >= 1
    gone = weakref.ref(node)
    del node
    return gone


async def app(scope, receive, send):
    return "served"


def test_zero_seconds_leaves_the_application_and_pythons_rule(thresholds):
    before = gc.get_threshold()
    assert collector.install(app, 0) is app
    assert gc.get_threshold() == before


@pytest.mark.asyncio
async def test_the_old_generation_is_left_to_the_clock_which_collects_it(thresholds):
    served = collector.install(app, 0.05)
    young, middle, old = gc.get_threshold()
    assert old == collector.NEVER and (young, middle) != (0, 0)

    gone = garbage_in_the_old_generation()
    assert await served({"type": "http"}, None, None) == "served"  # the first call starts the clock
    for _ in range(50):
        await asyncio.sleep(0.02)
        if gone() is None:
            break
    assert gone() is None
    assert gc.get_count()[2] == 0


def test_a_pass_is_skipped_when_nothing_reached_the_old_generation():
    gc.collect()
    assert collector.full_pass() is False
    gone = garbage_in_the_old_generation()
    assert collector.full_pass() is True
    assert gone() is None


def test_each_event_loop_that_serves_gets_its_own_clock(thresholds):
    served = collector.install(app, 0.05)
    for _ in range(2):  # two loops one after the other, as the test suite's are

        async def one_call():
            gone = garbage_in_the_old_generation()
            await served({"type": "websocket"}, None, None)
            for _ in range(50):
                await asyncio.sleep(0.02)
                if gone() is None:
                    return True
            return False

        assert asyncio.run(one_call())
