"""Live events over WebSocket (CONTRACT.md): /ws/dispatch/ here, /ws/field/ in field.consumers.

Each connection sends every event its client may see exactly once and in id order. It keeps
one number, `high`: every visible event with `start < id <= high` has been sent, in order,
and nothing else has. A live event is sent only when it is the next one: each pushed message
carries the id of the event before it for this audience (`prev`, `prev_unit`, see
dispatch.events); when that one has not been sent yet (the channel layer dropped it, or it is
still in flight from another process) the gap is filled from the log first. `resume` replays
from the log, and a periodic catch-up reads the log for anything dropped at the end of a
burst (channels-redis drops silently at capacity).
"""

import asyncio
import logging
import random
import time
import weakref

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db.models import Max, Min

from dispatch.events import event_as_text
from dispatch.groups import dispatch_group
from dispatch.jsonbounds import BoundedJSONDecoding, JSONTooDeep
from dispatch.models import Event, Program
from dispatch.roles import Action, program_ids_for
from dispatch.session_guard import (
    CLOSE_NOT_SIGNED_IN,
    CLOSE_ROLE_NOT_ALLOWED,
    Verdict,
    session_group,
    session_verdict,
    session_verdicts,
    user_access_group,
)

log = logging.getLogger(__name__)

__all__ = ["CLOSE_NOT_SIGNED_IN", "CLOSE_ROLE_NOT_ALLOWED", "DispatchConsumer", "SessionBoundConsumer"]
REPLAY_BATCH = 500
# A client further behind than this reloads over HTTP instead of replaying event by event.
REPLAY_MAX = 5000
# After the socket opens, live events wait this long for the client's `resume`: a reconnecting
# tablet then gets its missed events and the live ones in one ordered stream, instead of a
# live event slipping out first and forcing a resync.
RESUME_GRACE_SECONDS = 1.0


class LogWatch:
    """The newest event id in the log, overall and per unit, as this process last read it.

    Sockets compare it with what they have sent to notice a push the channel layer dropped,
    without each of them querying the log (500 tablets would make 50 queries a second).
    Refreshing is idempotent, so two sockets refreshing at once only cost a query more.
    """

    def __init__(self):
        self.newest_overall: int | None = None
        self.newest_by_unit: dict[int, int] = {}
        self.read_at = 0.0

    async def start(self):
        if self.newest_overall is None:
            await database_sync_to_async(self._read)()

    async def newest(self, unit_id=None) -> int:
        if time.monotonic() - self.read_at >= settings.EVENT_CATCHUP_SECONDS / 2:
            self.read_at = time.monotonic()
            await database_sync_to_async(self._read)()
        if unit_id is None:
            return self.newest_overall or 0
        return self.newest_by_unit.get(unit_id, 0)

    def _read(self):
        newest = Event.objects.aggregate(m=Max("id"))["m"] or 0
        if self.newest_overall is None or newest < self.newest_overall:
            # First read, or the log was emptied or replaced: start over from here. A unit
            # with no entry has nothing newer than this starting point.
            self.newest_overall, self.newest_by_unit = newest, {}
            self.read_at = time.monotonic()
            return
        if newest == self.newest_overall:
            return
        rows = (
            Event.objects.filter(id__gt=self.newest_overall, unit__isnull=False)
            .values("unit_id")
            .annotate(m=Max("id"))
        )
        for row in rows:
            self.newest_by_unit[row["unit_id"]] = row["m"]
        self.newest_overall = newest


LOG_WATCH = LogWatch()


