"""Case managers see the person: how to call them, the contact that led to the follow-up, and
its attempts and history written as sentences with names and labels."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dispatch.services import assignment_create, assignment_set_status
from field.models import Outcome
from referrals import services
from referrals.models import Organization, Service
from tests import factories


@pytest.fixture
def contact(personas, call_types):
    return build_contact(personas, call_types)


def build_contact(personas, call_types):
    """A welfare call a unit reached, its outcome with the team's notes, and the follow-up it opened."""
    call_types["WELFARE"].name = "Welfare check"
    call_types["WELFARE"].save()
    unit = factories.UnitFactory(callsign="CR-3")
    incident = factories.incident(address="1550 Court Pl")
    assignment = assignment_create(incident_id=incident.pk, callsign="CR-3", actor=personas["dispatcher"])
    for step in ("en_route", "on_scene"):
        assignment = assignment_set_status(
            assignment_id=assignment.pk, status=step, actor=personas["dispatcher"]
        )
    person = services.person_create(actor=personas["responder"], name="Ana Ruiz", phone="(720) 555-0199")
    follow_up = services.follow_up_create(
        actor=personas["responder"], service_type="housing", consent=True, person=person, incident=incident
    )
    Outcome.objects.create(
        assignment=assignment,
        disposition="referred",
        narrative="Ana sleeps in her car; wants a shelter bed near her work.",
        person=person,
        follow_up=follow_up,
        recorded_by=personas["responder"],
        recorded_at=timezone.now(),
    )
    return {"follow_up": follow_up, "person": person, "assignment": assignment, "unit": unit}


def page(client, user, follow_up):
    client.force_login(user)
    response = client.get(reverse("referrals:follow_up", args=[follow_up.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_follow_up_shows_the_persons_phone_as_a_tel_link(client, personas, contact):
    content = page(client, personas["case_manager"], contact["follow_up"])
    assert 'href="tel:7205550199"' in content
    assert "(720) 555-0199" in content


def test_the_follow_up_shows_the_contact_that_led_to_it(client, personas, contact):
    content = page(client, personas["case_manager"], contact["follow_up"])
    assert 'data-contact="call-type">Welfare check (WELFARE)' in content
    assert "CR-3" in content and "1550 Court Pl" in content
    assert "Referred to services" in content
    assert "Ana sleeps in her car; wants a shelter bed near her work." in content


def test_a_follow_up_opened_by_hand_says_there_was_no_call(client, personas, db):
    follow_up = services.follow_up_create(actor=personas["case_manager"], service_type="food", consent=True)
    content = page(client, personas["case_manager"], follow_up)
    assert "Opened by hand: no call or referral behind it." in content
    assert "No number recorded" in content


def test_the_history_is_sentences_with_names_and_labels_never_field_names_or_ids(client, personas, contact):
    follow_up, manager = contact["follow_up"], personas["case_manager"]
    manager.first_name, manager.last_name = "Robin", "Nguyen"
    manager.save()
    provider = Service.objects.create(
        organization=Organization.objects.create(name="Denver Rescue Mission"),
        name="Lawrence Street shelter",
        service_type="housing",
    )
    services.follow_up_claim(actor=manager, follow_up_id=follow_up.pk)
    services.follow_up_record_attempt(
        actor=manager, follow_up_id=follow_up.pk, method="phone", result="no_answer", notes="Voicemail full."
    )
    services.follow_up_update(actor=manager, follow_up_id=follow_up.pk, provider=provider)
    services.follow_up_transition(actor=manager, follow_up_id=follow_up.pk, status="connected")
    content = page(client, manager, follow_up)
    responder = personas["responder"].get_full_name()
    for sentence in (
        f"{responder} opened a housing / shelter follow-up, due",
        "Robin Nguyen took it onto their caseload.",
        "Robin Nguyen recorded a contact attempt (phone call): no answer; "
        "the status went from Open to Attempted.",
        "Robin Nguyen changed the provider from — to Lawrence Street shelter.",
        "Robin Nguyen changed the status from Attempted to Connected.",
        "Robin Nguyen tried a phone call: no answer.",
    ):
        assert sentence in content, sentence
    history = content[content.index('id="h-attempts"') :]
    for raw in ("case_manager", "service_type", "mental_health", "no_answer", "→", f">{manager.pk}<"):
        assert raw not in history, raw
    assert f" {manager.pk} " not in re.sub(r"<[^>]+>", " ", history)


def test_the_person_timeline_names_the_unit_and_the_outcome_never_a_uuid(client, personas, contact):
    client.force_login(personas["case_manager"])
    response = client.get(reverse("referrals:person", args=[contact["person"].pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert str(contact["assignment"].pk) not in content
    assert "Referred to services · unit CR-3" in content
    assert "Welfare check at 1550 Court Pl" in content
    assert 'href="tel:7205550199"' in content


def test_an_officer_or_a_responder_cannot_open_the_follow_up(client, personas, contact):
    for role in ("police_officer", "responder", "dispatcher"):
        client.force_login(personas[role])
        response = client.get(reverse("referrals:follow_up", args=[contact["follow_up"].pk]))
        assert response.status_code == 403, role
