"""/ws/field/: a responder's tablet receives the events of the unit it is on shift with.

/ws/field/nudge/: a tablet locked idle hears that its unit has a new assignment, and nothing
else. The idle lock ends the session and closes /ws/field/ (4401), but a responder on shift
must not miss a call because the tablet sat in a pocket for half an hour. So the last word
of a socket closed for being idle is a `locked` message carrying a nudge token: signed, bound
to the responder and the shift, good while that shift lasts (at most FIELD_NUDGE_HOURS). With
it the tablet opens the nudge socket, which sends `{"type": "nudge", "kind": "assignment"}`,
no id, no address, no name, when an assignment for that unit is created; the tablet sounds its
tone and asks for sign-in. Signing out, being deactivated or losing the role gives no token,
and the nudge socket closes (4401) when the shift ends or the person is deactivated.
"""

import asyncio
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing

from dispatch import services
from dispatch.consumers import EventStreamConsumer
from dispatch.events import EventType
from dispatch.groups import unit_group, user_group
from dispatch.models import Event, Shift
from dispatch.roles import Action, may
from dispatch.selectors import shift_unit_id
from dispatch.session_guard import CLOSE_NOT_SIGNED_IN, Ended, session_touch

log = logging.getLogger(__name__)

NUDGE_SALT = "field.nudge"


def nudge_token_for(user_id) -> str | None:
    """A token for the nudge socket, or None when the responder is not on shift."""
    shift = Shift.objects.filter(user_id=user_id, ended_at__isnull=True).values("id", "unit_id").first()
    if shift is None:
        return None
    return signing.dumps({"u": user_id, "s": shift["id"]}, salt=NUDGE_SALT)


def nudge_unit_for(token: str) -> int | None:
    """The unit a nudge token may hear about now, or None (bad, expired, shift over, person
    deactivated or no longer a responder)."""
    try:
        claim = signing.loads(token, salt=NUDGE_SALT, max_age=settings.FIELD_NUDGE_HOURS * 3600)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    if not isinstance(claim, dict):
        return None
    user = get_user_model().objects.filter(pk=claim.get("u"), is_active=True).first()
    if user is None or not may(user, Action.FIELD_APP):
        return None
    shift = Shift.objects.filter(pk=claim.get("s"), user=user, ended_at__isnull=True).first()
    return shift.unit_id if shift else None


class FieldConsumer(EventStreamConsumer):
    action = Action.FIELD_APP
    prev_key = "prev_unit"

    async def audience_groups(self) -> list[str]:
        self.unit_id = await database_sync_to_async(shift_unit_id)(self.user)
        groups = [user_group(self.user.pk)]
        if self.unit_id is not None:
            groups.append(unit_group(self.unit_id))
        return groups

    def visible_events(self):
        if self.unit_id is None:
            return Event.objects.none()
        return Event.objects.filter(unit_id=self.unit_id)

    def watch_key(self):
        return self.unit_id

    def may_see(self, message) -> bool:
        # After a shift change the old unit's group may still hand over a message or two.
        return self.unit_id is not None and message.get("unit_id") == self.unit_id

    async def on_ready(self):
        await self.send_json({"type": "shift", "unit_id": self.unit_id})

    async def on_session_end(self, verdict):
        if verdict.reason != Ended.IDLE:
            return
        token = await database_sync_to_async(nudge_token_for)(self.user.pk)
        if token is not None:
            await self.send_final({"type": "locked", "nudge": token})

    async def shift_changed(self, message):
        """The responder started or ended a shift: follow the new unit."""
        async with self.send_lock:
            # The old unit's last events (its unit.updated going off duty, say) go out first.
            self.resumed = True
            await self._fill()
            await self.audience_join()
            await self.send_json({"type": "shift", "unit_id": self.unit_id})

    async def receive_other(self, kind, content):
        if kind != "ack":
            await super().receive_other(kind, content)
            return
        event_id = content.get("event_id")
        if isinstance(event_id, bool) or not isinstance(event_id, int):
            await self.send_json(
                {"type": "error", "code": "bad_message", "detail": "event_id must be a whole number."}
            )
            return
        result = await database_sync_to_async(services.assignment_acknowledge_event)(
            event_id=event_id, unit_id=self.unit_id, user=self.user
        )
        # Acknowledging is the responder's own tap: the session is in use.
        await database_sync_to_async(session_touch)(self.session_key)
        if result is not None:
            await self.send_json(
                {"type": "error", "code": result, "detail": "That event cannot be acknowledged."}
            )


class FieldNudgeConsumer(AsyncJsonWebsocketConsumer):
    """/ws/field/nudge/?token=…: content-free news of a new assignment for a locked tablet."""

    async def connect(self):
        self.unit_id = None
        self.watch = None
        query = parse_qs(self.scope.get("query_string", b"").decode())
        await self.accept()
        self.token = (query.get("token") or [""])[0]
        self.unit_id = await database_sync_to_async(nudge_unit_for)(self.token)
        if self.unit_id is None:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        await self.channel_layer.group_add(unit_group(self.unit_id), self.channel_name)
        self.watch = asyncio.create_task(self._watch())

    async def _watch(self):
        while True:
            await asyncio.sleep(settings.SESSION_RECHECK_SECONDS)
            try:
                if await database_sync_to_async(nudge_unit_for)(self.token) != self.unit_id:
                    await self.close(code=CLOSE_NOT_SIGNED_IN)
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("nudge re-check failed; will try again")

    async def disconnect(self, code):
        if self.watch is not None:
            self.watch.cancel()
        if self.unit_id is not None:
            await self.channel_layer.group_discard(unit_group(self.unit_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """This socket only listens."""

    async def event_deliver(self, message):
        event = message["event"]
        if event.get("type") == EventType.ASSIGNMENT_CREATED and message.get("unit_id") == self.unit_id:
            await self.send_json({"type": "nudge", "kind": "assignment"})

    async def events_deliver(self, message):
        for event_message in message["messages"]:
            await self.event_deliver(event_message)
