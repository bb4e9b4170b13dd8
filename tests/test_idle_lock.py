"""The idle lock (issue 11, CJIS 5.5.5): a session unused for SESSION_IDLE_SECONDS is ended for
every role; sign-in says why; requests a page makes on its own do not keep it awake."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.utils import timezone

import config.settings as production
from dispatch.roles import HOME_URL_NAMES
from dispatch.session_guard import LAST_ACTIVE_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("idle_lock")]

IDLE = timedelta(seconds=1800)


@pytest.fixture
def idle_lock(settings):
    settings.SESSION_IDLE_SECONDS = production.SESSION_IDLE_SECONDS


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def test_the_default_idle_lock_is_30_minutes():
    assert production.SESSION_IDLE_SECONDS == 1800


@pytest.mark.parametrize("role", list(HOME_URL_NAMES))
def test_every_role_is_signed_out_after_30_minutes_idle_and_told_why(client, personas, clock, role):
    from django.urls import reverse

    home = reverse(HOME_URL_NAMES[role])
    client.force_login(personas[role])
    assert client.get(home).status_code == 200
    clock.shift(IDLE - timedelta(seconds=1))
    assert client.get(home).status_code == 200  # still awake, and this use counts
    clock.shift(IDLE - timedelta(seconds=1))
    assert client.get(home).status_code == 200
    key = client.session.session_key
    clock.shift(IDLE)
    response = client.get(home)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    signin = client.get(response["Location"])
    assert "You were signed out after 30 minutes idle" in signin.content.decode()
    assert not Session.objects.filter(session_key=key).exists()
    # Signed out for real: the next page asks for sign-in again, without the idle message.
    again = client.get(home)
    assert again.status_code == 302


def test_requests_the_page_makes_on_its_own_do_not_keep_the_session_awake(client, personas, clock):
    client.force_login(personas["dispatcher"])
    assert client.get("/dispatch/").status_code == 200
    clock.shift(IDLE / 2)
    assert client.get("/dispatch/", HTTP_X_BACKGROUND="1").status_code == 200
    clock.shift(IDLE / 2 + timedelta(seconds=1))
    assert client.get("/dispatch/").status_code == 302


def test_a_tablets_queued_write_after_the_lock_is_refused_not_redirected(client, personas, clock):
    client.force_login(personas["responder"])
    assert client.get("/field/").status_code == 200
    clock.shift(IDLE + timedelta(seconds=1))
    response = client.post(
        "/field/api/location", {"lat": 39.7, "lon": -105.0}, content_type="application/json"
    )
    assert response.status_code in (401, 403)
    assert not response.has_header("Location")
    assert client.get("/field/").status_code == 302


def test_an_htmx_request_after_the_lock_sends_the_whole_page_to_sign_in(client, personas, clock):
    client.force_login(personas["supervisor"])
    client.get("/dispatch/supervisor/")
    clock.shift(IDLE + timedelta(seconds=1))
    response = client.get("/dispatch/supervisor/", HTTP_HX_REQUEST="true")
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/signin/"


def test_signing_in_starts_the_clock(client, personas, clock):
    client.force_login(personas["case_manager"])
    assert client.session[LAST_ACTIVE_KEY] == pytest.approx(timezone.now().timestamp(), abs=1)
