"""Sockets serve a session only while it lasts (issue 11): sign-out, expiry, the idle lock,
deactivation and a role change close every consumer's sockets (4401 / 4403), and nothing is
sent after. A locked tablet still hears, content-free, that its unit has a new assignment."""

import asyncio
from contextlib import asynccontextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from django.test import Client
from django.utils import timezone

import config.settings as production
from config.asgi import application
from dispatch import services
from dispatch.events import EventType, event_record
from dispatch.session_guard import LAST_ACTIVE_KEY
from field.consumers import nudge_token_for
from tests import factories
from tests.realtime_support import (
    assign,
    fresh_channel_layer,  # noqa: F401 - a fixture
    make_incident,
    make_unit_with_responder,
    receive,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]

db = database_sync_to_async
ORIGIN = [(b"origin", b"http://testserver")]
CONSUMERS = {"/ws/dispatch/": "dispatcher", "/ws/followups/": "case_manager", "/ws/field/": "responder"}


def record(data: dict) -> None:
    with transaction.atomic():
        event_record(EventType.INCIDENT_UPDATED, data)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@asynccontextmanager
async def socket_for(client: Client, path: str):
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    headers = [(b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def opened(ws, path):
    """Read what a socket says when it opens (field: its shift; follow-ups: ready)."""
    if path == "/ws/field/":
        assert (await receive(ws))["type"] == "shift"
    elif path == "/ws/followups/":
        assert await receive(ws) == {"type": "ready"}
    else:
        assert await ws.receive_nothing(timeout=0.2)


async def closed_with(ws, timeout=3.0) -> int:
    """The close code, after making sure nothing else came first."""
    output = await ws.receive_output(timeout=timeout)
    assert output["type"] == "websocket.close", output
    return output["code"]


@pytest.fixture(autouse=True)
def idle_lock(settings):
    """The production idle lock (the suite's default is longer: see conftest)."""
    settings.SESSION_IDLE_SECONDS = production.SESSION_IDLE_SECONDS


@pytest.fixture
def slow_recheck(settings):
    """Re-checks far apart: a close within a second then shows the signal did it."""
    settings.SESSION_RECHECK_SECONDS = 60


@pytest.fixture
def fast_recheck(settings):
    settings.SESSION_RECHECK_SECONDS = 0.2


async def test_a_recheck_within_15_seconds_is_the_default():
    assert 0 < django_settings.SESSION_RECHECK_SECONDS <= 15


@pytest.mark.usefixtures("slow_recheck")
async def test_signing_out_closes_every_consumers_socket_at_once_with_4401(personas, call_types):
    for path, role in CONSUMERS.items():
        client = await db(signed_in)(personas[role])
        async with socket_for(client, path) as ws:
            await opened(ws, path)
            await db(client.post)("/signout/")
            assert await closed_with(ws, timeout=1) == 4401, path


@pytest.mark.usefixtures("slow_recheck")
async def test_after_sign_out_no_narrative_reaches_the_console(personas, call_types):
    client = await db(signed_in)(personas["dispatcher"])
    async with socket_for(client, "/ws/dispatch/") as ws:
        await opened(ws, "/ws/dispatch/")
        incident = await db(make_incident)(narrative="first, while signed in")
        assert (await receive(ws))["type"] == "incident.created"

        def sign_out_then_a_call():
            client.post("/signout/")
            make_incident(narrative="after sign-out: must not be sent")

        await db(sign_out_then_a_call)()
        assert await closed_with(ws, timeout=1) == 4401
        assert incident.pk


@pytest.mark.usefixtures("slow_recheck")
async def test_deactivation_closes_the_users_sockets_and_events_after_it_are_not_sent(personas, call_types):
    cr1, maya = await db(make_unit_with_responder)("CR-1", "maya")
    dispatcher = await db(signed_in)(personas["dispatcher"])
    tablet = await db(signed_in)(maya)
    async with socket_for(dispatcher, "/ws/dispatch/") as console, socket_for(tablet, "/ws/field/") as ws:
        await opened(console, "/ws/dispatch/")
        await opened(ws, "/ws/field/")

        await db(services.user_deactivate)(actor=personas["supervisor"], user_id=maya.pk)
        # Her shift ended (unit.updated), then the socket closed: only what came before the
        # change may precede the close, nothing after it.
        while True:
            output = await ws.receive_output(timeout=1)
            if output["type"] == "websocket.close":
                assert output["code"] == 4401
                break
            assert output["type"] == "websocket.send"
        assert await ws.receive_nothing(timeout=0.3)
        # The dispatcher's console is not hers: it carries on.
        await db(record)({"n": 1})
        while (await receive(console)).get("data") != {"n": 1}:
            pass


@pytest.mark.usefixtures("slow_recheck")
async def test_a_role_change_closes_the_socket_with_4403_and_a_kept_role_carries_on(personas, call_types):
    dispatcher, supervisor = personas["dispatcher"], personas["supervisor"]
    client = await db(signed_in)(dispatcher)
    async with socket_for(client, "/ws/dispatch/") as ws:
        await opened(ws, "/ws/dispatch/")
        # The same role again (a name change): still a dispatcher, still served.
        await db(services.user_update)(
            actor=supervisor, user_id=dispatcher.pk, first_name="Dee", last_name="Patel", role="dispatcher"
        )
        await db(record)({"n": 1})
        assert (await receive(ws))["data"] == {"n": 1}

        def demote_then_event():
            services.user_update(
                actor=supervisor, user_id=dispatcher.pk, first_name="Dee", last_name="Patel", role="responder"
            )
            record({"n": 2, "narrative": "must not be sent"})

        await db(demote_then_event)()
        assert await closed_with(ws, timeout=1) == 4403


@pytest.mark.usefixtures("slow_recheck")
async def test_a_case_manager_who_loses_the_role_stops_hearing_the_queue(personas):
    client = await db(signed_in)(personas["case_manager"])
    async with socket_for(client, "/ws/followups/") as ws:
        await opened(ws, "/ws/followups/")
        await db(services.user_update)(
            actor=personas["supervisor"],
            user_id=personas["case_manager"].pk,
            first_name="C",
            last_name="M",
            role="police_officer",
        )
        assert await closed_with(ws, timeout=1) == 4403


@pytest.mark.usefixtures("fast_recheck")
async def test_an_expired_session_closes_its_sockets_on_the_recheck(personas, call_types, settings):
    settings.SESSION_IDLE_SECONDS = 10 * django_settings.SESSION_COOKIE_AGE  # expiry, not the idle lock
    for path, role in CONSUMERS.items():
        client = await db(signed_in)(personas[role])
        with time_machine.travel(timezone.now(), tick=True) as traveller:
            async with socket_for(client, path) as ws:
                await opened(ws, path)
                # Kept awake (the idle lock is not what ends it), past the session's age.
                traveller.shift(timedelta(seconds=django_settings.SESSION_COOKIE_AGE + 60))
                assert await closed_with(ws, timeout=3) == 4401, path


@pytest.mark.usefixtures("fast_recheck")
async def test_an_idle_session_is_ended_by_the_socket_recheck(personas):
    from django.contrib.sessions.models import Session

    client = await db(signed_in)(personas["dispatcher"])
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        async with socket_for(client, "/ws/dispatch/") as ws:
            await opened(ws, "/ws/dispatch/")
            traveller.shift(timedelta(seconds=django_settings.SESSION_IDLE_SECONDS - 60))
            assert await ws.receive_nothing(timeout=0.6)  # not idle yet: still open
            traveller.shift(timedelta(seconds=120))
            assert await closed_with(ws, timeout=3) == 4401
    assert not await db(Session.objects.filter(session_key=key).exists)()


@pytest.mark.usefixtures("fast_recheck")
async def test_a_locked_tablet_is_told_of_a_new_assignment_without_its_content(call_types):
    cr1, maya = await db(make_unit_with_responder)("CR-1", "maya")
    tablet = await db(signed_in)(maya)
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        async with socket_for(tablet, "/ws/field/") as ws:
            await opened(ws, "/ws/field/")
            traveller.shift(timedelta(seconds=django_settings.SESSION_IDLE_SECONDS + 5))
            locked = await receive(ws, timeout=3)
            assert locked["type"] == "locked" and locked["nudge"]
            assert await closed_with(ws) == 4401
    nudge = WebsocketCommunicator(
        application, f"/ws/field/nudge/?token={locked['nudge']}", headers=[(b"origin", b"http://testserver")]
    )
    assert (await nudge.connect())[0]
    try:
        incident = await db(make_incident)(caller_name="Ann Secret", narrative="Secret narrative")
        await db(assign)(incident, "CR-1")
        message = await receive(nudge)
        assert message == {"type": "nudge", "kind": "assignment"}
        assert await nudge.receive_nothing(timeout=0.3)
        # Her partner takes over the unit and she ends her shift: the token is worth nothing now.
        partner = await db(factories.UserFactory)(username="theo", roles=["responder"])
        await db(services.shift_start)(user=partner, unit_id=cr1.pk)
        await db(services.shift_end)(user=maya)
        assert await closed_with(nudge, timeout=3) == 4401
    finally:
        await nudge.disconnect()


async def test_the_nudge_socket_refuses_a_bad_or_stale_token(call_types):
    cr1, maya = await db(make_unit_with_responder)("CR-1", "maya")
    for token in ["", "nonsense", (await db(nudge_token_for)(maya.pk)) + "x"]:
        ws = WebsocketCommunicator(application, f"/ws/field/nudge/?token={token}", headers=ORIGIN)
        await ws.connect()
        assert await closed_with(ws) == 4401
        await ws.disconnect()
    token = await db(nudge_token_for)(maya.pk)
    await db(services.user_deactivate)(actor=None, user_id=maya.pk)
    ws = WebsocketCommunicator(application, f"/ws/field/nudge/?token={token}", headers=ORIGIN)
    await ws.connect()
    assert await closed_with(ws) == 4401
    await ws.disconnect()


async def test_an_explicit_sign_out_gives_the_tablet_no_nudge_token(call_types, settings):
    settings.SESSION_RECHECK_SECONDS = 60
    cr1, maya = await db(make_unit_with_responder)("CR-1", "maya")
    tablet = await db(signed_in)(maya)
    async with socket_for(tablet, "/ws/field/") as ws:
        await opened(ws, "/ws/field/")
        await db(tablet.post)("/signout/")
        assert await closed_with(ws, timeout=1) == 4401


@pytest.mark.usefixtures("fast_recheck")
async def test_acknowledging_over_the_socket_counts_as_use_of_the_session(call_types):
    cr1, maya = await db(make_unit_with_responder)("CR-1", "maya")
    tablet = await db(signed_in)(maya)
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        async with socket_for(tablet, "/ws/field/") as ws:
            await opened(ws, "/ws/field/")
            incident = await db(make_incident)()
            await db(assign)(incident, "CR-1")
            created = None
            while created is None:
                message = await receive(ws)
                if message.get("type") == "assignment.created":
                    created = message
            traveller.shift(timedelta(seconds=django_settings.SESSION_IDLE_SECONDS - 60))
            await ws.send_json_to({"type": "ack", "event_id": created["id"]})
            key = tablet.cookies[django_settings.SESSION_COOKIE_NAME].value
            noted = timezone.now().timestamp() - 5
            async with asyncio.timeout(5):
                while (await db(lambda: SessionStore(key).load().get(LAST_ACTIVE_KEY, 0))()) < noted:
                    await asyncio.sleep(0.05)
            traveller.shift(timedelta(seconds=120))  # 30 minutes after sign-in, 1 after the ack
            await asyncio.sleep(0.6)
            while not await ws.receive_nothing(timeout=0.3):
                output = await ws.receive_output()
                assert output["type"] != "websocket.close", output


# --- one re-check for all the sockets of a process ---------------------------------------------------
def _signed_in_dispatchers(n: int) -> list[tuple[str, int, str]]:
    from dispatch.roles import Action

    checks = []
    for _ in range(n):
        user = factories.UserFactory(roles=["dispatcher"])
        client = signed_in(user)
        checks.append(
            (client.cookies[django_settings.SESSION_COOKIE_NAME].value, user.pk, Action.DISPATCH_CONSOLE)
        )
    return checks


def _queries_for_verdicts(checks) -> tuple[int, list]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dispatch.session_guard import session_verdicts

    with CaptureQueriesContext(connection) as queries:
        verdicts = session_verdicts(checks)
    return len(queries), verdicts


async def test_the_batched_recheck_reads_as_many_queries_for_20_sockets_as_for_1():
    one = await db(_signed_in_dispatchers)(1)
    twenty = await db(_signed_in_dispatchers)(20)
    count_one, verdicts_one = await db(_queries_for_verdicts)(one)
    count_twenty, verdicts_twenty = await db(_queries_for_verdicts)(twenty)
    assert verdicts_one == [None] and verdicts_twenty == [None] * 20
    assert count_twenty == count_one <= 3


@pytest.mark.usefixtures("fast_recheck")
async def test_the_recheck_closes_exactly_the_sockets_that_no_longer_serve(personas):
    """No signal is sent (a session deleted from the store, a role taken away by a bare
    update): the one re-check of the process finds both, and leaves the third socket open."""
    from django.contrib.sessions.models import Session

    from dispatch.models import Membership

    gone, demoted, kept = (await db(_signed_in_dispatchers)(3))[:3]
    clients = []
    for key, _user_id, _action in (gone, demoted, kept):
        client = Client()
        client.cookies[django_settings.SESSION_COOKIE_NAME] = key
        clients.append(client)
    async with (
        socket_for(clients[0], "/ws/dispatch/") as ws_gone,
        socket_for(clients[1], "/ws/dispatch/") as ws_demoted,
        socket_for(clients[2], "/ws/dispatch/") as ws_kept,
    ):
        for ws in (ws_gone, ws_demoted, ws_kept):
            await opened(ws, "/ws/dispatch/")
        await db(lambda: Session.objects.filter(session_key=gone[0]).delete())()
        await db(lambda: Membership.objects.filter(user_id=demoted[1]).update(role="responder"))()
        assert await closed_with(ws_gone) == 4401
        assert await closed_with(ws_demoted) == 4403
        assert await ws_kept.receive_nothing(timeout=1.0)  # five re-checks later, still served
        await db(record)({"n": 1})
        assert (await receive(ws_kept))["data"] == {"n": 1}


# --- the re-check spread over its period ---------------------------------------------------------
class _Socket:
    """What the re-check reads of a socket."""

    def __init__(self, n: int):
        self.session_key, self.action, self.verdict = f"key-{n}", "", None
        self.user = SimpleNamespace(pk=n)


async def test_sockets_that_came_at_once_are_checked_a_tenth_at_a_time_each_within_two_periods(monkeypatch):
    """500 tablets back at once after a restart: no tick checks more than 50 of them (500 at once
    held the process for ~200 ms), every one is checked in the period after it is due, and from
    then on each once a period."""
    from dispatch import consumers

    visits = []
    monkeypatch.setattr(
        consumers, "session_verdicts", lambda checks: visits.append(len(checks)) or [None] * len(checks)
    )
    recheck = consumers.SessionRecheck()
    loop = asyncio.get_running_loop()
    period, admitted = 10.0, loop.time() - 10.0  # all admitted a period ago: all due now
    sockets = [_Socket(n) for n in range(500)]
    recheck.sockets = dict.fromkeys(sockets, admitted)
    checked_by_tick = []
    for _tick in range(10):
        await recheck.check_due(period)
        checked_by_tick.append(sum(1 for s in sockets if recheck.sockets[s] > admitted))
        for socket in sockets:  # the loop's clock moves a tick on: shift every check back instead
            recheck.sockets[socket] -= period / recheck.TICKS
        admitted -= period / recheck.TICKS
    assert visits == [50] * 10
    assert checked_by_tick == [50 * (n + 1) for n in range(10)]
    # A period after the first tick: the first 50 are due again, first checked first; the 50
    # checked a tick later are due too (within a tick of their period), and wait their turn.
    first_round = sorted(sockets, key=recheck.sockets.__getitem__)
    assert recheck.due(period) == first_round[:50]


async def test_a_tick_checks_more_than_a_tenth_when_the_sockets_are_few(monkeypatch):
    from dispatch import consumers

    recheck = consumers.SessionRecheck()
    now = asyncio.get_running_loop().time()
    sockets = [_Socket(n) for n in range(20)]
    recheck.sockets = {socket: now - 10.0 for socket in sockets}
    recheck.sockets[sockets[0]] = now  # just checked (or just admitted): not due
    assert recheck.due(10.0) == sockets[1:]  # MIN_PER_TICK (25) at the fewest: all that are due
    recheck.sockets = {socket: now - 10.0 for socket in [_Socket(n) for n in range(30)]}
    assert len(recheck.due(10.0)) == 25
    recheck.sockets = {socket: now - 10.0 for socket in [_Socket(n) for n in range(1000)]}
    assert len(recheck.due(10.0)) == 100  # a tenth of 1,000, more than MIN_PER_TICK


async def test_a_closed_socket_is_not_checked_again():
    from dispatch import consumers
    from dispatch.session_guard import Ended, Verdict

    recheck = consumers.SessionRecheck()
    now = asyncio.get_running_loop().time()
    closed, open_ = _Socket(1), _Socket(2)
    closed.verdict = Verdict(4401, Ended.SIGNED_OUT)
    recheck.sockets = {closed: now - 10.0, open_: now - 10.0}
    assert recheck.due(10.0) == [open_]
