"""The second factor (issue 11): TOTP with recovery codes, required for supervisors and case
managers by default, offered to everyone; sign-in asks for the code when there is a device."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

import config.settings as production
from dispatch.models import AuditEntry
from dispatch.roles import HOME_URL_NAMES, Action
from dispatch.session_guard import CLOSE_NOT_SIGNED_IN, session_verdict

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED_ROLES = production.OTP_REQUIRED_ROLES


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def code_for(device) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def sign_in(client, username, password=PASSWORD, next_url=""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/signin/", data, REMOTE_ADDR="10.0.0.1")


def enrol(client, clock) -> list[str]:
    """Through the enrolment page: read the secret it shows, answer with the app's code."""
    page = client.get("/account/second-factor/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body and 'id="totp-secret"' in body
    device = TOTPDevice.objects.get(user=page.context["user"], confirmed=False)
    response = client.post("/account/second-factor/", {"code": code_for(device)})
    assert response.status_code == 200
    clock.shift(timedelta(seconds=31))  # the next code, as an app would show it later
    return response.context["codes"]


def test_supervisors_and_case_managers_need_it_by_default():
    assert production.OTP_REQUIRED_ROLES == ["supervisor", "case_manager"]


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("role", ["supervisor", "case_manager"])
def test_a_required_role_without_a_device_is_sent_to_enrolment_and_in_after_it(personas, clock, role):
    client = Client()
    assert sign_in(client, personas[role].username).status_code == 302
    home = reverse(HOME_URL_NAMES[role])
    response = client.get(home)
    assert response.status_code == 302 and response["Location"].startswith("/account/second-factor/")
    page = client.get("/account/second-factor/").content.decode()
    assert "Your role signs in with a second factor" in page
    codes = enrol(client, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(home).status_code == 200
    assert AuditEntry.objects.filter(action="second_factor.enrol", actor=personas[role]).exists()


@pytest.mark.usefixtures("required")
def test_sign_in_asks_for_the_code_when_the_person_has_a_device(personas, clock):
    supervisor = personas["supervisor"]
    first = Client()
    sign_in(first, "sup")
    enrol(first, clock)
    client = Client()
    response = sign_in(client, "sup", next_url="/dispatch/supervisor/shifts/")
    assert response.status_code == 302 and response["Location"] == "/signin/code/"
    # Not signed in yet: the password alone opens nothing.
    assert "_auth_user_id" not in client.session
    assert client.get("/dispatch/supervisor/").status_code == 302
    wrong = client.post("/signin/code/", {"code": "000000"})
    assert wrong.status_code == 400 and "did not match" in wrong.content.decode()
    device = TOTPDevice.objects.get(user=supervisor, confirmed=True)
    clock.shift(timedelta(seconds=2))  # the device waits a second after a wrong code
    right = client.post("/signin/code/", {"code": code_for(device)})
    assert right.status_code == 302 and right["Location"] == "/dispatch/supervisor/shifts/"
    assert client.get("/dispatch/supervisor/shifts/").status_code == 200


@pytest.mark.usefixtures("required")
def test_a_recovery_code_signs_in_once(personas, clock):
    first = Client()
    sign_in(first, "cm")
    codes = enrol(first, clock)
    client = Client()
    sign_in(client, "cm")
    assert client.post("/signin/code/", {"code": codes[0]}).status_code == 302
    assert StaticToken.objects.filter(device__user=personas["case_manager"]).count() == 9
    assert AuditEntry.objects.filter(action="second_factor.recovery_code").exists()
    again = Client()
    sign_in(again, "cm")
    assert again.post("/signin/code/", {"code": codes[0]}).status_code == 400


@pytest.mark.usefixtures("required")
def test_five_wrong_codes_send_the_person_back_to_the_password(personas, clock):
    first = Client()
    sign_in(first, "sup")
    enrol(first, clock)
    client = Client()
    sign_in(client, "sup")
    for _ in range(4):
        assert client.post("/signin/code/", {"code": "123456"}).status_code == 400
    last = client.post("/signin/code/", {"code": "123456"})
    assert last.status_code == 302 and last["Location"] == "/signin/"
    assert client.get("/signin/code/").status_code == 302


@pytest.mark.usefixtures("required")
def test_other_roles_are_not_made_to_but_may_enrol_and_are_then_asked(personas, clock):
    client = Client()
    sign_in(client, "disp")
    assert client.get("/dispatch/").status_code == 200
    enrol(client, clock)
    again = Client()
    assert sign_in(again, "disp")["Location"] == "/signin/code/"


@pytest.mark.usefixtures("required")
def test_a_session_that_still_owes_the_code_opens_no_socket_and_no_tablet_api(personas):
    client = Client()
    client.force_login(personas["supervisor"])
    key = client.session.session_key
    verdict = session_verdict(key, personas["supervisor"].pk, Action.DISPATCH_CONSOLE)
    assert verdict is not None and verdict.code == CLOSE_NOT_SIGNED_IN
    # A role that needs no second factor is served.
    other = Client()
    other.force_login(personas["dispatcher"])
    assert (
        session_verdict(other.session.session_key, personas["dispatcher"].pk, Action.DISPATCH_CONSOLE) is None
    )


def test_the_code_page_without_a_password_first_goes_back_to_sign_in(client):
    response = client.get("/signin/code/")
    assert response.status_code == 302 and response["Location"] == "/signin/"
