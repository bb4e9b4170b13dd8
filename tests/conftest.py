import os
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


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
    # Each test starts from its own database: what the last one subscribed is gone.
    from dispatch.programs import areas_forget
    from dispatch.webhooks import subscribers_forget

    subscribers_forget()
    areas_forget()  # the programs' shapes, slugs and names read by the test before


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
@pytest.fixture
def daphne_factory(transactional_db, tmp_path):
    """Start Daphne processes on the test database (data must be committed: transactional_db).
    Each call starts one more; all stop at the end of the test."""
    from tests.live import start_daphne

    servers = []

    def start(**env):
        server = start_daphne(tmp_path, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def daphne(daphne_factory):
    return daphne_factory()


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium driven by Playwright."""
    from tests.live import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
    # Playwright's sync API keeps an event loop on this thread; the ORM calls the tests make
    # between page actions are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """`browser_page(server, user, viewport=...)`: a page signed in as `user` on `server`."""
    from tests.live import session_cookie_for

    contexts = []

    def open_page(server, user=None, viewport=None, **context_options):
        context = chromium.new_context(viewport=viewport or {"width": 1280, "height": 800}, **context_options)
        contexts.append(context)
        if user is not None:
            cookie = session_cookie_for(user)
            context.add_cookies([{**cookie, "url": server.url}])
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def artifacts_dir():
    """Where browser tests save screenshots (kept out of git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps an event loop on the main thread
    while Chromium is open, which async (WebSocket) tests cannot run beside."""
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
