"""API keys' clients kept for a few seconds per process (dispatch.auth.ClientCache): a CAD's
next request with the same key reads no client, and what changes a client is seen at once
here and within the entry's seconds in another process."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from dispatch.auth import BadTokenThrottle, clients
from dispatch.models import ApiClient, Incident
from tests import factories
from tests.test_signin_protection import in_a_minute

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(clients, "clock", clock)
    return clock


def client_reads(api) -> tuple[int, int]:
    """(status, how many times the request read the api client table)."""
    with CaptureQueriesContext(connection) as captured:
        status = api.get("/api/v1/units/").status_code
    return status, sum('FROM "dispatch_apiclient"' in q["sql"] for q in captured.captured_queries)


def keyed(key) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_a_keys_next_request_reads_no_client_until_its_seconds_are_up(clock, settings):
    settings.API_AUTH_CACHE_SECONDS = 5
    _, key = factories.api_client("cad-1", "cad")
    api = keyed(key)
    assert client_reads(api) == (200, 1)
    assert client_reads(api) == (200, 0)
    clock.now += 4.9
    assert client_reads(api) == (200, 0)
    clock.now += 0.2
    assert client_reads(api) == (200, 1)


def test_a_client_deactivated_here_is_refused_at_once(clock):
    client, key = factories.api_client("cad-1", "cad")
    api = keyed(key)
    assert api.get("/api/v1/units/").status_code == 200
    client.is_active = False
    client.save()
    assert api.get("/api/v1/units/").status_code == 401


@pytest.mark.parametrize("change", ["user deactivated", "client deleted", "role changed"])
def test_any_change_to_a_client_or_its_user_here_forgets_every_kept_client(clock, change):
    client, key = factories.api_client("cad-1", "cad")
    api = keyed(key)
    assert api.get("/api/v1/incidents/").status_code == 200
    if change == "user deactivated":
        client.user.is_active = False
        client.user.save()
        expected = 401
    elif change == "client deleted":
        client.delete()
        expected = 401
    else:
        client.role = "police"
        client.save()
        expected = 403  # a police client may not list incidents
    assert api.get("/api/v1/incidents/").status_code == expected


def test_a_change_made_by_another_process_is_seen_within_the_seconds(clock, settings):
    # Another process's change fires no signal here: a queryset update stands in for it.
    settings.API_AUTH_CACHE_SECONDS = 5
    client, key = factories.api_client("cad-1", "cad")
    api = keyed(key)
    assert api.get("/api/v1/units/").status_code == 200
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    clock.now += 5
    assert api.get("/api/v1/units/").status_code == 401


def test_a_wrong_key_is_never_kept(clock):
    api = keyed("not-a-real-key")
    assert api.get("/api/v1/units/").status_code == 401
    assert client_reads(api) == (401, 1)


def test_with_no_seconds_every_request_reads_its_client(clock, settings):
    settings.API_AUTH_CACHE_SECONDS = 0
    _, key = factories.api_client("cad-1", "cad")
    api = keyed(key)
    assert [client_reads(api) for _ in range(3)] == [(200, 1)] * 3


def test_a_locked_out_address_is_refused_even_with_a_kept_key(clock, monkeypatch):
    monkeypatch.setitem(BadTokenThrottle.THROTTLE_RATES, "bad_token", "5/min")
    _, key = factories.api_client("cad-1", "cad")
    with in_a_minute(5):
        good = keyed(key)
        assert good.get("/api/v1/units/").status_code == 200  # now kept
        bad = keyed("not-a-real-key")
        assert [bad.get("/api/v1/units/").status_code for _ in range(6)] == [401] * 5 + [429]
        assert good.get("/api/v1/units/").status_code == 429


def test_what_a_kept_client_records_names_it_and_its_program_as_a_read_one_does(clock, cad, call_types):
    def post(external_id):
        body = factories.cad_incident_body(external_id=external_id, call_type="welfare")
        return cad.post("/api/v1/incidents/", body, format="json")

    with CaptureQueriesContext(connection) as captured:
        assert post("CAD-1").status_code == 201
        assert post("CAD-2").status_code == 201  # its client from the cache
    assert sum('FROM "dispatch_apiclient"' in q["sql"] for q in captured.captured_queries) == 1
    first, second = Incident.objects.order_by("external_id")
    client = cad.api_client
    assert (second.api_client_id, second.created_by_id, second.program_id) == (
        client.pk,
        client.user_id,
        client.program_id,
    )
    assert (first.api_client_id, first.created_by_id, first.program_id) == (
        second.api_client_id,
        second.created_by_id,
        second.program_id,
    )
