"""Live events over WebSocket (CONTRACT.md): /ws/dispatch/ here, /ws/field/ in field.consumers.

Delivery is at-least-once from the channel layer and exactly-once to the client: every event
is in the log before it is pushed, each connection remembers which ids it has sent, `resume`
replays from the log, and a periodic catch-up reads the log for anything the channel layer
dropped (channels-redis drops silently at capacity).
"""

import asyncio
import logging
from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db.models import Max, Min

from dispatch.events import DISPATCH_GROUP, event_as_message
from dispatch.models import Event
from dispatch.roles import Action, may

log = logging.getLogger(__name__)

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_ROLE_NOT_ALLOWED = 4403
REPLAY_BATCH = 500
# A client further behind than this reloads over HTTP instead of replaying event by event.
REPLAY_MAX = 5000
SENT_MEMORY = 4096


class EventStreamConsumer(AsyncJsonWebsocketConsumer):
    """Shared by both sockets: authentication, audience groups, resume, catch-up."""

    action: str = ""

    async def connect(self):
        self.groups_joined: list[str] = []
        self.sent_ids: set[int] = set()
        self.sent_order: deque[int] = deque()
        # Every event this client may see with an id up to `confirmed` has been sent.
        self.confirmed: int | None = None
        self.send_lock = asyncio.Lock()
        self.catchup_task = None
        user = self.scope.get("user")
        # Accept first: a close before the handshake cannot carry the 44xx code to the client.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        if not await database_sync_to_async(may)(user, self.action):
            await self.close(code=CLOSE_ROLE_NOT_ALLOWED)
            return
        self.user = user
        await self.audience_join()
        self.confirmed = await database_sync_to_async(self._latest_id)()
        self.catchup_task = asyncio.create_task(self._catchup_loop())
        await self.on_ready()

    async def disconnect(self, code):
        if self.catchup_task is not None:
            self.catchup_task.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    # --- audience ------------------------------------------------------------------------
    async def audience_groups(self) -> list[str]:
        raise NotImplementedError

    def visible_events(self):
        """The queryset of events this client may see."""
        raise NotImplementedError

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
        except ValueError:
            await self.send_json({"type": "error", "code": "bad_message", "detail": "Not JSON."})

    # --- sending --------------------------------------------------------------------------
    async def _send_event(self, message: dict) -> None:
        event_id = message["id"]
        if event_id in self.sent_ids:
            return
        self.sent_ids.add(event_id)
        self.sent_order.append(event_id)
        if len(self.sent_order) > SENT_MEMORY:
            self.sent_ids.discard(self.sent_order.popleft())
        await self.send_json(message)

    async def event_deliver(self, message):
        """A live event from the channel layer."""
        async with self.send_lock:
            await self._send_event(message["event"])

    async def resume(self, last_event_id: int):
        async with self.send_lock:
            plan = await database_sync_to_async(self._replay_plan)(last_event_id)
            if plan is None:
                await self.send_json({"type": "resync"})
                self.confirmed = await database_sync_to_async(self._latest_id)()
                return
            after = last_event_id
            while True:
                batch = await database_sync_to_async(self._events_after)(after, REPLAY_BATCH)
                for message in batch:
                    await self._send_event(message)
                if len(batch) < REPLAY_BATCH:
                    break
                after = batch[-1]["id"]
            self.confirmed = max(plan, after)

    async def _catchup_loop(self):
        interval = settings.EVENT_CATCHUP_SECONDS
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.send_lock:
                    batch = await database_sync_to_async(self._events_after)(
                        self.confirmed or 0, REPLAY_BATCH
                    )
                    for message in batch:
                        await self._send_event(message)
                    if batch:
                        self.confirmed = batch[-1]["id"]
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event catch-up failed; will try again")

    # --- database (run in a thread) ------------------------------------------------------------
    def _latest_id(self) -> int:
        return Event.objects.aggregate(m=Max("id"))["m"] or 0

    def _replay_plan(self, last_event_id: int) -> int | None:
        """None when the client must reload (the gap is older than the log keeps, the id is
        from another database, or the backlog is too long); otherwise the newest id now."""
        bounds = Event.objects.aggregate(lo=Min("id"), hi=Max("id"))
        lo, hi = bounds["lo"] or 0, bounds["hi"] or 0
        if last_event_id > hi:
            return None
        if lo and last_event_id < lo - 1:
            return None
        if self.visible_events().filter(id__gt=last_event_id).count() > REPLAY_MAX:
            return None
        return hi

    def _events_after(self, after: int, limit: int) -> list[dict]:
        events = self.visible_events().filter(id__gt=after).order_by("id")[:limit]
        return [event_as_message(event) for event in events]


class DispatchConsumer(EventStreamConsumer):
    """A dispatcher's or supervisor's console: every unit's and incident's events."""

    action = Action.DISPATCH_CONSOLE

    async def audience_groups(self) -> list[str]:
        return [DISPATCH_GROUP]

    def visible_events(self):
        return Event.objects.all()
