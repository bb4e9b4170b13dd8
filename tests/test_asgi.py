"""The HTTP side of config.asgi: what Daphne runs, in-process."""

import json

import pytest
from asgiref import sync
from channels.testing import HttpCommunicator
from django.utils import timezone

from config.asgi import application
from dispatch.models import Assignment, Shift
from tests import factories
from tests.realtime_support import fresh_channel_layer  # noqa: F401 - a fixture
from tests.test_assignments_api import incident_body


def crossings(monkeypatch) -> list[str]:
    """Every call from the event loop into a thread (asgiref's sync_to_async), by name."""
    seen = []
    original = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        seen.append(getattr(self.func, "__qualname__", type(self.func).__name__))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    return seen


async def http(method: str, path: str, body: dict | None = None, **headers) -> tuple[int, dict, dict]:
    raw = json.dumps(body).encode() if body is not None else b""
    head = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    head += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    communicator = HttpCommunicator(application, method, path, body=raw, headers=head)
    answer = await communicator.get_response(timeout=10)
    await communicator.wait(timeout=10)  # the request is over: closed, its thread given back
    headers = {name.lower(): value for name, value in answer["headers"]}
    return answer["status"], headers, json.loads(answer["body"] or b"null")


@pytest.fixture
def cad_key(db, call_types):
    _client, key = factories.api_client("cad-asgi", "cad")
    unit = factories.UnitFactory(callsign="CR-1")
    for responder in (factories.UserFactory(roles=["responder"]), factories.UserFactory(roles=["responder"])):
        Shift.objects.create(unit=unit, user=responder, started_at=timezone.now())
    return key


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_assign_through_the_asgi_app_crosses_to_its_thread_once_for_the_whole_chain(
    cad_key, monkeypatch
):
    """Django's async chain took an API request from the event loop to a thread and back
    about twenty times (a synchronous middleware's every hook, the view); each crossing waits
    for the loop's turn, and with hundreds of tablets on the loop that was most of an assign's
    answer. Now: the request_started signal, the middleware chain and view (once), the close."""
    auth = {"authorization": f"Token {cad_key}"}
    status, _, incident = await http("POST", "/api/v1/incidents/", incident_body(), **auth)
    assert status == 201, incident
    seen = crossings(monkeypatch)
    status, _, assignment = await http(
        "POST", f"/api/v1/incidents/{incident['id']}/assign", {"unit": "CR-1"}, **auth
    )
    assert status == 201, assignment
    crossed = list(seen)
    assert await Assignment.objects.filter(pk=assignment["id"]).aexists()
    assert len(crossed) <= 3, crossed


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_the_async_health_check_and_the_body_limit_still_answer_through_the_asgi_app(
    cad_key,
):
    status, _, body = await http("GET", "/healthz")
    assert (status, body["checks"]) == (200, {"database": True, "channel_layer": True})
    status, _, body = await http(
        "POST", "/api/v1/incidents/", {"narrative": "x" * 70_000}, authorization=f"Token {cad_key}"
    )
    assert (status, body["code"]) == (413, "too_large")
    status, headers, body = await http("GET", "/api/v1/units/")
    assert status == 401 and headers[b"www-authenticate"] == b'Token realm="api"'


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_a_requests_thread_is_kept_for_the_next_request_and_never_shared_by_two_at_once(
    monkeypatch,
):
    """asgiref gave every request a new thread, and so a new database connection (SQLite's
    PRAGMAs, or a trip to the pool); now a finished request's thread serves the next one."""
    import asyncio
    import threading

    from dispatch import views

    seen, inside, release = [], asyncio.Event(), threading.Event()
    checked = views._database_ok

    def database_ok():
        seen.append(threading.current_thread())
        if len(seen) == 3:  # the third request holds its thread until the fourth has run
            inside_loop.call_soon_threadsafe(inside.set)
            release.wait(10)
        return checked()

    inside_loop = asyncio.get_running_loop()
    monkeypatch.setattr(views, "_database_ok", database_ok)
    assert (await http("GET", "/healthz"))[0] == 200
    assert (await http("GET", "/healthz"))[0] == 200
    held = asyncio.create_task(http("GET", "/healthz"))
    await inside.wait()
    assert (await http("GET", "/healthz"))[0] == 200
    release.set()
    assert (await held)[0] == 200
    assert seen[0] is seen[1] is seen[2]
    assert seen[3] is not seen[2]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_redis")
async def test_api_requests_through_the_asgi_app_share_one_redis_client(cad_key, monkeypatch):
    """Django makes a cache object per async context, and each its own Redis client, pool and
    connection: every API request built a client and connected to Redis anew to read its
    throttles. Now the process has one client."""
    import redis
    from django.core.cache.backends.redis import RedisCacheClient

    clients, connects = [], []
    make, connect = RedisCacheClient.__init__, redis.connection.AbstractConnection.connect

    def made(self, *args, **kwargs):
        clients.append(self)
        make(self, *args, **kwargs)

    def counted(self, *args, **kwargs):
        if self._sock is None:  # a pooled connection already open is handed out as it is
            connects.append(self)
        return connect(self, *args, **kwargs)

    monkeypatch.setattr(RedisCacheClient, "__init__", made)
    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", counted)
    for _ in range(4):
        status, _, units = await http("GET", "/api/v1/units/", authorization=f"Token {cad_key}")
        assert status == 200, units
    assert len(clients) <= 1
    assert len(connects) <= 1
