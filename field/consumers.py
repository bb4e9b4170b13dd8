"""/ws/field/: a responder's tablet receives the events of the unit it is on shift with."""

from channels.db import database_sync_to_async

from dispatch import services
from dispatch.consumers import EventStreamConsumer
from dispatch.groups import unit_group, user_group
from dispatch.models import Event
from dispatch.roles import Action
from dispatch.selectors import shift_unit_id


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
        if result is not None:
            await self.send_json(
                {"type": "error", "code": result, "detail": "That event cannot be acknowledged."}
            )
