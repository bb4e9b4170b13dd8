"""The simulated tablets both push benchmarks drive (push_latency.py and statewide.py).

A tablet is one signed-in responder's `/ws/field/` socket, opened the way the tablet app
(static/js/field/socket.js) opens it: the session cookie, the server's `Origin`, and on every
(re)connect `{"type": "resume", "last_event_id": <the largest id it has seen>}`. It records when
each `assignment.created` arrives, every event id it has seen (one seen twice, on any of its
connections, is a duplicate), when it was away, and why each of its connections ended.

The benchmark drops a tablet on purpose (a planned outage: TCP abort, no close handshake, back
after a given number of seconds). Any other end is unplanned, and the tablet reconnects after a
growing, jittered, capped backoff, as the app does: a server that loses hundreds of sockets at
once (Daphne's ping timeout under load) is then not met by all of them again within the same
fraction of a second, which only adds to the load that dropped them.

`Fleet` is the tablets of one run: built from the fixture's spec, connected with at most N in a
handshake at once, dropped on a seeded schedule, closed, and counted.
"""

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

now = time.perf_counter

# After an unplanned end: 0.5 s, 1 s, 2 s ... as static/js/field/socket.js, each pause drawn
# between half and all of its step. Capped at 8 s rather than the app's 30 s, so that a tablet
# dropped several times in a row is still back within the benchmarks' grace period.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 8.0
HANDSHAKE_TIMEOUT = 60


def call_location(number: int) -> dict:
    """Where the benchmarks' call `number` is: a point of a 50 x 50 grid over the city, about
    220 m apart, so that no call is within another's duplicate radius (150 m: most calls are
    nobody's duplicate). Every call at one point made each one list all the open calls before it
    as possible duplicates, and carry them in its events: a burst at one address, not a day."""
    row, column = number % 50, number // 50 % 50
    return {
        "address": f"{100 + number} Main St",
        "latitude": round(39.70 + row * 0.002, 6),
        "longitude": round(-105.05 + column * 0.0026, 6),
    }


# Why a connection ended (Tablet.ends), grouped by what comes before the first ":".
PLANNED = "planned"
CAUSE_GROUPS = {
    "server closed": "server sent a close frame",  # its code in the detail: "server closed: 1011"
    "server aborted": "aborted by server (no close)",  # how Daphne's ping timeout ends a socket
    # The server closed the TCP connection before answering the upgrade: how Daphne (autobahn's
    # openHandshakeTimeout) ends a handshake its application has not accepted within 5 s.
    "handshake aborted": "handshake aborted by server",
    "handshake timed out": "handshake timed out",  # over HANDSHAKE_TIMEOUT
    "handshake refused": "handshake refused",  # an HTTP status, or the TCP connect failed
}


def cause_group(cause: str) -> str:
    return cause.split(":", 1)[0]


def _closed(close) -> str:
    """The cause of an open connection's end, from the close frame it received (or None)."""
    return "server aborted" if close is None else f"server closed: {close.code}"


