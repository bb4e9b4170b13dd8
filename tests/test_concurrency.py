"""The assignment race on PostgreSQL with real concurrent requests.

Each request runs the whole API stack in its own thread with its own database connection;
a barrier releases them together so their transactions overlap. Row locks (and, behind
them, the partial unique constraints) must let exactly one win, every time.
"""

import json
import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from dispatch.models import Assignment, Event, Unit
from tests import factories
from tests.factories import UnitFactory

ROUNDS = 5


@pytest.fixture
def cad_key(transactional_db, require_postgres):
    _client, key = factories.api_client("cad-race", "cad")
    return key


def fire_together(key: str, requests: list[tuple[str, dict]]) -> list[tuple[int, dict]]:
    """POST every (url, body) at once, each from its own thread and connection."""
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def run(index, url, body):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            barrier.wait(timeout=10)
            response = api.post(url, data=json.dumps(body), content_type="application/json")
            answers[index] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, url, body)) for i, (url, body) in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(answer is not None for answer in answers), answers
    return answers


def new_incident(key: str, external_id: str) -> str:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = factories.cad_incident_body(external_id=external_id, location={"address": "1 Race St"})
    response = api.post("/api/v1/incidents/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def outcome(answers) -> Counter:
    return Counter((status, body.get("code")) for status, body in answers)


def test_two_assigns_racing_for_one_unit_produce_exactly_one_assignment(cad_key, call_types):
    for n in range(ROUNDS):
        unit = UnitFactory(callsign=f"RACE-U{n}")
        first, second = new_incident(cad_key, f"U{n}-a"), new_incident(cad_key, f"U{n}-b")
        answers = fire_together(
            cad_key,
            [
                (f"/api/v1/incidents/{first}/assign", {"unit": unit.callsign}),
                (f"/api/v1/incidents/{second}/assign", {"unit": unit.callsign}),
            ],
        )
        assert outcome(answers) == Counter({(201, None): 1, (409, "unit_unavailable"): 1}), answers
        assert Assignment.objects.filter(unit=unit).count() == 1
        unit.refresh_from_db()
        assert unit.status == Unit.Status.DISPATCHED


def test_two_assigns_racing_for_one_incident_produce_exactly_one_assignment(cad_key, call_types):
    for n in range(ROUNDS):
        units = [UnitFactory(callsign=f"RACE-I{n}-{side}") for side in "ab"]
        incident_id = new_incident(cad_key, f"I{n}")
        answers = fire_together(
            cad_key,
            [(f"/api/v1/incidents/{incident_id}/assign", {"unit": unit.callsign}) for unit in units],
        )
        assert outcome(answers) == Counter({(201, None): 1, (409, "already_assigned"): 1}), answers
        assert Assignment.objects.filter(incident_id=incident_id).count() == 1
        statuses = sorted(Unit.objects.filter(pk__in=[u.pk for u in units]).values_list("status", flat=True))
        assert statuses == ["available", "dispatched"]


def test_two_identical_status_steps_racing_apply_once(cad_key, call_types):
    for n in range(ROUNDS):
        unit = UnitFactory(callsign=f"RACE-S{n}")
        incident_id = new_incident(cad_key, f"S{n}")
        [(status, body)] = fire_together(
            cad_key, [(f"/api/v1/incidents/{incident_id}/assign", {"unit": unit.callsign})]
        )
        assert status == 201
        url = f"/api/v1/assignments/{body['id']}/status"
        answers = fire_together(cad_key, [(url, {"status": "en_route"}), (url, {"status": "en_route"})])
        # The second is a step already taken: answered as done, recorded once.
        assert outcome(answers) == Counter({(200, None): 2}), answers
        updates = Event.objects.filter(type="assignment.updated", data__id=body["id"])
        assert [e.data["status"] for e in updates] == ["en_route"]
