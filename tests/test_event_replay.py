"""Zulip's verify_action idea for the event log: a client that missed changes, resumes from its
last event id and applies what it is sent to its old state ends with exactly the state a
fresh load over HTTP gives. If an event is missing, stale or wrongly scoped, the two differ."""

import copy
import io
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import Assignment, Event, Incident
from tests import factories
from tests.realtime_support import (
    assign,
    drain,
    fresh_channel_layer,  # noqa: F401 - a fixture
    make_incident,
    make_unit_with_responder,
    receive,
    socket,
)

db = database_sync_to_async


def apply_events(state: dict, events: list[dict]) -> dict:
    """What a tablet or console does with each event: replace what the event describes."""
    state = copy.deepcopy(state)
    for event in events:
        kind, data = event["type"], event["data"]
        if kind.startswith("incident."):
            state["incidents"][data["id"]] = data
        elif kind.startswith("assignment."):
            state["incidents"][data["incident"]["id"]] = data["incident"]
        elif kind == "unit.updated":
            state["units"][data["callsign"]] = data
    return state


def http(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def console_state(dispatcher) -> dict:
    """A console's fresh load: every incident and every unit."""
    api = http(dispatcher)
    incidents = api.get("/api/v1/incidents/").json()
    units = api.get("/api/v1/units/").json()
    return {"incidents": {i["id"]: i for i in incidents}, "units": {u["callsign"]: u for u in units}}


def tablet_state(dispatcher, callsign: str) -> dict:
    """A tablet's fresh load: its unit, and every incident its unit was sent to."""
    api = http(dispatcher)
    [unit] = [u for u in api.get("/api/v1/units/").json() if u["callsign"] == callsign]
    incident_ids = Assignment.objects.filter(unit__callsign=callsign).values_list("incident_id", flat=True)
    incidents = {str(i): api.get(f"/api/v1/incidents/{i}/").json() for i in incident_ids}
    return {"incidents": incidents, "units": {callsign: unit}}


def newest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def step(assignment_id, status):
    services.assignment_set_status(assignment_id=assignment_id, status=status, actor=None)


def cad_body(external_id, narrative):
    return factories.cad_incident_body(external_id=external_id, narrative=narrative)


def cad_post(cad, body):
    response = cad.post("/api/v1/incidents/", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.json()
    return Incident.objects.get(pk=response.json()["id"])


def missed_changes(cad, dispatcher):
    """Everything that happens while the tablet and the console are away."""
    first = Incident.objects.get(external_id="A")
    first_assignment = Assignment.objects.get(incident=first)
    step(first_assignment.pk, "en_route")
    step(first_assignment.pk, "on_scene")
    cad_post(cad, cad_body("A", "Caller says he is now inside the lobby."))  # incident update
    services.assignment_acknowledge(assignment_id=first_assignment.pk, actor=None)
    step(first_assignment.pk, "cleared")
    # A second call for CR-1, cancelled while the team is on the way.
    second = make_incident(address="200 Elm St")
    assign(second, "CR-1", actor=dispatcher)
    services.incident_cancel(incident=second, actor=dispatcher, reason="Caller left")
    # A third, now under way.
    third = make_incident(address="300 Oak St")
    third_assignment = assign(third, "CR-1", actor=dispatcher)
    step(third_assignment.pk, "en_route")
    # Another unit's work, and a new pending call: the console's business, not CR-1's.
    pending = Incident.objects.get(external_id="P")
    other = assign(pending, "CR-2", actor=dispatcher)
    step(other.pk, "en_route")
    make_incident(address="400 Pine St")


def before_the_gap(cad, dispatcher):
    make_unit_with_responder("CR-1", "maya")
    make_unit_with_responder("CR-2", "theo")
    first = cad_post(cad, cad_body("A", "Man sitting on the sidewalk for hours."))
    assign(first, "CR-1", actor=dispatcher)
    cad_post(cad, cad_body("P", "Woman asking for a shelter bed."))


async def collect_resumed(path, user, last_event_id) -> list[dict]:
    async with socket(path, user) as ws:
        if path == "/ws/field/":
            assert (await receive(ws))["type"] == "shift"
        await ws.send_json_to({"type": "resume", "last_event_id": last_event_id})
        return await drain(ws, quiet=1.0)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_a_tablet_that_resumes_ends_with_the_state_of_a_fresh_load(cad, personas, call_types):
    dispatcher = personas["dispatcher"]
    await db(before_the_gap)(cad, dispatcher)
    last_seen = await db(newest_event_id)()
    old_state = await db(tablet_state)(dispatcher, "CR-1")
    await db(missed_changes)(cad, dispatcher)

    from django.contrib.auth import get_user_model

    maya = await db(get_user_model().objects.get)(username="maya")
    events = await collect_resumed("/ws/field/", maya, last_seen)

    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)), "in order, each once"
    assert min(ids) > last_seen
    assert {e["data"].get("unit") or e["data"].get("callsign") for e in events} == {"CR-1"}
    assert "assignment.cancelled" in {e["type"] for e in events}
    fresh = await db(tablet_state)(dispatcher, "CR-1")
    assert fresh != old_state
    assert apply_events(old_state, events) == fresh


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_channel_layer")
async def test_a_console_that_resumes_ends_with_the_state_of_a_fresh_load(cad, personas, call_types):
    dispatcher = personas["dispatcher"]
    await db(before_the_gap)(cad, dispatcher)
    last_seen = await db(newest_event_id)()
    old_state = await db(console_state)(dispatcher)
    await db(missed_changes)(cad, dispatcher)

    events = await collect_resumed("/ws/dispatch/", personas["supervisor"], last_seen)

    ids = [e["id"] for e in events]
    assert (
        ids
        == await db(
            lambda: list(Event.objects.filter(id__gt=last_seen).order_by("id").values_list("id", flat=True))
        )()
    )
    fresh = await db(console_state)(dispatcher)
    assert fresh != old_state
    assert apply_events(old_state, events) == fresh


