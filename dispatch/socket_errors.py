"""What a WebSocket answers when the server cannot serve it (Redis unreachable, most often).

Channels opens each consumer's channel-layer receive before the handshake is answered; with
Redis down that receive raised, the consumer died before accepting, and Daphne answered the
handshake with HTTP 500. This ASGI middleware, around the socket routes, turns an error into a
clean close: the handshake is accepted and closed at once with 4503 when a service is
unreachable, 4500 for anything else (HTTP's numbers in the application's range, as 4401 and
4403 are; Autobahn lets an application close only with 1000 or 3000-4999). The clients
(static/js/live.js) reconnect with backoff on any code but 4401 and 4403, as after any drop.
"""

import asyncio
import logging

log = logging.getLogger(__name__)

CLOSE_SERVICE_UNAVAILABLE = 4503
CLOSE_SERVER_ERROR = 4500


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, OSError | asyncio.TimeoutError):
        return True
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:
        return False
    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


class SocketErrorClose:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        state = {"accepted": False, "closed": False}

        async def tracked(message):
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            return await self.app(scope, receive, tracked)
        except Exception as exc:
            code = CLOSE_SERVICE_UNAVAILABLE if _unreachable(exc) else CLOSE_SERVER_ERROR
            log.warning("socket %s closed with %s: %r", scope.get("path"), code, exc)
            if state["closed"]:
                return None
            try:
                if not state["accepted"]:
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": code})
                # Stay until the server has closed it: an application that ends right after
                # its accept leaves Daphne's close unsent.
                await asyncio.wait_for(_until_disconnect(receive), timeout=5)
            except Exception:  # the client already left, or never answered the close
                log.debug("could not close socket %s", scope.get("path"), exc_info=True)
            return None


async def _until_disconnect(receive):
    while (await receive())["type"] != "websocket.disconnect":
        pass
