"""The tablet when its session ends (issue 11), in headless Chromium against a real Daphne: a
write queued while the session ended waits in the outbox through the 401, body and all, and
is sent once the responder signs in again; the worker's cache forgets the call when the
session ends without the sign-out form passing through it. And the two-step sign-in with a
second factor. Every screen visited passes axe-core."""

import pytest
from django.contrib.sessions.models import Session
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from dispatch import services as dispatch_services
from dispatch.models import Assignment
from tests.browser.axe import assert_accessible
from tests.browser.tablet import dispatch_a_call, open_tablet, wait_for

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests-1"
CACHE_KEYS = """async () => {
  const cache = await caches.open("cr-field-v2");
  return (await cache.keys()).map((r) => new URL(r.url).pathname);
}"""
OUTBOX = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("cr-field", 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const t = open.result.transaction(["outbox", "conflicts"], "readonly");
    const out = t.objectStore("outbox").getAll();
    const conflicts = t.objectStore("conflicts").getAll();
    t.oncomplete = () => resolve({ outbox: out.result, conflicts: conflicts.result });
  };
})"""


def live_tablet_with_a_call(daphne, browser_page, team):
    dispatch_services.shift_start(user=team["responder"], unit_id=team["unit"].pk)
    page, errors = open_tablet(daphne, browser_page, team["responder"])
    page.wait_for_selector("#connection:has-text('Live')")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assignment = dispatch_a_call(daphne, team["cad_key"])
    page.get_by_role("button", name="Acknowledge").click()
    wait_for(lambda: Assignment.objects.get(pk=assignment.pk).acknowledged_at)
    page.reload()  # now the worker has the page, with its call, in its cache
    page.wait_for_selector("#assignment")
    wait_for(lambda: "/field/" in page.evaluate(CACHE_KEYS))
    return page, errors, assignment


@pytest.fixture
def passwords(settings):
    """Set a password the server can check: the tests' fast hasher is not one Daphne knows."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]

    def give(*users):
        for user in users:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])

    return give


def sign_in(page, username, password=PASSWORD):
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_step_queued_as_the_session_ended_survives_the_401_and_is_sent_after_sign_in(
    daphne, browser_page, team, passwords
):
    passwords(team["responder"])
    page, errors, assignment = live_tablet_with_a_call(daphne, browser_page, team)
    # In a dead zone the responder taps En route; meanwhile the session ends (locked idle).
    page.context.set_offline(True)
    page.get_by_role("button", name="Set status: En route").click()
    page.wait_for_selector("#outbox-status:has-text('1 waiting to send')")
    Session.objects.all().delete()
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")

    # The 401 locks the screen; the step is kept, with its body, and is not a "conflict".
    page.wait_for_selector("#lock-screen:not([hidden])", timeout=15_000)
    assert "1 change is kept on this tablet" in page.locator("#lock-waiting").inner_text()
    assert not page.locator("#assignment").is_visible()
    kept = page.evaluate(OUTBOX)
    assert kept["conflicts"] == []
    assert len(kept["outbox"]) == 1 and kept["outbox"][0]["body"]["status"] == "en_route"
    assert Assignment.objects.get(pk=assignment.pk).status != "en_route"
    # The call left the worker's cache too; the app's own files stayed.
    cached = page.evaluate(CACHE_KEYS)
    assert "/field/" not in cached and any(path.startswith("/static/") for path in cached)
    assert_accessible(page, "tablet locked after the session ended")

    page.get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/signin/**")
    assert_accessible(page, "sign-in")
    sign_in(page, team["responder"].username)
    page.wait_for_url("**/field/")
    wait_for(lambda: Assignment.objects.get(pk=assignment.pk).status == "en_route", timeout=15)
    page.wait_for_selector("#outbox-status:has-text('0 waiting to send')")
    assert page.evaluate(OUTBOX) == {"outbox": [], "conflicts": []}
    assert errors == []


KEPT_CALL = """() => new Promise((resolve) => {
  const open = indexedDB.open("cr-field-call");
  open.onsuccess = () => {
    const get = open.result.transaction("call").objectStore("call").get("current");
    get.onsuccess = () => { open.result.close(); resolve(get.result ? get.result.assignment : null); };
  };
})"""


