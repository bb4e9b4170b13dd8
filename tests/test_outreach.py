"""Outreach works like an assignment: a claimed police referral is the unit's call, worked on
the tablet through its steps, ending in the one Outcome every call ends in (so the outcomes
export has it), with no second follow-up for the service the officer already asked for, and
the officer's view kept to received, assigned, contact made, closed."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services as dispatch_services
from dispatch.models import Incident, Unit
from dispatch.reports import engine
from dispatch.reports.exports import _export_queryset
from dispatch.services import ServiceConflict
from field.models import Outcome
from referrals import selectors
from referrals.models import FollowUp, PoliceReferral
from referrals.services import ReferralData, referral_claim, referral_file, referral_release
from tests import factories

pytestmark = pytest.mark.django_db

OUTCOME = {
    "disposition": "referred",
    "services_provided": ["information_referral"],
    "people_contacted": 1,
    "police_involvement": "none",
    "ems_involvement": "none",
    "narrative": "Talked in the doorway; she wants a housing worker to call.",
    "follow_up_needed": True,
    "follow_up": {"service_type": "housing", "consent": True, "notes": "Best reached mornings."},
}


@pytest.fixture
def unit(db):
    return factories.UnitFactory(
        callsign="CR-7", status=Unit.Status.OFF_DUTY, latitude=39.75, longitude=-104.99
    )


@pytest.fixture
def tablet(personas, unit):
    dispatch_services.shift_start(user=personas["responder"], unit_id=unit.pk)
    api = APIClient()
    api.force_login(personas["responder"])
    return api


@pytest.fixture
def referral(personas, call_types):
    """A non-urgent referral whose officer asked for housing, with the person's consent."""
    return referral_file(
        actor=personas["police_officer"],
        data=ReferralData(
            urgency="later",
            call_type_code="WELFARE",
            address="16th St Mall at Arapahoe",
            latitude=39.747,
            longitude=-104.992,
            situation="Woman asleep in a doorway, cold night.",
            officer_name="Ofc. Lee",
            officer_callback="303-555-0111",
            consent_to_contact=True,
            service_needed="housing",
        ),
    )


def officer_status(referral) -> str:
    return selectors.referral_officer_status(PoliceReferral.objects.get(pk=referral.pk))


def step(tablet, assignment, status):
    response = tablet.post(
        f"/field/api/assignments/{assignment.pk}/status", {"status": status}, format="json"
    )
    assert response.status_code == 200, response.json()


def test_a_claimed_referral_is_worked_like_any_call_and_ends_in_one_outcome(
    tablet, personas, unit, referral, midday
):
    assert officer_status(referral) == "received"
    referral = referral_claim(actor=personas["responder"], referral_id=referral.pk, unit=unit)
    assignment = referral.incident.assignments.get()
    assert officer_status(referral) == "assigned"
    # The tablet has it as its current call, like a dispatched one.
    state = tablet.get("/field/state").json()
    assert state["assignment"]["id"] == str(assignment.pk)
    assert state["assignment"]["incident"]["address"] == "16th St Mall at Arapahoe"
    assert state["assignment"]["requested_follow_ups"] == ["Housing / shelter"]

    step(tablet, assignment, "en_route")
    step(tablet, assignment, "on_scene")
    assert officer_status(referral) == "contact_made"
    response = tablet.post(f"/field/api/assignments/{assignment.pk}/outcome", OUTCOME, format="json")
    assert response.status_code == 201, response.json()

    outcome = Outcome.objects.get(assignment=assignment)
    assert outcome.disposition == "referred" and not outcome.self_initiated
    referral.refresh_from_db()
    assert referral.state == "finished" and referral.contact_made is True
    assert officer_status(referral) == "closed"
    # The officer's follow-up is the one the team asked for: joined, not doubled.
    follow_up = FollowUp.objects.get()
    assert outcome.follow_up == follow_up and follow_up.referral == referral
    assert follow_up.incident == referral.incident and "Best reached mornings." in follow_up.notes
    exported, header, _stamps = _export_queryset("outcomes", engine.ReportFilters.default(), False)
    rows = [dict(zip(header, row, strict=True)) for row in exported]
    assert [row["assignment_id"] for row in rows] == [assignment.pk]


def test_a_follow_up_for_another_service_is_a_new_one(tablet, personas, unit, referral):
    referral = referral_claim(actor=personas["responder"], referral_id=referral.pk, unit=unit)
    assignment = referral.incident.assignments.get()
    step(tablet, assignment, "en_route")
    step(tablet, assignment, "on_scene")
    body = {**OUTCOME, "follow_up": {"service_type": "medical", "consent": True}}
    assert (
        tablet.post(f"/field/api/assignments/{assignment.pk}/outcome", body, format="json").status_code == 201
    )
    assert sorted(FollowUp.objects.values_list("service_type", flat=True)) == ["housing", "medical"]


def test_a_unit_on_another_call_cannot_claim_and_nothing_is_half_made(tablet, personas, unit, referral):
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.ON_SCENE)
    with pytest.raises(ServiceConflict) as refused:
        referral_claim(
            actor=personas["responder"], referral_id=referral.pk, unit=Unit.objects.get(pk=unit.pk)
        )
    assert refused.value.code == "unit_unavailable"
    assert PoliceReferral.objects.get(pk=referral.pk).state == "queued"
    assert not Incident.objects.exists()


def test_giving_a_referral_back_cancels_its_call_but_not_once_on_scene(tablet, personas, unit, referral):
    referral = referral_claim(actor=personas["responder"], referral_id=referral.pk, unit=unit)
    incident = referral.incident
    referral_release(actor=personas["responder"], referral_id=referral.pk, unit=unit)
    incident.refresh_from_db()
    assert incident.status == "cancelled" and officer_status(referral) == "received"
    assert Unit.objects.get(pk=unit.pk).status == "available"

    referral = referral_claim(actor=personas["responder"], referral_id=referral.pk, unit=unit)
    assignment = referral.incident.assignments.get()
    step(tablet, assignment, "en_route")
    step(tablet, assignment, "on_scene")
    with pytest.raises(ServiceConflict) as refused:
        referral_release(actor=personas["responder"], referral_id=referral.pk, unit=unit)
    assert refused.value.code == "already_on_scene"


def test_a_no_contact_outcome_tells_the_officer_closed_without_contact(tablet, personas, unit, referral):
    referral = referral_claim(actor=personas["responder"], referral_id=referral.pk, unit=unit)
    assignment = referral.incident.assignments.get()
    step(tablet, assignment, "en_route")
    step(tablet, assignment, "on_scene")
    body = {**OUTCOME, "disposition": "no_contact", "follow_up_needed": False, "follow_up": None}
    assert (
        tablet.post(f"/field/api/assignments/{assignment.pk}/outcome", body, format="json").status_code == 201
    )
    referral.refresh_from_db()
    assert referral.state == "finished" and referral.contact_made is False
    assert referral.finished_at <= timezone.now()
    assert not Outcome.objects.get().follow_up  # the officer's request waits for a case manager as it was