class Tablet:
    """One signed-in tablet: connects, resumes from the last id it saw on every (re)connect,
    and records when each assignment.created arrives and every id it has seen."""

    def __init__(
        self, index: int, unit: int, ws_url: str, cookie: str, origin: str, start_id: int, seed: int = 0
    ):
        self.index = index
        self.unit = unit
        self.ws_url = ws_url
        self.cookie = cookie
        self.origin = origin
        self.last_event_id = start_id
        self.seen: set[int] = set()
        self.duplicates = 0
        self.duplicate_assignments = 0
        self.received: dict[str, float] = {}  # assignment id -> perf_counter at receipt
        self.down: list[list[float | None]] = []  # [lost at, back at] per outage
        self.ws = None
        self.live = False  # connected, and the server has said which unit it is on
        self.first_ready = asyncio.Event()
        self.finished = False
        self.outage = 0.0
        self.planned_drops = 0
        self.unplanned_drops = 0
        self.connect_failures = 0
        self.measuring = False
        self.resyncs = 0
        self.refusals: list[str] = []
        # (perf_counter, measuring then, cause) for every end but the last close: PLANNED, or
        # a key of CAUSE_GROUPS with its detail ("server closed: 1011", "handshake refused: HTTP 403").
        self.ends: list[tuple[float, bool, str]] = []
        self.attempt = 0  # unplanned ends since the server last accepted this tablet
        self.jitter = random.Random(seed * 1_000_003 + index)
        self.gate: asyncio.Semaphore | None = None

    async def run(self, gate: asyncio.Semaphore) -> None:
        # The gate limits how many tablets are in a handshake before their first acceptance; it
        # is let go as soon as the server has accepted the tablet, not when the session ends.
        # Until then every attempt waits its turn, so failed handshakes do not retry around it.
        while not self.finished:
            if not self.first_ready.is_set():
                await gate.acquire()
                self.gate = gate
            cause = await self._attempt()
            self._let_go()
            if not self.finished and not self.outage:
                if self.measuring:
                    self.unplanned_drops += 1
                else:
                    self.connect_failures += 1
                self.ends.append((now(), self.measuring, cause))
            self.ws = None
            self.live = False
            if not self.down or self.down[-1][1] is not None:
                self.down.append([now(), None])
            if self.finished:
                return
            pause, self.outage = (self.outage or self._backoff()), 0.0
            await asyncio.sleep(pause)

    def _backoff(self) -> float:
        step = min(BACKOFF_CAP, BACKOFF_FIRST * 2**self.attempt)
        self.attempt += 1
        return step / 2 + self.jitter.random() * step / 2

    async def _attempt(self) -> str:
        """One connection, from its handshake to its end; returns why it ended."""
        try:
            await self._session()
        except TimeoutError as exc:  # the handshake's (an OSError: before that clause)
            self.refusals.append(type(exc).__name__)
            return "handshake timed out"
        except ConnectionClosed as exc:
            self.refusals.append(type(exc).__name__)
            if exc.rcvd is not None and exc.rcvd.code >= 4000:
                self.refusals.append(f"close {exc.rcvd.code}")
            return _closed(exc.rcvd)
        except OSError as exc:
            self.refusals.append(type(exc).__name__)
            return f"handshake refused: {type(exc).__name__}"
        except InvalidStatus as exc:
            self.refusals.append(f"HTTP {exc.response.status_code}")
            return f"handshake refused: HTTP {exc.response.status_code}"
        except InvalidHandshake as exc:
            self.refusals.append(type(exc).__name__)
            if isinstance(exc.__cause__, EOFError):  # no HTTP answer at all: the TCP connection ended
                return "handshake aborted"
            return f"handshake refused: {type(exc).__name__}"
        return _closed(self.ws.protocol.close_rcvd)

    async def _session(self) -> None:
        async with connect(
            self.ws_url,
            origin=self.origin,
            additional_headers={"Cookie": self.cookie},
            compression=None,
            open_timeout=HANDSHAKE_TIMEOUT,
            ping_interval=None,
            max_size=None,
            max_queue=None,
        ) as ws:
            self.ws = ws
            if self.down and self.down[-1][1] is None:
                self.down[-1][1] = now()
            await ws.send(json.dumps({"type": "resume", "last_event_id": self.last_event_id}))
            async for raw in ws:
                self._receive(now(), raw)
            if ws.close_code and ws.close_code >= 4000:
                self.refusals.append(f"close {ws.close_code}")

    def _receive(self, at: float, raw) -> None:
        message = json.loads(raw)
        kind = message.get("type")
        event_id = message.get("id")
        if isinstance(event_id, int):
            if event_id in self.seen:
                self.duplicates += 1
                if kind == "assignment.created":
                    self.duplicate_assignments += 1
            else:
                self.seen.add(event_id)
            self.last_event_id = max(self.last_event_id, event_id)
            if kind == "assignment.created":
                self.received.setdefault(message["data"]["id"], at)
        elif kind == "shift":
            self.live = True
            self.attempt = 0
            self.first_ready.set()
            self._let_go()
        elif kind == "resync":
            self.resyncs += 1

    def _let_go(self) -> None:
        if self.gate is not None:
            self.gate.release()
            self.gate = None

    def drop(self, outage: float) -> bool:
        """Lose the connection abruptly (no close handshake), stay away `outage` seconds."""
        if self.ws is None or not self.live:
            return False
        self.outage = outage
        self.planned_drops += 1
        self.live = False
        self.down.append([now(), None])
        self.ends.append((now(), self.measuring, PLANNED))
        self.ws.transport.abort()
        return True

    def away_between(self, start: float, end: float) -> bool:
        return any(lost < end and (back is None or back > start) for lost, back in self.down)

    async def finish(self) -> None:
        self.finished = True
        if self.ws is not None:
            await self.ws.close()


@dataclass
class Counts:
    """What a fleet's tablets counted, added up."""

    duplicated_events: int = 0
    duplicated_assignments: int = 0
    planned_drops: int = 0
    unplanned_drops: int = 0
    connect_failures: int = 0
    resyncs: int = 0
    causes: Counter = field(default_factory=Counter)  # ends while measuring by cause, PLANNED too


@dataclass
class Deliveries:
    """Where each expected `assignment.created` went: two per assignment, one per tablet."""

    expected: int = 0
    lost: int = 0  # never received
    live_ms: list[float] = field(default_factory=list)  # from the assign's start to the receipt
    replay_ms: list[float] = field(default_factory=list)  # the same, the tablet away meanwhile


