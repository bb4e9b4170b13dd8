"""When Redis is unreachable, a socket's handshake is not answered HTTP 500: the socket
opens and closes at once with 4503 (service unavailable), and the tablet reconnects as it would
after any drop. Pages that need no channel layer still answer."""

import asyncio
import urllib.request

import pytest
import websockets

from tests import factories
from tests.live import session_cookie_for

UNREACHABLE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens


@pytest.mark.parametrize(
    "path,role",
    [("/ws/field/", "responder"), ("/ws/dispatch/", "dispatcher"), ("/ws/followups/", "case_manager")],
)
def test_with_redis_down_a_socket_closes_with_a_code_instead_of_a_500(daphne_factory, path, role):
    server = daphne_factory(healthy=(503,), REDIS_URL=UNREACHABLE)
    user = factories.UserFactory(username="u", roles=[role])
    cookie = session_cookie_for(user)
    headers = {"Cookie": f"{cookie['name']}={cookie['value']}", "Origin": server.url}

    async def scenario():
        async with websockets.connect(
            f"{server.ws_url}{path}", additional_headers=headers, open_timeout=10
        ) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 20)
            return closed.value.rcvd.code

    try:
        code = asyncio.run(scenario())
    except Exception as exc:
        raise AssertionError(server.log()) from exc
    assert code == 4503, server.log()
    with urllib.request.urlopen(f"{server.url}/signin/", timeout=10) as answer:
        assert answer.status == 200  # a page that needs no channel layer
