import os

import pytest

from dispatch.models import Unit
from tests import factories
from tests.conftest import skip_or_fail


@pytest.fixture
def team(personas, call_types):
    """A responder, the unit CR-1 (off duty until someone starts a shift) and a CAD's key."""
    unit = factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    _client, key = factories.api_client("cad-live", "cad")
    return {"responder": personas["responder"], "unit": unit, "cad_key": key}


@pytest.fixture(scope="package")
def chromium():
    """Headless Debian Chromium driven by Playwright, for this package's tests (they run last and
    back to back): once they are done Playwright's event loop is gone again."""
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
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_page(chromium):
    """`browser_page(server, user, viewport=...)`: a page signed in as `user` on `server`."""
    from tests.live import session_cookie_for

    contexts = []
    violations: list[str] = []

    def watch(page):
        def on_console(message):
            if message.type == "error" and CSP_MARK in message.text:
                violations.append(f"{page.url}: {message.text}")

        page.on("console", on_console)

    def open_page(server, user=None, viewport=None, **context_options):
        context = chromium.new_context(viewport=viewport or {"width": 1280, "height": 800}, **context_options)
        contexts.append(context)
        # Every page of the context reports each CSP violation on its console, where the
        # watch collects it (Chromium also logs its own "Refused to ..." line).
        context.add_init_script(CSP_LISTENER)
        context.on("page", watch)
        if user is not None:
            cookie = session_cookie_for(user)
            context.add_cookies([{**cookie, "url": server.url}])
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    open_page.csp_violations = violations  # a test that provokes one on purpose reads and clears it
    yield open_page
    for context in contexts:
        # A route a test left behind may be answering a request in flight: let it go quietly,
        # or its error surfaces in whichever test the browser serves next.
        for page in context.pages:
            page.unroute_all(behavior="ignoreErrors")
        context.unroute_all(behavior="ignoreErrors")
        context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


CSP_MARK = "Content Security Policy"
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`Content Security Policy: ${e.violatedDirective} refused ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""
