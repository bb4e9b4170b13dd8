"""The 64 KiB ceiling holds for a chunked body without Content-Length, through the ASGI
application and through a real Daphne: 413, and the rest of the body is never read."""

import asyncio
import json
import socket

import pytest
from asgiref.sync import async_to_sync

from tests import factories

CHUNK = 16 * 1024


def run_asgi(path, chunks, headers=()):
    """Call the project's ASGI application with a body sent as `chunks` chunks of 16 KiB;
    return the status, the body and how many chunks the application read."""
    from config.asgi import application

    read = {"count": 0}
    sent = []

    async def receive():
        if read["count"] >= chunks:
            await asyncio.Event().wait()  # the client stays connected until the answer
        read["count"] += 1
        return {"type": "http.request", "body": b"[" * CHUNK, "more_body": read["count"] < chunks}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    async_to_sync(application)(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, read["count"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/incidents/", "/field/api/location", "/referrals/follow-ups/new/"])
def test_a_chunked_body_over_64_kib_is_refused_413_without_reading_the_rest(path):
    status, body, read = run_asgi(path, chunks=4096)  # 64 MB on offer
    assert status == 413
    assert json.loads(body)["code"] == "too_large"
    assert read <= 5  # 80 KiB read, not 64 MB


@pytest.mark.django_db
def test_a_declared_length_over_64_kib_is_refused_before_any_body_is_read():
    status, _, read = run_asgi("/api/v1/incidents/", chunks=4096, headers=[(b"content-length", b"67108864")])
    assert status == 413 and read == 0


@pytest.mark.django_db
def test_a_chunked_body_under_the_ceiling_reaches_the_view():
    # 32 KiB of "[" is not JSON: the view read it whole and answered for it.
    status, body, read = run_asgi("/api/v1/incidents/", chunks=2)
    assert read == 2
    assert status == 401  # no credentials: the request got as far as the API


def test_daphne_refuses_a_chunked_body_over_64_kib_and_stops_reading(daphne):
    _, key = factories.api_client("cad-1", "cad")
    sock = socket.create_connection(("127.0.0.1", daphne.port), timeout=10)
    sock.sendall(
        b"POST /api/v1/incidents/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Token " + key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (CHUNK, b"[" * CHUNK)
    sent = 0
    try:
        for _ in range(4096):  # up to 64 MB
            sock.sendall(chunk)
            sent += CHUNK
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while data := sock.recv(65536):
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * 1024 * 1024, sent  # the server closed long before 64 MB
    assert b"too_large" in answer