# --- prune_events -------------------------------------------------------------------------------
def make_events(*hours_ago):
    from django.db import transaction

    from dispatch.events import event_record

    stored = []
    for hours in hours_ago:
        with transaction.atomic():
            event = event_record("incident.updated", {"n": hours})
        Event.objects.filter(pk=event.pk).update(at=timezone.now() - timedelta(hours=hours))
        stored.append(event.pk)
    return stored


def prune() -> str:
    out = io.StringIO()
    call_command("prune_events", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_prune_events_deletes_what_is_older_than_the_retention_and_says_how_many(settings):
    settings.EVENT_RETENTION_HOURS = 48
    ids = make_events(100, 60, 49, 47, 1, 0)
    assert prune() == "Deleted 3 events older than 48 hours.\n"
    assert list(Event.objects.order_by("id").values_list("id", flat=True)) == ids[3:]
    assert prune() == "Deleted 0 events older than 48 hours.\n"


@pytest.mark.django_db
def test_prune_events_never_leaves_a_hole_in_the_log(settings):
    settings.EVENT_RETENTION_HOURS = 24
    # An old event after a young one (clocks are not ids): kept, so the log stays a suffix.
    ids = make_events(30, 2, 30, 1)
    assert prune() == "Deleted 1 events older than 24 hours.\n"
    assert list(Event.objects.order_by("id").values_list("id", flat=True)) == ids[1:]


@pytest.mark.django_db
def test_prune_events_may_empty_the_log(settings):
    settings.EVENT_RETENTION_HOURS = 24
    make_events(30, 25)
    assert prune() == "Deleted 2 events older than 24 hours.\n"
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_prune_events_refuses_a_retention_under_24_hours(settings):
    settings.EVENT_RETENTION_HOURS = 12
    make_events(30)
    with pytest.raises(CommandError, match="at least 24"):
        prune()
    assert Event.objects.count() == 1
