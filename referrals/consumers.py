"""/ws/followups/: case managers' and supervisors' queues hear that follow-ups changed.

The message carries only an id and a kind, never anything about the person: the page
re-reads its queue over HTTP, where the role check and the filters already live. A dropped
message costs nothing but a few seconds, because the page also refreshes on a timer."""

from channels.db import database_sync_to_async

from dispatch.consumers import SessionBoundConsumer
from dispatch.groups import follow_up_group
from dispatch.jsonbounds import JSONTooDeep
from dispatch.models import Program
from dispatch.roles import Action, program_ids_for


def _groups_of(user) -> list[str]:
    """One follow-up group per program the caller works follow-ups in (statewide: every one)."""
    ids = program_ids_for(user, Action.FOLLOW_UP_WORK)
    ids = Program.objects.values_list("pk", flat=True) if ids is None else ids
    return [follow_up_group(program_id) for program_id in sorted(ids)]


class FollowUpConsumer(SessionBoundConsumer):
    action = Action.FOLLOW_UP_WORK

    async def connect(self):
        self.joined = []
        # Refused with 4401/4403, and closed the same way when the session ends.
        if not await self.session_admit():
            return
        self.joined = await database_sync_to_async(_groups_of)(self.user)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
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
