"""The 64 KiB ceiling on request bodies (CONTRACT.md: 413), held for every body, chunked or not.

dispatch.middleware.ApiBodyLimitMiddleware reads Content-Length, but under ASGI it runs only
after Django's handler has read the whole body into a temporary file, and a chunked body has no
Content-Length at all: 64 MB were read and parsed. So the ceiling is held twice, below Django:

- `BodyLimit`, an ASGI middleware around Django's application, counts the `http.request`
  messages as they arrive and answers 413 at the first byte over, without reading on. It holds
  under any ASGI server.
- Daphne (Twisted) buffers the whole body before it calls the application at all, so
  `install_daphne_body_limit` gives Daphne a request class that counts the chunks as Twisted
  decodes them and answers 413 and closes the connection at the first byte over.
"""

import json

from django.conf import settings


def _too_large_body() -> bytes:
    limit = settings.API_MAX_BODY_BYTES
    return json.dumps({"code": "too_large", "detail": f"Request body is over {limit} bytes."}).encode()


def _declared_length(headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # Django's middleware answers it 400
    return None


class BodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.API_MAX_BODY_BYTES
        declared = _declared_length(scope.get("headers", []))
        if declared is not None and declared > limit:
            return await self._refuse(send)
        # Read up to the ceiling here; Django reads the same messages from the buffer after.
        received, size = [], 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                return await self._refuse(send)
            if not message.get("more_body", False):
                break

        async def replay():
            if received:
                return received.pop(0)
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, send):
        body = _too_large_body()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install_daphne_body_limit() -> None:
    """Make Daphne's HTTP factory build requests that refuse a body over the ceiling while
    it arrives. Daphne looks its request class up by name each time it builds a protocol."""
    try:
        from daphne import http_protocol
    except ImportError:  # another ASGI server: BodyLimit alone holds the ceiling
        return
    if getattr(http_protocol.WebRequest, "holds_body_limit", False):
        return

    class LimitedWebRequest(http_protocol.WebRequest):
        holds_body_limit = True
        body_refused = False
        body_seen = 0

        def gotLength(self, length):
            super().gotLength(length)
            if length is not None and length > settings.API_MAX_BODY_BYTES:
                self._refuse_body()

        def handleContentChunk(self, data):
            if self.body_refused:
                return
            self.body_seen += len(data)
            if self.body_seen > settings.API_MAX_BODY_BYTES:
                self._refuse_body()
                return
            super().handleContentChunk(data)

        def process(self):
            if self.body_refused:
                return None
            return super().process()

        def _refuse_body(self):
            self.body_refused = True
            body = _too_large_body()
            head = (
                b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
            )
            self.channel.transport.write(head + body)
            self.channel.transport.loseConnection()

    http_protocol.WebRequest = LimitedWebRequest
