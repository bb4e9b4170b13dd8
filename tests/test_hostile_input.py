"""Nothing a client sends answers 500: out-of-range timestamps, JSON nested thousands deep, far
dates on forms. Each case here was a 500 (or a 1011 close) before."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from django.db import DataError
from django.urls import reverse

from dispatch import services
from referrals.models import FollowUp
from referrals.services import follow_up_create
from tests import factories
from tests.realtime_support import (
    drain,
    fresh_channel_layer,  # noqa: F401 - a fixture
    receive,
    socket,
)

pytestmark = pytest.mark.django_db

FAR_TIMESTAMPS = ["9999-12-31T23:00:00-07:00", "0001-01-01T00:00:00+05:00", "1800-01-01T00:00:00Z"]


def post_json(api, url, data):
    return api.post(
        url, data=json.dumps(data) if not isinstance(data, str) else data, content_type="application/json"
    )


@pytest.mark.parametrize("stamp", FAR_TIMESTAMPS)
def test_an_incident_received_at_a_far_timestamp_is_a_400_with_the_reason(cad, call_types, stamp):
    response = post_json(
        cad, "/api/v1/incidents/", factories.cad_incident_body(received_at=None) | {"received_at": stamp}
    )
    assert response.status_code == 400, response.content
    assert "received_at" in response.json()


def deep(n):
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    "url", ["/api/v1/incidents/", "/api/v1/eido/", "/api/v1/webhooks/", "/api/v1/referrals/"]
)
def test_json_nested_thousands_deep_is_a_400_on_every_endpoint(cad, police_api, url):
    api = police_api if "referrals" in url else cad
    response = post_json(api, url, deep(5000))
    assert response.status_code == 400, response.content
    assert "deep" in json.dumps(response.json())


# --- the sockets ------------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
@pytest.mark.parametrize(
    "path,role",
    [("/ws/field/", "responder"), ("/ws/dispatch/", "dispatcher"), ("/ws/followups/", "case_manager")],
)
async def test_a_socket_answers_json_nested_thousands_deep_with_an_error_frame_and_stays_open(
    personas, path, role
):
    async with socket(path, personas[role]) as ws:
        await drain(ws)
        await ws.send_to(text_data=deep(5000))
        answer = await receive(ws)
        assert answer["type"] == "error" and answer["code"] == "bad_message", answer
        assert "deep" in answer["detail"]
        await ws.send_json_to({"type": "resume", "last_event_id": "x"})
        assert (await receive(ws))["type"] == "error"  # still open, still answering


# --- forms ------------------------------------------------------------------------------------
FAR_LOCAL = ["9999-12-31T23:59", "0001-01-01T00:00", "1850-01-01T00:00"]


@pytest.mark.parametrize("due_at", FAR_LOCAL)
def test_a_follow_up_due_at_a_far_date_is_a_form_error(client, personas, due_at):
    client.force_login(personas["case_manager"])
    response = client.post(
        reverse("referrals:follow_up_new"), {"service_type": "housing", "consent": "on", "due_at": due_at}
    )
    assert response.status_code in (200, 400), response.status_code
    assert "out of range" in response.content.decode()
    assert not FollowUp.objects.exists()
    assert client.get(reverse("referrals:case_manager_home")).status_code == 200


def test_the_tablet_api_answers_json_nested_thousands_deep_with_a_400(client, personas):
    unit = factories.UnitFactory(callsign="CR-1")
    services.shift_start(user=personas["responder"], unit_id=unit.pk)
    client.force_login(personas["responder"])
    response = client.post("/field/api/location", data=deep(5000), content_type="application/json")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("stamp", FAR_TIMESTAMPS)
def test_a_status_step_at_a_far_timestamp_is_a_400_with_the_reason(cad, call_types, stamp):
    factories.UnitFactory(callsign="CR-1")
    incident = post_json(cad, "/api/v1/incidents/", factories.cad_incident_body()).json()
    assignment = post_json(cad, f"/api/v1/incidents/{incident['id']}/assign", {"unit": "CR-1"}).json()
    response = post_json(
        cad, f"/api/v1/assignments/{assignment['id']}/status", {"status": "en_route", "at": stamp}
    )
    assert response.status_code == 400, response.content
    assert "at" in response.json()


@pytest.mark.parametrize("stamp", FAR_TIMESTAMPS)
def test_an_eido_at_a_far_timestamp_is_a_400_with_the_reason(cad, call_types, stamp):
    document = {"$id": "E-1", "eidoVersion": "1.0", "lastUpdateTimeStamp": stamp}
    response = post_json(cad, "/api/v1/eido/", document)
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "start,end", [("0001-01-01", "9999-12-31"), ("1899-01-01", "2026-01-01"), ("2026-01-01", "9999-12-31")]
)
def test_a_report_over_far_dates_is_a_form_error(client, personas, start, end):
    client.force_login(personas["supervisor"])
    response = client.get(reverse("reports:dashboard"), {"start": start, "end": end})
    assert response.status_code in (200, 400)
    assert "out of range" in response.content.decode()


def test_a_person_born_on_a_far_date_is_a_form_error(client, personas):
    client.force_login(personas["case_manager"])
    response = client.get(reverse("referrals:people"), {"q": "9999-12-31"})
    assert response.status_code == 200


def test_a_follow_up_due_at_the_last_accepted_minute_shows_on_the_queue(client, personas):
    client.force_login(personas["case_manager"])
    response = client.post(
        reverse("referrals:follow_up_new"),
        {"service_type": "housing", "consent": "on", "due_at": "2199-12-31T16:59"},
    )
    assert response.status_code == 302, response.content
    assert FollowUp.objects.get().due_at.year == 2199
    assert client.get(reverse("referrals:case_manager_home")).status_code == 200
    assert client.get(response["Location"]).status_code == 200


def test_a_far_due_date_stored_before_the_bounds_no_longer_breaks_the_queue(
    client, personas, require_postgres
):
    from django.apps import apps

    from dispatch.timestamps import clamp_stored

    follow_up = follow_up_create(actor=personas["responder"], service_type="housing", consent=True)
    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-7)))  # year 10000 in UTC
    FollowUp.objects.filter(pk=follow_up.pk).update(due_at=far)
    client.force_login(personas["case_manager"])
    with pytest.raises(DataError):  # what the queue did for everyone
        client.get(reverse("referrals:case_manager_home"))
    assert clamp_stored(apps, ["dispatch", "referrals", "field"]) == 1
    assert client.get(reverse("referrals:case_manager_home")).status_code == 200
    assert FollowUp.objects.get().due_at.year == 2199


@pytest.mark.parametrize(
    "text,deep_",
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        (json.dumps(["[" * 100, {"a": 'x]]]"[[['}]), False),  # brackets inside strings do not count
        ('"' + '\\"' * 32000, False),  # unterminated, full of escapes: one pass, not one a quote
        ('"' * 65000, False),
    ],
)
def test_the_depth_is_measured_in_one_pass_over_the_text(text, deep_):
    from dispatch.jsonbounds import too_deep

    assert too_deep(text) is deep_