class SessionRecheck:
    """The open session-bound sockets of one event loop, and the one task that checks them all
    again, each once every SESSION_RECHECK_SECONDS (for what no signal announces: an expiry, a
    session deleted straight from the store).

    One visit to a thread reads the sessions and users of many sockets together
    (dispatch.session_guard.session_verdicts: a few queries whatever their number) and only the
    sockets that no longer serve are closed. Checked one by one, 500 sockets made 50 re-checks
    a second, each several queries, beside the assignments on the same threads and database.
    Checked all at once, 500 sockets held the process for about 200 ms every period, and the
    assignments pushed meanwhile waited (bench/README.md): so the period is cut into TICKS, and
    each tick checks the sockets that are due, oldest check first, a share of them at most.
    """

    # Ticks per period; and the fewest sockets a tick may check (more when there are more than
    # TICKS x MIN_PER_TICK sockets, so that every socket is still checked once a period).
    TICKS = 10
    MIN_PER_TICK = 25

    def __init__(self):
        # Each socket, and when it was last checked (the loop's clock; at admission, its check).
        self.sockets: dict[SessionBoundConsumer, float] = {}
        self.task: asyncio.Task | None = None

    def add(self, consumer: "SessionBoundConsumer") -> None:
        self.sockets[consumer] = asyncio.get_running_loop().time()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._watch())

    def discard(self, consumer: "SessionBoundConsumer") -> None:
        self.sockets.pop(consumer, None)
        if not self.sockets and self.task is not None:
            self.task.cancel()  # the next socket starts another
            self.task = None

    async def _watch(self):
        while self.sockets:
            period = settings.SESSION_RECHECK_SECONDS
            # Jittered, so the processes of a deployment (started together) do not all read at once.
            await asyncio.sleep(period / self.TICKS * random.uniform(0.8, 1.0))
            try:
                await self.check_due(period)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("session re-check failed; will try again")

    def due(self, period: float) -> list["SessionBoundConsumer"]:
        """The sockets this tick checks: those last checked a period ago or more (less a tick, so
        that a socket never waits a tick more than its period), oldest first, at most a
        TICKS-th of all of them (MIN_PER_TICK at the fewest). Sockets that all came at once (a
        restart brings every tablet back) are spread over their first period so, the last of
        them checked up to a period late that once."""
        now = asyncio.get_running_loop().time()
        since = now - period + period / self.TICKS
        due = sorted(
            (
                socket
                for socket, checked in self.sockets.items()
                if checked <= since and socket.verdict is None
            ),
            key=self.sockets.__getitem__,
        )
        return due[: max(self.MIN_PER_TICK, -(-len(self.sockets) // self.TICKS))]

    async def check_due(self, period: float) -> None:
        """Check the sockets that are due, and close those that no longer serve."""
        sockets = self.due(period)
        if not sockets:
            return
        checks = [(socket.session_key, socket.user.pk, socket.action) for socket in sockets]
        verdicts = await database_sync_to_async(session_verdicts)(checks)
        checked = asyncio.get_running_loop().time()
        for socket, verdict in zip(sockets, verdicts, strict=True):
            if socket not in self.sockets:
                continue
            self.sockets[socket] = checked
            if verdict is not None:
                async with socket.send_lock:
                    await socket.session_close(verdict)


_RECHECKS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SessionRecheck]" = (
    weakref.WeakKeyDictionary()
)


def session_recheck() -> SessionRecheck:
    """This event loop's re-check (a process normally runs one loop; tests run one per test)."""
    loop = asyncio.get_running_loop()
    recheck = _RECHECKS.get(loop)
    if recheck is None:
        recheck = _RECHECKS[loop] = SessionRecheck()
    return recheck


class SessionBoundConsumer(BoundedJSONDecoding, AsyncJsonWebsocketConsumer):
    """A socket that serves one signed-in session, and only while it lasts.

    It is refused at connect (4401 not signed in, 4403 role not allowed) by the rule pages use
    (dispatch.session_guard.session_verdict), and closed the same way later: at once when its
    session is signed out or locked idle, or its user is deactivated or changes role (the
    session and user groups are told), and within SESSION_RECHECK_SECONDS for anything no
    signal announces (an expiry: the loop's SessionRecheck checks every socket at once). From
    the moment a socket knows it no longer serves, it sends nothing more: every send is
    dropped, whatever message or timer asks for one.
    """

    action: str = ""

    async def session_admit(self) -> bool:
        """At connect: accept and close with the reason when the caller may not have this
        socket; else remember the session and the user and listen for their end. True when
        admitted (the socket is not accepted yet)."""
        self.verdict: Verdict | None = None
        self.session_groups: list[str] = []
        if not hasattr(self, "send_lock"):
            self.send_lock = asyncio.Lock()
        user = self.scope.get("user")
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        if user is None or not user.is_authenticated:
            refusal = Verdict(CLOSE_NOT_SIGNED_IN, "signed_out")
        else:
            refusal = await database_sync_to_async(session_verdict)(self.session_key, user.pk, self.action)
        if refusal is not None:
            # Accept, then close: a close before the handshake cannot carry the 44xx code.
            await self.accept()
            await self.close(code=refusal.code)
            return False
        self.user = user
        self.session_groups = [session_group(self.session_key), user_access_group(user.pk)]
        for group in self.session_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        session_recheck().add(self)
        return True

    async def session_release(self) -> None:
        session_recheck().discard(self)
        for group in getattr(self, "session_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def session_check(self) -> None:
        """Read again whether this socket still serves, and close it if not. Under the send
        lock, so no timer sends while the answer is pending."""
        async with self.send_lock:
            if self.verdict is not None:
                return
            verdict = await database_sync_to_async(session_verdict)(
                self.session_key, self.user.pk, self.action
            )
            if verdict is not None:
                await self.session_close(verdict)

    async def session_close(self, verdict: Verdict) -> None:
        if self.verdict is not None:
            return
        self.verdict = verdict  # from here on, send() drops everything
        try:
            await self.on_session_end(verdict)
        finally:
            await self.close(code=verdict.code)

    async def on_session_end(self, verdict: Verdict) -> None:
        """Hook: the last word before the close (sent with `send_final`)."""

    async def send_final(self, content: dict) -> None:
        await super().send(text_data=await self.encode_json(content))

    async def send(self, text_data=None, bytes_data=None, close=False):
        if getattr(self, "verdict", None) is not None:
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    # --- from the session and user groups ------------------------------------------------------
    async def session_ended(self, message):
        """Signed out or locked idle: no need to read anything."""
        await self.session_close(Verdict(CLOSE_NOT_SIGNED_IN, message.get("reason", "signed_out")))

    async def access_changed(self, message):
        """The user was changed (deactivated, given another role): read again."""
        await self.session_check()


class EventStreamConsumer(SessionBoundConsumer):
    """Shared by both sockets: authentication, audience groups, resume, catch-up."""

    # Which "previous event" id of a pushed message belongs to this consumer's audience.
    prev_key: str = "prev"

    def prev_of(self, message: dict) -> int | None:
        """The id of the event before this one among those this socket may see (or of one
        before that: the socket then reads the log for the gap; None: it must)."""
        return message.get(self.prev_key)

    async def connect(self):
        self.groups_joined: list[str] = []
        self.start: int = 0
        self.high: int = 0
        self.send_lock = asyncio.Lock()
        self.tasks: list[asyncio.Task] = []
        self.resumed = False
        if not await self.session_admit():
            return
        # Join, read the newest id, and only then open the socket: every event committed
        # after the client sees the socket open reaches it live, without a resume.
        await self.audience_join()
        # The watch must know the log from before this socket's starting point.
        await LOG_WATCH.start()
        self.start = self.high = await database_sync_to_async(self._latest_id)()
        await self.accept()
        self.every(settings.EVENT_CATCHUP_SECONDS, self.catch_up)
        self.tasks.append(asyncio.create_task(self._start_live_without_resume()))
        await self.on_ready()

    async def disconnect(self, code):
        for task in getattr(self, "tasks", []):
            task.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.session_release()

    def every(self, seconds: float, job) -> None:
        """Run `job` every `seconds` while the socket is open; a failure is logged, not fatal."""

        async def loop():
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; will try again", job.__name__)

        self.tasks.append(asyncio.create_task(loop()))

    # --- audience ------------------------------------------------------------------------
    async def audience_groups(self) -> list[str]:
        raise NotImplementedError

    def visible_events(self):
        """The queryset of events this client may see."""
        raise NotImplementedError

    def may_see(self, message: dict) -> bool:
        """Whether a pushed message is for this client now (a group may still deliver a
        message sent just before the client left it)."""
        return True

    async def audience_join(self):
        wanted = await self.audience_groups()
        for group in set(self.groups_joined) - set(wanted):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(wanted) - set(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = wanted

    async def on_ready(self):
        """Hook for subclasses, after the socket is accepted and joined."""

    # --- from the client ------------------------------------------------------------------
    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "code": "bad_message", "detail": "Send a JSON object."})
            return
        kind = content.get("type")
        if kind == "resume":
            last = content.get("last_event_id")
            if isinstance(last, bool) or not isinstance(last, int) or last < 0:
                await self.send_json(
                    {
                        "type": "error",
                        "code": "bad_message",
                        "detail": "last_event_id must be a whole number.",
                    }
                )
                return
            await self.resume(last)
        else:
            await self.receive_other(kind, content)

    async def receive_other(self, kind, content):
        await self.send_json(
            {"type": "error", "code": "unknown_type", "detail": f"Unknown message type {kind!r}."}
        )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except JSONTooDeep as exc:
            await self.send_json({"type": "error", "code": "bad_message", "detail": str(exc)})
        except ValueError:
            await self.send_json({"type": "error", "code": "bad_message", "detail": "Not JSON."})

    # --- sending (always under send_lock) -------------------------------------------------------
    async def _emit(self, event_id: int, text: str) -> None:
        """Send one event (its JSON text, encoded once for every socket: dispatch.events) if
        it is newer than everything sent; never twice, never backwards."""
        if event_id <= self.high:
            return
        await self.send(text_data=text)
        self.high = event_id

    async def _fill(self, upto: int | None = None) -> None:
        """Send, from the log and in order, every visible event after `high` (up to `upto`)."""
        while True:
            batch = await database_sync_to_async(self._events_after)(self.high, REPLAY_BATCH, upto)
            for event_id, text in batch:
                await self._emit(event_id, text)
            if len(batch) < REPLAY_BATCH:
                return

    async def _start_live_without_resume(self):
        """A client that sends no `resume` gets the live stream from when its socket opened."""
        await asyncio.sleep(RESUME_GRACE_SECONDS)
        async with self.send_lock:
            if not self.resumed:
                self.resumed = True
                await self._fill()

    async def event_deliver(self, message):
        """A live event from the channel layer."""
        if not self.may_see(message) or not self.resumed:
            return  # held: it is in the log, and resume (or the grace timer) sends it in order
        event = message["event"]
        async with self.send_lock:
            if event["id"] <= self.high:
                return  # already sent from the log, or older than this stream
            prev = self.prev_of(message)
            if prev is None or prev > self.high:
                # An earlier event is missing here: send it (and any other) from the log first.
                await self._fill(upto=event["id"] - 1)
            await self._emit(event["id"], message["text"])

    async def events_deliver(self, message):
        """Several live events for this socket's group in one channel-layer message, in id
        order (dispatch.events._push): each is handled as if it had come alone."""
        for event_message in message["messages"]:
            await self.event_deliver(event_message)

    async def catch_up(self):
        """Fill from the log only when the process-wide watch says it has something newer
        for this audience than what was sent: one cheap query per process per interval,
        not one per socket."""
        if await LOG_WATCH.newest(self.watch_key()) <= self.high:
            return
        async with self.send_lock:
            await self._fill()

    def watch_key(self):
        """Which newest id of the log watch this socket compares with (None: any event)."""
        return None

    async def resume(self, last_event_id: int):
        async with self.send_lock:
            self.resumed = True
            if not await database_sync_to_async(self._replay_possible)(last_event_id):
                await self._resync()
                return
            if self.high == self.start:
                # Nothing sent on this connection yet: the stream starts where the client was.
                self.start = self.high = last_event_id
            elif last_event_id < self.start:
                # Live events already went out; older ones sent now would arrive out of order.
                if await database_sync_to_async(self._any_between)(last_event_id, self.start):
                    await self._resync()
                    return
            else:
                self.high = max(self.high, last_event_id)
            await self._fill()

    async def _resync(self):
        await self.send_json({"type": "resync"})
        # The client reloads over HTTP now; from here on it needs only what is newer.
        latest = await database_sync_to_async(self._latest_id)()
        self.start = self.high = max(self.high, latest)

    # --- database (run in a thread) ------------------------------------------------------------
    def _latest_id(self) -> int:
        return Event.objects.aggregate(m=Max("id"))["m"] or 0

    def _replay_possible(self, last_event_id: int) -> bool:
        """False when the client must reload: the gap is older than the log keeps, the id is
        from another database (larger than any), or the backlog is too long."""
        bounds = Event.objects.aggregate(lo=Min("id"), hi=Max("id"))
        lo, hi = bounds["lo"] or 0, bounds["hi"] or 0
        if last_event_id > hi:
            return False
        if lo and last_event_id < lo - 1:
            return False
        return self.visible_events().filter(id__gt=last_event_id).count() <= REPLAY_MAX

    def _any_between(self, after: int, upto: int) -> bool:
        return self.visible_events().filter(id__gt=after, id__lte=upto).exists()

    def _events_after(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, str]]:
        """(id, JSON text) of the visible events after `after`, encoded here, off the loop."""
        events = self.visible_events().filter(id__gt=after)
        if upto is not None:
            events = events.filter(id__lte=upto)
        return [(event.id, event_as_text(event)) for event in events.order_by("id")[:limit]]


