import os
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

# pytest-xdist's workers share one Redis: each speaks under its own channel prefix (the Daphne
# processes a test starts are given the same one, tests/live.py), so no worker hears another's
# groups. Their databases are apart already (pytest-django suffixes the test database's name).
_layer_config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
if os.environ.get("PYTEST_XDIST_WORKER") and "prefix" in _layer_config:
    _layer_config["prefix"] += "-" + os.environ["PYTEST_XDIST_WORKER"]
    # And the cache (the API's throttles) under its own key prefix, cleared key by key.
    settings.CACHES["default"]["KEY_PREFIX"] = "test-" + os.environ["PYTEST_XDIST_WORKER"]

# The test process empties its database with DELETE, not TRUNCATE (tests/postgresql/base.py).
if settings.USING_POSTGRES:
    from django.db import connections

    settings.DATABASES["default"]["ENGINE"] = "tests.postgresql"
    # Django has made this thread's connection object already (unconnected): made again.
    connections["default"].close()
    del connections["default"]


def _cache_clear():
    """Empty this test run's cache. On Redis, only the keys under its prefix: Django's own
    clear() empties the whole database, the other worker's counts (and channel layer) too."""
    from django.core.cache import cache

    if settings.REDIS_URL:
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


def skip_or_fail(reason: str):
    """Without a service a test skips, unless CI said REQUIRE_SERVICES=1: then it fails."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def require_postgres():
    if not settings.USING_POSTGRES:
        skip_or_fail("DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def require_redis():
    if not settings.REDIS_URL:
        skip_or_fail("REDIS_URL is not set")


@pytest.fixture(autouse=True)
def _test_moment():
    from django.utils import timezone

    factories.TEST_MOMENT.at = timezone.now()
    yield
    factories.TEST_MOMENT.at = None


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.EVENT_CATCHUP_SECONDS = 0.5
    settings.MAP_TILE_URL = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests sign people in with force_login, which passes no second factor: the tests of the
    # second factor (tests/test_second_factor.py) put the production default back.
    settings.OTP_REQUIRED_ROLES = []
    # Tests move the clock (to noon today: `midday`, up to a day ahead) after signing people in,
    # which to the idle lock looks like a day without use. The idle-lock tests put the
    # production 30 minutes back (tests/test_idle_lock.py, tests/test_session_sockets.py).
    settings.SESSION_IDLE_SECONDS = 3 * 24 * 3600
    # The API's throttles count in the cache: each test starts with none counted.
    _cache_clear()
    # Each test starts from its own database: what the last one subscribed is gone.
    from dispatch.programs import areas_forget
    from dispatch.webhooks import subscribers_forget

    subscribers_forget()
    areas_forget()  # the programs' shapes, slugs and names read by the test before
    from dispatch.auth import clients

    clients.clear()  # API clients authenticated by the test before (dispatch.auth.ClientCache)


@pytest.fixture
def call_types(db):
    """A small catalogue: eligible WELFARE and TRESPASS, ineligible ASSAULT."""
    return {
        "WELFARE": factories.CallTypeFactory(code="WELFARE", eligible=True),
        "TRESPASS": factories.CallTypeFactory(code="TRESPASS", eligible=True),
        "ASSAULT": factories.CallTypeFactory(code="ASSAULT", eligible=False),
    }


@pytest.fixture
def personas(db):
    """One user per role, and one with no role."""
    return {
        "responder": factories.UserFactory(username="resp", roles=["responder"]),
        "dispatcher": factories.UserFactory(username="disp", roles=["dispatcher"]),
        "police_officer": factories.UserFactory(username="cop", roles=["police_officer"]),
        "case_manager": factories.UserFactory(username="cm", roles=["case_manager"]),
        "supervisor": factories.UserFactory(username="sup", roles=["supervisor"]),
        "nobody": factories.UserFactory(username="nobody", roles=[]),
    }


@pytest.fixture
def cad(db):
    """An API client with role cad, authenticated."""
    client_obj, key = factories.api_client("cad-1", "cad")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.api_client = client_obj
    return api


@pytest.fixture
def cad2(db):
    client_obj, key = factories.api_client("cad-2", "cad")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.api_client = client_obj
    return api


@pytest.fixture
def police_api(db):
    client_obj, key = factories.api_client("rms-1", "police")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


# --- Real servers and a real browser -----------------------------------------------------------
@pytest.fixture(scope="session")
def _daphne_spare(django_db_setup, tmp_path_factory):
    """This worker's Daphne started ahead (tests.live.DaphneSpare), stopped before the test
    database goes."""
    from tests.live import DaphneSpare

    spare = DaphneSpare(tmp_path_factory.mktemp("daphne"))
    yield spare
    spare.stop()


@pytest.fixture
def daphne_factory(transactional_db, _daphne_spare):
    """Start Daphne processes on the test database (data must be committed: transactional_db).
    Each call starts one more (or takes the one started ahead); all stop at the end of the test."""
    servers = []

    def start(healthy=(200,), **env):
        server = _daphne_spare.start(healthy=healthy, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne(daphne_factory):
    return daphne_factory()


ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def artifacts_dir():
    """Where browser tests save screenshots (kept out of git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps an event loop on the main thread
    while Chromium is open (tests/browser/conftest.py), which async (WebSocket) tests cannot run
    beside. Under pytest-xdist (`make test`, `--dist load`) each worker takes its tests in
    collection order, so both workers finish the rest before their first browser test, and
    then share the browser tests, each with its own Chromium."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def midday(settings):
    """The clock moved to noon today in the program's zone, and running from there: a test
    whose calls must be received "today" cannot then cross midnight while it runs."""
    from zoneinfo import ZoneInfo

    import time_machine
    from django.utils import timezone

    noon = timezone.localtime(timezone.now(), ZoneInfo(settings.TIME_ZONE)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    with time_machine.travel(noon, tick=True):
        yield noon