def test_a_state_answer_read_before_the_session_ended_does_not_bring_the_call_back(
    daphne, browser_page, team
):
    """The tablet's ask for its state is answered while the session is still on, and the
    answer is slow to arrive (a weak signal); meanwhile the session ends and the tablet locks.
    The late answer must not draw the call again behind the lock, nor keep it on the tablet."""
    dispatch_services.shift_start(user=team["responder"], unit_id=team["unit"].pk)
    # No service worker: the page's own requests go to the network, where the test holds one.
    page, errors = open_tablet(daphne, browser_page, team["responder"], service_workers="block")
    page.wait_for_selector("#connection:has-text('Live')")
    dispatch_a_call(daphne, team["cad_key"])
    page.wait_for_selector("#assignment")

    held = []  # the answer, read from the server now (the call in it), handed over later
    page.route("**/field/state", lambda route: held.append((route, route.fetch())), times=1)
    page.evaluate("dispatchEvent(new Event('online'))")  # the page asks for its state again
    wait_for(lambda: held or page.wait_for_timeout(20))
    assert held[0][1].json()["assignment"]

    Session.objects.all().delete()  # signed out on another device, or locked idle
    page.evaluate("dispatchEvent(new Event('online'))")  # the next ask gets the 401
    page.wait_for_selector("#lock-screen:not([hidden])", timeout=15_000)
    wait_for(lambda: page.evaluate(KEPT_CALL) is None)

    route, answer = held[0]
    with page.expect_event("requestfinished", lambda request: request.url.endswith("/field/state")):
        route.fulfill(response=answer)
    # What the page would do with the answer (save it, draw it) takes a few tasks: let them run.
    page.wait_for_timeout(750)
    assert not page.locator("#assignment").is_visible()
    assert not page.locator("#on-shift").is_visible()
    assert page.locator("#lock-screen").is_visible()
    assert page.evaluate(KEPT_CALL) is None
    assert errors == []


def test_the_worker_forgets_the_call_when_the_session_ends_without_the_sign_out_form(
    daphne, browser_page, team
):
    page, errors, _ = live_tablet_with_a_call(daphne, browser_page, team)
    Session.objects.all().delete()  # expired, locked idle, or signed out on another device
    page.goto(f"{daphne.url}/field/")  # the worker relays the redirect to sign-in
    page.wait_for_url("**/signin/**")
    wait_for(lambda: "/field/" not in page.evaluate(CACHE_KEYS))
    # No cache holds the tablet's page (and its call) any more; the app's files are still there.
    assert page.evaluate("async () => (await caches.match('/field/')) === undefined")
    assert any(path.startswith("/static/") for path in page.evaluate(CACHE_KEYS))
    assert_accessible(page, "sign-in after the session ended")
    assert errors == []


def test_sign_in_with_a_second_factor_and_enrolment_for_a_role_that_needs_one(
    daphne_factory, browser_page, personas, passwords
):
    passwords(personas["supervisor"], personas["case_manager"])
    server = daphne_factory(OTP_REQUIRED_ROLES="supervisor,case_manager")
    supervisor = personas["supervisor"]
    device = TOTPDevice.objects.create(user=supervisor, name="Authenticator app", confirmed=True)
    page = browser_page(server)
    page.goto(f"{server.url}/signin/")
    sign_in(page, supervisor.username)
    page.wait_for_url("**/signin/code/")
    assert_accessible(page, "sign-in code step")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    assert "did not match" in page.get_by_role("alert").inner_text()
    page.wait_for_timeout(1100)  # the device waits a second after a wrong code
    device.refresh_from_db()
    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dispatch/supervisor/")

    # A case manager with no device is sent to enrolment, and in after it.
    other = browser_page(server)
    other.goto(f"{server.url}/signin/")
    sign_in(other, personas["case_manager"].username)
    other.wait_for_url("**/account/second-factor/**")
    assert other.locator("svg title").first.text_content().startswith("QR code")
    assert_accessible(other, "second-factor enrolment")
    pending = TOTPDevice.objects.get(user=personas["case_manager"], confirmed=False)
    secret = other.locator("#totp-secret").inner_text().replace(" ", "")
    from base64 import b32encode

    assert b32encode(pending.bin_key).decode().rstrip("=") == secret
    code = f"{TOTP(pending.bin_key, pending.step, pending.t0, pending.digits, pending.drift).token():06d}"
    other.get_by_label("Code from the app").fill(code)
    other.get_by_role("button", name="Turn on").click()
    other.wait_for_selector("text=Your recovery codes")
    assert other.locator(".recovery-codes li").count() == 10
    assert_accessible(other, "recovery codes")
    other.get_by_role("link", name="Go on").click()
    other.wait_for_url("**/referrals/**")