class DispatchConsumer(EventStreamConsumer):
    """A dispatcher's or supervisor's console: every unit's and incident's events. (The
    overdue-acknowledgement alerts it shows are raised by the background worker,
    dispatch.tasks.periodic, whether or not a console is open.)"""

    action = Action.DISPATCH_CONSOLE

    def _programs(self) -> list[int]:
        """The programs this console sees (a statewide role: every program there is now)."""
        ids = program_ids_for(self.user, self.action)
        return sorted(Program.objects.values_list("pk", flat=True) if ids is None else ids)

    async def audience_groups(self) -> list[str]:
        self.program_ids = set(await database_sync_to_async(self._programs)())
        return [dispatch_group(program_id) for program_id in sorted(self.program_ids)]

    def visible_events(self):
        return Event.objects.filter(program_id__in=self.program_ids)

    def may_see(self, message) -> bool:
        return message.get("program_id") in self.program_ids

    def prev_of(self, message: dict) -> int | None:
        """A console of one program: the event before it in that program. Before, it was the
        one before it overall, most often another program's, which this console never has:
        with several programs nearly every live event read the log first, a query per event
        per console. A console of several programs still goes by the overall one."""
        if self.program_ids == {message.get("program_id")}:
            return message.get("prev_program")
        return message.get("prev")
