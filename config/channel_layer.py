"""The embedded default's channel layer: channels' in-memory layer, swept on a clock.

channels' InMemoryChannelLayer looks for expired messages and group memberships on every send,
group_send and receive, walking every channel and every membership of the process. With the
sockets of a program on one process (500 tablets: 500 channels, about 1,500 memberships), that
walk ran a few thousand times a minute on the event loop every socket shares, and was a sixth
of the process's CPU in `make bench` (bench/README.md). Nothing here needs expiry to the
millisecond: a message expires after a minute unread, a membership after a day. So the walk
runs at most once every `sweep_seconds` (1 s by default); everything else is channels' own.
"""

import time

from channels.layers import InMemoryChannelLayer


class SweptInMemoryChannelLayer(InMemoryChannelLayer):
    """InMemoryChannelLayer whose expiry sweep runs at most once every `sweep_seconds`: a
    message or membership is removed at most that long after it expired (with
    `sweep_seconds=0`, on every call, as channels does)."""

    def __init__(self, *args, sweep_seconds: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.sweep_seconds = sweep_seconds
        self._swept_at = float("-inf")

    def _clean_expired(self):
        # time.time(), the clock channels dates its messages and memberships by.
        now = time.time()
        if now - self._swept_at < self.sweep_seconds:
            return
        self._swept_at = now
        super()._clean_expired()

    async def flush(self):
        await super().flush()
        self._swept_at = float("-inf")