class Fleet:
    """The tablets of one run. Tablet i connects to ws_urls[i mod N]; `async with` it so that
    every tablet is closed and its task ended on the way out, whatever happens."""

    def __init__(self, spec: dict, ws_urls: list[str], seed: int = 0):
        cookie = spec["session_cookie"]
        self.tablets: list[Tablet] = []
        self.by_unit: dict[int, list[Tablet]] = {}
        for i, tab in enumerate(spec["tablets"]):
            ws_url = ws_urls[i % len(ws_urls)]
            origin = ws_url.replace("ws://", "http://").split("/ws/")[0]
            tablet = Tablet(
                i, tab["unit"], ws_url, f"{cookie}={tab['session']}", origin, spec["latest_event_id"], seed
            )
            self.tablets.append(tablet)
            self.by_unit.setdefault(tab["unit"], []).append(tablet)
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> "Fleet":
        return self

    async def __aexit__(self, *_exc) -> None:
        await asyncio.gather(*(t.finish() for t in self.tablets), return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def connect(self, concurrency: int, timeout: float) -> tuple[float, int]:
        """Start every tablet, at most `concurrency` of them in a handshake before their first
        acceptance, and wait until all are accepted or `timeout` seconds have passed.
        Returns the seconds it took and how many were accepted."""
        gate = asyncio.Semaphore(concurrency)
        began = now()
        self.tasks = [asyncio.create_task(t.run(gate)) for t in self.tablets]
        waiting = [asyncio.create_task(t.first_ready.wait()) for t in self.tablets]
        _done, pending = await asyncio.wait(waiting, timeout=timeout)
        for p in pending:
            p.cancel()
        return now() - began, sum(t.first_ready.is_set() for t in self.tablets)

    def refusals(self) -> list[str]:
        return sorted({r for t in self.tablets for r in t.refusals})

    def measure(self) -> None:
        """From now on, an unplanned end is a drop, not a failed first connection."""
        for t in self.tablets:
            t.measuring = True

    def unit_live(self, unit: int) -> bool:
        return all(t.live for t in self.by_unit[unit])

    async def drop_some(
        self,
        rng: random.Random,
        fraction: float,
        duration: float,
        window: tuple[float, float],
        outage: tuple[float, float],
        dropped: Callable[[Tablet], None] | None = None,
    ) -> None:
        """Drop `fraction` of the tablets once each, at random moments between window[0] and
        window[1] of `duration` seconds from now, each away for a random `outage` (MIN, MAX)
        seconds; `dropped(tablet)` after each drop that took (the tablet was live)."""
        count = round(len(self.tablets) * fraction)
        chosen = rng.sample(self.tablets, count)
        low, high = window[0] * duration, window[1] * duration
        plan = sorted(
            ((rng.uniform(low, high), rng.uniform(*outage), t) for t in chosen), key=lambda step: step[:2]
        )
        start = now()
        for at, away, tablet in plan:
            await asyncio.sleep(max(0.0, start + at - now()))
            if tablet.drop(away) and dropped is not None:
                dropped(tablet)

    def has_all(self, made) -> bool:
        """Whether every tablet of each made assignment's unit has it (`.unit`, `.assignment_id`)."""
        return all(m.assignment_id in t.received for m in made for t in self.by_unit[m.unit])

    def tally(self, made) -> Deliveries:
        """Each made assignment (`.unit`, `.assignment_id`, `.started`) against its unit's tablets:
        lost, live, or across a reconnect when the tablet was away at any moment between the
        assign's start and its receipt (that latency includes the outage)."""
        out = Deliveries()
        for m in made:
            for tablet in self.by_unit[m.unit]:
                out.expected += 1
                at = tablet.received.get(m.assignment_id)
                if at is None:
                    out.lost += 1
                elif tablet.away_between(m.started, at):
                    out.replay_ms.append((at - m.started) * 1000)
                else:
                    out.live_ms.append((at - m.started) * 1000)
        return out

    def counts(self) -> Counts:
        c = Counts()
        for t in self.tablets:
            c.duplicated_events += t.duplicates
            c.duplicated_assignments += t.duplicate_assignments
            c.planned_drops += t.planned_drops
            c.unplanned_drops += t.unplanned_drops
            c.connect_failures += t.connect_failures
            c.resyncs += t.resyncs
        c.causes = self.causes()
        return c

    def causes(self, start: float = float("-inf"), end: float = float("inf")) -> Counter:
        """The ends while measuring between `start` and `end` (perf_counter), by cause, planned too."""
        return Counter(
            cause for t in self.tablets for at, measuring, cause in t.ends if measuring and start <= at < end
        )


def cause_rows(counters: list[Counter]) -> list[tuple[str, list[int]]]:
    """Table rows: each unplanned cause group with its count per column (a Counter per column)."""
    return [
        (label, [sum(n for cause, n in c.items() if cause_group(cause) == group) for c in counters])
        for group, label in CAUSE_GROUPS.items()
    ]


def cause_details(counter: Counter) -> str:
    """The unplanned causes one by one, most frequent first: 'server closed: 1011 x3, ...'."""
    return ", ".join(f"{cause} x{n}" for cause, n in counter.most_common() if cause != PLANNED)
