"""Sign-in throttling with lockout (django-axes) and API throttles (issue 11)."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch.auth import BadTokenThrottle, ClientRateThrottle
from dispatch.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"


def sign_in(client, username, password, addr="10.0.0.1"):
    return client.post("/signin/", {"username": username, "password": password}, REMOTE_ADDR=addr)


def test_ten_wrong_passwords_lock_the_name_out_with_a_clear_message_even_for_the_right_one(personas):
    client = Client()
    for _ in range(9):
        response = sign_in(client, "disp", "wrong")
        assert response.status_code == 200
        assert "did not match" in response.content.decode()
    locked = sign_in(client, "disp", "wrong")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in locked" in page and "15 minutes" in page and "supervisor" in page
    # The right password is refused too while the lock lasts.
    right = sign_in(client, "disp", PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_per_name_and_address_and_ends_after_15_minutes(personas):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(10):
            sign_in(Client(), "disp", "wrong")
        assert sign_in(Client(), "disp", PASSWORD).status_code == 429
        # The same person from another address, and another person from this one, sign in.
        assert sign_in(Client(), "disp", PASSWORD, addr="10.0.0.2").status_code == 302
        assert sign_in(Client(), "sup", PASSWORD).status_code == 302
        clock.shift(timedelta(minutes=15, seconds=1))
        assert sign_in(Client(), "disp", PASSWORD).status_code == 302


def test_a_right_password_before_the_limit_starts_the_count_again(personas):
    for _ in range(9):
        sign_in(Client(), "disp", "wrong")
    assert sign_in(Client(), "disp", PASSWORD).status_code == 302
    for _ in range(9):
        assert sign_in(Client(), "disp", "wrong").status_code == 200


def test_supervisors_see_lockouts_and_lift_them(client, personas):
    for _ in range(10):
        sign_in(Client(), "disp", "wrong")
    client.force_login(personas["supervisor"])
    page = client.get("/dispatch/supervisor/lockouts/")
    assert page.status_code == 200
    assert "disp" in page.content.decode() and "10.0.0.1" in page.content.decode()
    attempt_id = page.context["lockouts"][0].pk
    response = client.post(f"/dispatch/supervisor/lockouts/{attempt_id}/lift", follow=True)
    assert "Lockout lifted" in response.content.decode()
    assert "Nobody is locked out" in response.content.decode()
    entry = AuditEntry.objects.get(action="signin.lockout_lift")
    assert entry.actor == personas["supervisor"] and entry.target == "user disp"
    assert sign_in(Client(), "disp", PASSWORD).status_code == 302
    # Lifting it twice is a clear message, not an error page.
    again = client.post(f"/dispatch/supervisor/lockouts/{attempt_id}/lift", follow=True)
    assert "already lifted" in again.content.decode()


@pytest.mark.parametrize("role", ["dispatcher", "case_manager", "responder"])
def test_other_roles_may_neither_see_nor_lift_lockouts(client, personas, role):
    client.force_login(personas[role])
    assert client.get("/dispatch/supervisor/lockouts/").status_code == 403
    assert client.post("/dispatch/supervisor/lockouts/1/lift").status_code == 403


# --- API throttles ---------------------------------------------------------------------------------
def in_a_minute(second: int):
    """The clock stopped `second` seconds into a minute of today: the throttles count per
    minute of the clock, and a test must not see a minute end halfway through."""
    return time_machine.travel(timezone.now().replace(second=second, microsecond=0), tick=False)


def test_bad_tokens_from_one_address_are_answered_429_with_retry_after(db, monkeypatch):
    monkeypatch.setitem(BadTokenThrottle.THROTTLE_RATES, "bad_token", "20/min")
    with in_a_minute(20):
        bad_tokens_are_refused()


def bad_tokens_are_refused():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    answers = [api.get("/api/v1/units/").status_code for _ in range(25)]
    assert answers[:20] == [401] * 20
    assert answers[20:] == [429] * 5
    refused = api.get("/api/v1/units/")
    assert int(refused["Retry-After"]) > 0
    # A good token from that address waits too: the address is what is throttled, so a guesser
    # learns nothing from the answer.
    _, key = factories.api_client("cad-1", "cad")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/units/").status_code == 429
    good_elsewhere = APIClient(REMOTE_ADDR="10.9.9.9")
    good_elsewhere.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert good_elsewhere.get("/api/v1/units/").status_code == 200


def token_clients(*names) -> list[APIClient]:
    clients = []
    for name in names:
        _, key = factories.api_client(name, "cad")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        clients.append(api)
    return clients


def test_each_api_client_has_its_own_rate_and_is_told_when_to_come_back(db, monkeypatch):
    monkeypatch.setitem(ClientRateThrottle.THROTTLE_RATES, "client", "5/min")
    first, second = token_clients("cad-1", "cad-2")
    with in_a_minute(20):
        assert [first.get("/api/v1/units/").status_code for _ in range(5)] == [200] * 5
        refused = first.get("/api/v1/units/")
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 60
        assert second.get("/api/v1/units/").status_code == 200


def test_a_refused_client_is_let_in_again_when_retry_after_says(db, monkeypatch):
    """The rate counts per minute of the clock: Retry-After is what is left of the minute."""
    monkeypatch.setitem(ClientRateThrottle.THROTTLE_RATES, "client", "5/min")
    (api,) = token_clients("cad-1")
    with in_a_minute(20) as clock:
        assert [api.get("/api/v1/units/").status_code for _ in range(5)] == [200] * 5
        refused = api.get("/api/v1/units/")
        assert (refused.status_code, refused["Retry-After"]) == (429, "40")
        clock.shift(39)
        assert api.get("/api/v1/units/").status_code == 429
        clock.shift(1)
        assert [api.get("/api/v1/units/").status_code for _ in range(6)] == [200] * 5 + [429]


class CacheCalls:
    """The cache, with every call the throttles make to it kept: (method, value written)."""

    def __init__(self, cache):
        self.cache, self.calls = cache, []

    def __getattr__(self, name):
        method = getattr(self.cache, name)

        def called(key, *args, **kwargs):
            self.calls.append((name, args[0] if name in ("set", "add") else None))
            return method(key, *args, **kwargs)

        return called


def test_an_api_request_costs_its_throttles_two_small_cache_calls(db, monkeypatch):
    """DRF's throttle read and wrote a caller's every request time, as one pickled list (up to
    1,200 of them at the default rate), on every request; and the bad-token check read the
    address's. Now: the address's count of bad tokens read, the client's count raised."""
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    calls = CacheCalls(cache)
    monkeypatch.setattr(SimpleRateThrottle, "cache", calls)
    (api,) = token_clients("cad-1")
    with in_a_minute(20):
        assert api.get("/api/v1/units/").status_code == 200
        calls.calls.clear()  # the minute's first request makes its count
        for _ in range(10):
            assert api.get("/api/v1/units/").status_code == 200
    assert calls.calls == [("get", None), ("incr", None)] * 10


def test_the_default_rates_are_generous():
    from rest_framework.settings import api_settings

    rates = api_settings.DEFAULT_THROTTLE_RATES
    assert rates["client"] == "1200/min"
    assert rates["anonymous"] == "120/min"
    assert rates["bad_token"] == "20/min"
