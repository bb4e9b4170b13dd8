"""The garbage collector's full passes, on a clock, in a Daphne process.

A full pass walks every object the collector tracks and stops the event loop, so every socket
of the process, while it does: with 500 tablets on one process that was 40-120 ms a pass
(bench/push_latency.py prints the passes of its run). Python starts one whenever a tenth
young-generation pass finds that the old generation grew by a quarter since the last, which a
server holding hundreds of sockets does over and over: four or five passes in a 40-second run,
each one stalling the pushes in flight, and they were the embedded mode's p99.

Here the old generation is collected at most once every GC_FULL_PASS_SECONDS (60 by default),
and only if anything reached it since the last pass; the young generations are collected as
Python does. Garbage that lives long enough to reach the old generation (the cycles of a
socket that closed) waits at most that long to be freed. 0 leaves Python's own rule in place
(the test suite's processes use it).
"""

import asyncio
import gc
import weakref

# A threshold the old generation's counter never reaches: its passes are the clock's alone.
NEVER = 2**31 - 1

_ticking: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()


def full_pass() -> bool:
    """Collect every generation if anything reached the old one since its last pass."""
    if gc.get_count()[2] == 0:
        return False
    gc.collect()
    return True


def _tick(loop: asyncio.AbstractEventLoop, seconds: float) -> None:
    full_pass()
    loop.call_later(seconds, _tick, loop, seconds)


def install(application, seconds: float):
    """The ASGI application, with the old generation collected every `seconds` on the event
    loop that serves it (the first request or socket starts the clock) instead of by Python's
    rule. `seconds` <= 0: the application as it is."""
    if seconds <= 0:
        return application
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)

    async def collected(scope, receive, send):
        loop = asyncio.get_running_loop()
        if loop not in _ticking:
            _ticking.add(loop)
            loop.call_later(seconds, _tick, loop, seconds)
        return await application(scope, receive, send)

    return collected
