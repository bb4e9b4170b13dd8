"""Live delivery per program: a console of program A, and A's follow-up queue, hear nothing of
program B; a statewide console hears both, each event naming its program."""

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from dispatch import services
from dispatch.services import IncidentFields
from referrals import services as referral_services
from tests import factories
from tests.realtime_support import drain, fresh_channel_layer, receive, socket  # noqa: F401 - a fixture

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_channel_layer"),
]

db = database_sync_to_async


def _setup():
    a = factories.ProgramFactory(slug="denver-star", name="Denver STAR")
    b = factories.ProgramFactory(slug="aurora-art", name="Aurora ART")
    return {
        "a": a,
        "b": b,
        "a_dispatcher": factories.UserFactory(roles=["dispatcher"], roles__program=a),
        "a_case_manager": factories.UserFactory(roles=["case_manager"], roles__program=a),
        "statewide": factories.UserFactory(roles=["dispatcher"], roles__statewide=True),
    }


def _call(program, narrative):
    incident = services.incident_create(
        fields=IncidentFields(
            source="988",
            call_type_code="WELFARE",
            received_at=timezone.now(),
            address=f"1 {narrative} St",
            narrative=narrative,
        ),
        actor=None,
        program=program,
    )
    referral_services.follow_up_create(actor=None, service_type="housing", consent=True, incident=incident)
    return incident


async def test_a_console_of_program_a_hears_only_as_events_and_a_statewide_one_hears_both():
    world = await db(_setup)()
    async with (
        socket("/ws/dispatch/", world["a_dispatcher"]) as mine,
        socket("/ws/dispatch/", world["statewide"]) as state,
        socket("/ws/followups/", world["a_case_manager"]) as queue,
    ):
        assert (await receive(queue))["type"] == "ready"
        b_call = await db(_call)(world["b"], "BRAVO-SECRET")
        a_call = await db(_call)(world["a"], "alpha")
        heard = [m for m in await drain(mine, quiet=1.5) if "id" in m]
        assert [m["data"]["id"] for m in heard] == [str(a_call.pk)]
        assert heard[0]["data"]["program"] == "denver-star"
        assert "BRAVO-SECRET" not in str(heard)
        both = [m for m in await drain(state, quiet=0.5) if "id" in m]
        assert {(m["data"]["id"], m["data"]["program"]) for m in both} == {
            (str(b_call.pk), "aurora-art"),
            (str(a_call.pk), "denver-star"),
        }
        told = await drain(queue, quiet=0.5)
        follow_up_ids = await db(lambda: list(a_call.follow_ups.values_list("pk", flat=True)))()
        assert [m["id"] for m in told] == follow_up_ids


async def test_a_console_of_one_program_sends_its_events_live_without_reading_the_log_for_another_programs(
    settings, monkeypatch
):
    """Each pushed event names the one before it in its program: a console of program A does
    not take B's events in between for a gap to fill from the log (a query per event)."""
    from django.db import transaction

    from dispatch.consumers import DispatchConsumer
    from dispatch.events import EventType, event_record

    settings.EVENT_CATCHUP_SECONDS = 60  # only the push brings them here
    world = await db(_setup)()
    reads = []
    real_events_after = DispatchConsumer._events_after

    def counted_events_after(self, after, limit, upto=None):
        reads.append((after, upto))
        return real_events_after(self, after, limit, upto)

    def record(slug, n):
        with transaction.atomic():
            return event_record(EventType.INCIDENT_UPDATED, {"program": slug, "n": n}).id

    monkeypatch.setattr(DispatchConsumer, "_events_after", counted_events_after)
    async with socket("/ws/dispatch/", world["a_dispatcher"]) as mine:
        start = await db(record)("denver-star", 0)
        await mine.send_json_to({"type": "resume", "last_event_id": start})
        assert await drain(mine, quiet=0.3) == []
        reads.clear()
        mine_ids = []
        for n in range(1, 4):
            await db(record)("aurora-art", n)
            mine_ids.append(await db(record)("denver-star", n))
        heard = await drain(mine, quiet=0.5)
    assert [m["id"] for m in heard] == mine_ids
    assert reads == []
