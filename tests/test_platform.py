"""Settings, health, the OpenAPI schema and the management commands."""

import os
import subprocess
import sys
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from dispatch.models import ApiClient, Incident, Shift, Unit
from tests import factories
from tests.realtime_support import fresh_channel_layer  # noqa: F401 - a fixture


def run_settings(env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG")}
    base.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.DEBUG)",
        ],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_debug_a_missing_secret_key_stops_start_up():
    result = run_settings({"ALLOWED_HOSTS": "example.org"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_without_debug_missing_allowed_hosts_stops_start_up():
    result = run_settings({"SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_without_debug_cookies_are_secure():
    result = run_settings({"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "example.org"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "False"]


def test_debug_runs_with_nothing_set():
    result = run_settings({"DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"


# --- health ----------------------------------------------------------------------------------
def test_healthz_answers_200_when_the_database_and_channel_layer_answer(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "channel_layer": True}}


def test_healthz_answers_503_when_the_database_does_not(client, db):
    with mock.patch("dispatch.views._database_ok", side_effect=RuntimeError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] is False


def test_healthz_answers_503_when_the_channel_layer_does_not(client, db):
    with mock.patch("dispatch.views._channel_layer_ok", side_effect=ConnectionError("no redis")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "channel_layer": False}


@pytest.mark.asyncio
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_healthz_asks_the_channel_layer_on_one_channel_however_often_it_is_asked(require_redis):
    """On Redis pub/sub a channel is a subscription: a new one per check would pile up."""
    import redis

    from dispatch.views import _channel_layer_ok

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for _ in range(3):
            assert await _channel_layer_ok()
        assert len(client.pubsub_channels(f"{prefix}healthz.*")) == 1
    finally:
        client.close()


# --- OpenAPI ---------------------------------------------------------------------------------
def test_the_schema_describes_the_contract(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in (
        "/api/v1/incidents/",
        "/api/v1/incidents/{incident_id}/",
        "/api/v1/units/",
        "/api/v1/incidents/{incident_id}/assign",
        "/api/v1/assignments/{assignment_id}/status",
    ):
        assert path in paths, path
    incident_in = schema["components"]["schemas"]["IncidentInRequest"]
    assert set(incident_in["required"]) >= {
        "external_id",
        "source",
        "call_type",
        "received_at",
        "location",
        "screening",
    }


def test_the_api_docs_page_is_served_without_a_cdn(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html


# --- management commands ---------------------------------------------------------------------
def test_create_api_client_prints_a_working_key_as_its_last_line(db, capsys, call_types):
    call_command("create_api_client", "county-cad", "--role", "cad")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = ApiClient.objects.get(name="county-cad")
    assert client.role == "cad"
    assert client.key_hash != key  # only the hash is kept
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/incidents/").status_code == 200


def test_create_api_client_refuses_a_duplicate_name_and_an_unknown_role(db):
    from django.core.management.base import CommandError

    call_command("create_api_client", "rms", "--role", "police")
    with pytest.raises(CommandError):
        call_command("create_api_client", "rms", "--role", "police")
    with pytest.raises(CommandError):
        call_command("create_api_client", "other", "--role", "admin")


def test_the_demo_program_without_history_is_todays_calls_and_six_staffed_units(db, capsys):
    call_command("load_demo", history_days=0)
    denver = {"program__slug": "denver-star"}
    assert (
        Unit.objects.filter(**denver).count(),
        Incident.objects.filter(**denver).count(),
        Shift.objects.filter(**denver).count(),
    ) == (6, 12, 12)
    # Aurora ART beside it: two units with their teams, and the 988 centre's three calls.
    aurora = {"program__slug": "aurora-art"}
    assert (
        Unit.objects.filter(**aurora).count(),
        Incident.objects.filter(**aurora).count(),
        Shift.objects.filter(**aurora).count(),
    ) == (2, 3, 4)
    assert set(Unit.objects.values_list("status", flat=True)) == {"available"}
    eligible = Incident.objects.filter(eligible=True, **denver).count()
    assert 0 < eligible < 12
    out = capsys.readouterr().out
    assert "dispatcher" in out and "demo-pass-2026" in out


def test_the_demo_sign_ins_work(client, db):
    call_command("load_demo", history_days=0)
    for username in (
        "dispatcher",
        "clinician",
        "responder1",
        "officer",
        "casemanager",
        "supervisor",
        "auroradispatcher",
        "dispatcher988",
        "statesupervisor",
    ):
        assert client.login(
            request=factories.signin_request(), username=username, password="demo-pass-2026"
        ), username
        assert client.get("/").status_code == 302


def test_an_audit_entry_records_who_did_what_and_never_an_anonymous_user(db, personas):
    from django.contrib.auth.models import AnonymousUser

    from dispatch.models import AuditEntry
    from dispatch.services import audit_record

    entry = audit_record(
        actor=personas["supervisor"],
        kind=AuditEntry.Kind.ADMINISTRATION,
        action="unit.create",
        target="unit CR-9",
    )
    assert (entry.actor, entry.action, entry.target, entry.detail) == (
        personas["supervisor"],
        "unit.create",
        "unit CR-9",
        {},
    )
    assert (
        audit_record(actor=AnonymousUser(), kind=AuditEntry.Kind.SECURITY, action="signin.fail").actor is None
    )
