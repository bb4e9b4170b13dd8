"""Live: an urgent police referral reaches the dispatch console at once, and the case
managers' queue socket hears about new follow-ups. In-process through config.asgi."""

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from referrals.services import follow_up_create
from tests import factories
from tests.realtime_support import (
    fresh_channel_layer,  # noqa: F401 - a fixture
    receive,
    receive_until,
    socket,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]

db = database_sync_to_async


def post_referral(urgency: str) -> dict:
    _, key = factories.api_client("rms-live", "police")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.post(
        "/api/v1/referrals/",
        {
            "urgency": urgency,
            "call_type": "WELFARE",
            "location": {"address": "Sunken Gardens Park"},
            "situation": "Teen crying on a bench, asked for someone to talk to.",
            "officer": {"name": "Ofc. Diaz", "callback": "303-555-0123"},
            "consent_to_contact": True,
            "screening": {
                "weapons": False,
                "violence": False,
                "medical_emergency": False,
                "police_only": False,
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


async def test_an_urgent_referral_appears_on_the_dispatch_console_at_once(personas, call_types):
    async with socket("/ws/dispatch/", personas["dispatcher"]) as console:
        assert await console.receive_nothing(timeout=0.1)
        referral = await db(post_referral)("now")
        events = await receive_until(console, lambda e: e["type"] == "incident.created", timeout=2)
        incident = events[-1]["data"]
        assert incident["source"] == "police_referral"
        assert incident["call_type"] == "WELFARE"
        assert incident["location"]["address"] == "Sunken Gardens Park"
        assert incident["eligibility"] == {"eligible": True, "reasons": []}
        from referrals.models import PoliceReferral

        linked = await db(lambda: str(PoliceReferral.objects.get(pk=referral["id"]).incident_id))()
        assert incident["id"] == linked


async def test_a_later_referral_does_not_go_to_the_dispatch_console(personas, call_types):
    async with socket("/ws/dispatch/", personas["dispatcher"]) as console:
        await db(post_referral)("later")
        assert await console.receive_nothing(timeout=0.7)


async def test_the_follow_up_socket_refuses_anonymous_and_other_roles(personas):
    async with socket("/ws/followups/") as ws:
        assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}
    for role in ["responder", "dispatcher", "police_officer", "nobody"]:
        async with socket("/ws/followups/", personas[role]) as ws:
            assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4403}, role


@pytest.mark.parametrize("role", ["case_manager", "supervisor"])
async def test_case_managers_hear_of_a_new_follow_up_live_without_any_person_details(personas, role):
    async with socket("/ws/followups/", personas[role]) as ws:
        assert await receive(ws) == {"type": "ready"}
        follow_up = await db(
            lambda: follow_up_create(actor=None, service_type="housing", consent=True, notes="private")
        )()
        message = await receive(ws, timeout=2)
        assert message == {"type": "followup.changed", "id": follow_up.pk, "kind": "created"}
        await ws.send_json_to({"type": "hello"})
        assert (await receive(ws))["code"] == "unknown_type"
