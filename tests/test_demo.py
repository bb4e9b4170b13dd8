"""`make run` loads a program that looks like a real month: thirty days of history, a service
directory with capacity, follow-ups in every state, and it can be loaded again safely."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from dispatch.models import Incident
from field.models import Outcome
from referrals.models import ContactAttempt, FollowUp, FollowUpChange, Organization, PoliceReferral, Service

PROJECT_APPS = ("dispatch", "field", "referrals", "auth")


def counts() -> dict:
    return {
        model._meta.label: model._default_manager.count()
        for app in PROJECT_APPS
        for model in apps.get_app_config(app).get_models()
    }


@pytest.fixture
def demo(db):
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_loading_the_demo_twice_leaves_the_same_counts(demo):
    first = counts()
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert counts() == first
    assert first["dispatch.Incident"] > 1000 and first["referrals.FollowUp"] > 50


# One load for everything below: the demo takes seconds to load, and `make test` stays short.
def test_the_demo_looks_like_a_real_month(client, demo):
    thirty_days_of_calls_before_today()
    a_dozen_denver_organisations_with_capacity()
    follow_ups_in_every_state_worked_by_the_demo_case_manager()
    the_case_managers_demo_queue_and_a_follow_up_read_well(client)
    two_neighbouring_programs_a_988_dispatcher_and_a_state_supervisor()


def two_neighbouring_programs_a_988_dispatcher_and_a_state_supervisor():
    from shapely.geometry import shape

    from dispatch.models import Program, Unit
    from dispatch.roles import Action, is_statewide, program_ids_for

    denver, aurora = Program.objects.get(slug="denver-star"), Program.objects.get(slug="aurora-art")
    # Neighbours: the areas touch along a border and do not overlap.
    assert shape(denver.service_area).touches(shape(aurora.service_area))
    for program in (denver, aurora):
        assert Unit.objects.filter(program=program).exists()
        assert Incident.objects.filter(program=program, status="pending").exists()
    # The 988 centre's calls went where their place is.
    assert set(
        Incident.objects.filter(api_client__name="demo-988").values_list("program__slug", flat=True)
    ) == {"aurora-art"}
    users = get_user_model().objects
    assert is_statewide(users.get(username="dispatcher988"), Action.DISPATCH_CONSOLE)
    assert is_statewide(users.get(username="statesupervisor"), Action.PROGRAM_DATA)
    assert program_ids_for(users.get(username="dispatcher"), Action.DISPATCH_CONSOLE) == {denver.pk}
    assert program_ids_for(users.get(username="auroradispatcher"), Action.DISPATCH_CONSOLE) == {aurora.pk}


def thirty_days_of_calls_before_today():
    today = timezone.localdate()
    history = Incident.objects.exclude(source="self_initiated").filter(
        received_at__lt=timezone.now() - timedelta(hours=1)
    )
    days = set(history.annotate(day=TruncDate("received_at")).values_list("day", flat=True))
    assert len(days) >= 29
    assert min(days) >= today - timedelta(days=31)
    assert set(history.values_list("source", flat=True)) >= {"911", "988", "non_emergency", "police_referral"}
    # Today's calls still wait in the dispatch queue.
    assert Incident.objects.filter(status="pending").count() >= 10


def a_dozen_denver_organisations_with_capacity():
    assert Organization.objects.count() >= 12
    services = Service.objects.prefetch_related("capacities", "locations")
    assert services.count() >= 12
    assert all(s.capacities.exists() for s in services)
    assert {s.service_type for s in services} >= {"housing", "mental_health", "substance_use", "food"}
    assert all(loc.city == "Denver" for s in services for loc in s.locations.all())


def follow_ups_in_every_state_worked_by_the_demo_case_manager():
    assert set(FollowUp.objects.values_list("status", flat=True)) == set(FollowUp.Status.values)
    assert FollowUp.objects.filter(status="open", case_manager__isnull=True).exists()
    assert FollowUp.objects.filter(case_manager__username="casemanager").exists()
    connected = FollowUp.objects.filter(status="connected")
    assert connected.exists() and not connected.filter(provider__isnull=True).exists()
    assert set(ContactAttempt.objects.values_list("by__username", flat=True)) == {"casemanager"}
    # Every follow-up's history starts with who opened it, when the team did.
    first = FollowUpChange.objects.filter(kind="created").select_related("follow_up").first()
    assert first.at == first.follow_up.created_at and first.actor.username.startswith("responder")
    assert Outcome.objects.exclude(narrative="").exists()
    assert set(PoliceReferral.objects.values_list("filed_by__username", flat=True)) == {"officer"}


def the_case_managers_demo_queue_and_a_follow_up_read_well(client):
    client.login(username="casemanager", password="demo-pass-2026")
    assert client.get(reverse("referrals:case_manager_home")).status_code == 200
    follow_up = FollowUp.objects.filter(incident__isnull=False, outcome__isnull=False).first()
    content = client.get(reverse("referrals:follow_up", args=[follow_up.pk])).content.decode()
    assert "The contact that led here" in content and "opened a" in content
