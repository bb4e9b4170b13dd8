"""/ws/followups/: case managers' and supervisors' queues hear that follow-ups changed.

The message carries only an id and a kind, never anything about the person: the page
re-reads its queue over HTTP, where the role check and the filters already live. A dropped
message costs nothing but a few seconds, because the page also refreshes on a timer."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dispatch.consumers import CLOSE_NOT_SIGNED_IN, CLOSE_ROLE_NOT_ALLOWED
from dispatch.groups import follow_up_group
from dispatch.models import Program
from dispatch.roles import Action, may, program_ids_for


def _groups_of(user) -> list[str]:
    """One follow-up group per program the caller works follow-ups in (statewide: every one)."""
    ids = program_ids_for(user, Action.FOLLOW_UP_WORK)
    ids = Program.objects.values_list("pk", flat=True) if ids is None else ids
    return [follow_up_group(program_id) for program_id in sorted(ids)]


class FollowUpConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.joined = []
        user = self.scope.get("user")
        # Accept first: a close before the handshake cannot carry the 44xx code to the client.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        if not await database_sync_to_async(may)(user, Action.FOLLOW_UP_WORK):
            await self.close(code=CLOSE_ROLE_NOT_ALLOWED)
            return
        self.joined = await database_sync_to_async(_groups_of)(user)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "code": "unknown_type", "detail": "This socket only listens."})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:
            await self.send_json({"type": "error", "code": "bad_message", "detail": "Not JSON."})

    async def followup_changed(self, message):
        await self.send_json({"type": "followup.changed", "id": message["id"], "kind": message["kind"]})
