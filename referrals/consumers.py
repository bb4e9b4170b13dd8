"""/ws/followups/: case managers' and supervisors' queues hear that follow-ups changed.

The message carries only an id and a kind, never anything about the person: the page
re-reads its queue over HTTP, where the role check and the filters already live. A dropped
message costs nothing but a few seconds, because the page also refreshes on a timer."""

from dispatch.consumers import SessionBoundConsumer
from dispatch.groups import FOLLOW_UP_GROUP
from dispatch.jsonbounds import JSONTooDeep
from dispatch.roles import Action


class FollowUpConsumer(SessionBoundConsumer):
    action = Action.FOLLOW_UP_WORK

    async def connect(self):
        self.joined = False
        # Refused with 4401/4403, and closed the same way when the session ends.
        if not await self.session_admit():
            return
        await self.channel_layer.group_add(FOLLOW_UP_GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        if self.joined:
            await self.channel_layer.group_discard(FOLLOW_UP_GROUP, self.channel_name)
        await self.session_release()

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "code": "unknown_type", "detail": "This socket only listens."})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except JSONTooDeep as exc:
            await self.send_json({"type": "error", "code": "bad_message", "detail": str(exc)})
        except ValueError:
            await self.send_json({"type": "error", "code": "bad_message", "detail": "Not JSON."})

    async def followup_changed(self, message):
        await self.send_json({"type": "followup.changed", "id": message["id"], "kind": message["kind"]})
