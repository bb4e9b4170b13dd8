"""Supervisors run their program's units and people from their own pages, every change audited."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dispatch import services
from dispatch.models import AuditEntry, Shift, Unit
from dispatch.roles import Role, is_clinician, role_of
from dispatch.services import ServiceConflict, ServiceInvalid
from tests import factories

PASSWORD = "a-long-first-password-42"


def audit_actions():
    return list(
        AuditEntry.objects.filter(kind=AuditEntry.Kind.ADMINISTRATION)
        .order_by("id")
        .values_list("action", "target")
    )


@pytest.fixture
def supervisor(personas):
    return personas["supervisor"]


@pytest.fixture
def signed_in(client, supervisor):
    client.force_login(supervisor)
    return client


def busy_unit(callsign="CR-1"):
    """A unit with a responder on shift and an active assignment."""
    unit = factories.UnitFactory(callsign=callsign, status=Unit.Status.OFF_DUTY)
    responder = factories.UserFactory(roles=[Role.RESPONDER])
    services.shift_start(user=responder, unit_id=unit.pk)
    factories.CallTypeFactory(code="WELFARE")
    services.assignment_create(incident_id=factories.incident().pk, callsign=callsign, actor=None)
    unit.refresh_from_db()
    return unit, responder


# --- Who may -------------------------------------------------------------------------------------
PAGES = ["supervisor_units", "supervisor_people", "supervisor_person_new", "supervisor_shifts"]


@pytest.mark.parametrize("name", PAGES)
def test_only_supervisors_open_the_administration_pages(client, personas, name):
    url = reverse(f"dispatch:{name}")
    for role in ("responder", "dispatcher", "police_officer", "case_manager", "nobody"):
        client.force_login(personas[role])
        assert client.get(url).status_code == 403, role
    client.force_login(personas["supervisor"])
    assert client.get(url).status_code == 200


def test_a_dispatcher_cannot_post_an_administration_change(client, personas):
    unit = factories.UnitFactory(callsign="CR-1")
    client.force_login(personas["dispatcher"])
    posts = [
        (reverse("dispatch:supervisor_units"), {"callsign": "CR-9"}),
        (reverse("dispatch:supervisor_unit_retire", args=[unit.pk]), {}),
        (reverse("dispatch:supervisor_unit_service", args=[unit.pk]), {"in_service": "0"}),
        (reverse("dispatch:supervisor_person_active", args=[personas["responder"].pk]), {"active": "0"}),
        (
            reverse("dispatch:supervisor_person_password", args=[personas["responder"].pk]),
            {"password": PASSWORD},
        ),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert not Unit.objects.filter(callsign="CR-9").exists()
    assert personas["responder"].__class__.objects.get(pk=personas["responder"].pk).is_active
    assert audit_actions() == []


def test_the_supervisor_nav_links_the_administration_pages(signed_in):
    page = signed_in.get(reverse("dispatch:supervisor_home")).content.decode()
    for name in ("supervisor_units", "supervisor_people", "supervisor_shifts"):
        assert reverse(f"dispatch:{name}") in page


# --- Units ---------------------------------------------------------------------------------------
def test_a_supervisor_adds_a_unit_and_it_is_audited(signed_in, supervisor):
    response = signed_in.post(reverse("dispatch:supervisor_units"), {"callsign": " cr-7 "})
    assert response.status_code == 302
    unit = Unit.objects.get(callsign="CR-7")
    assert unit.status == Unit.Status.OFF_DUTY
    entry = AuditEntry.objects.get(action="unit.create")
    assert (entry.actor, entry.target, entry.kind) == (
        supervisor,
        "unit CR-7",
        AuditEntry.Kind.ADMINISTRATION,
    )
    assert "CR-7" in signed_in.get(reverse("dispatch:supervisor_units")).content.decode()


def test_a_callsign_already_used_is_a_form_error_and_nothing_is_written(signed_in):
    factories.UnitFactory(callsign="CR-7")
    response = signed_in.post(reverse("dispatch:supervisor_units"), {"callsign": "cr-7"})
    assert response.status_code == 400
    assert "CR-7 is already a unit&#x27;s callsign." in response.content.decode()
    assert Unit.objects.count() == 1
    assert audit_actions() == []


def test_a_callsign_with_spaces_or_symbols_is_refused(supervisor):
    with pytest.raises(ServiceInvalid) as refused:
        services.unit_create(actor=supervisor, callsign="CR 7!")
    assert refused.value.field == "callsign"


def test_a_unit_is_renamed_in_its_row_and_the_board_is_told(signed_in, supervisor):
    from dispatch.models import Event

    unit = factories.UnitFactory(callsign="CR-1")
    factories.UnitFactory(callsign="CR-2")
    url = reverse("dispatch:supervisor_unit_rename", args=[unit.pk])
    response = signed_in.post(url, {"callsign": "CR-2"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "CR-2 is already a unit" in response.content.decode()
    response = signed_in.post(url, {"callsign": "VAN-1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith(f'<tr id="unit-{unit.pk}"')
    unit.refresh_from_db()
    assert unit.callsign == "VAN-1"
    assert Event.objects.filter(type="unit.updated", unit=unit).exists()
    assert audit_actions() == [("unit.rename", "unit VAN-1")]


def test_a_unit_with_an_active_assignment_cannot_be_retired_or_taken_out_of_service(signed_in, supervisor):
    unit, _ = busy_unit()
    response = signed_in.post(
        reverse("dispatch:supervisor_unit_retire", args=[unit.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert 'data-code="assignment_active"' in response.content.decode()
    with pytest.raises(ServiceConflict) as refused:
        services.unit_set_in_service(actor=supervisor, unit_id=unit.pk, in_service=False)
    assert refused.value.code == "assignment_active"
    unit.refresh_from_db()
    assert unit.retired_at is None and unit.status == Unit.Status.DISPATCHED
    assert audit_actions() == []


def test_a_unit_with_a_team_on_shift_cannot_be_retired(supervisor):
    unit = factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    services.shift_start(user=factories.UserFactory(roles=[Role.RESPONDER]), unit_id=unit.pk)
    with pytest.raises(ServiceConflict) as refused:
        services.unit_retire(actor=supervisor, unit_id=unit.pk)
    assert refused.value.code == "unit_on_shift"


def test_a_retired_unit_leaves_the_board_and_the_api_but_keeps_its_row(signed_in, supervisor, cad):
    unit = factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    factories.UnitFactory(callsign="CR-2")
    response = signed_in.post(reverse("dispatch:supervisor_unit_retire", args=[unit.pk]))
    assert response.status_code == 302
    unit.refresh_from_db()
    assert unit.retired_at is not None and unit.status == Unit.Status.OUT_OF_SERVICE
    assert [u["callsign"] for u in cad.get("/api/v1/units/").json()] == ["CR-2"]
    with pytest.raises(ServiceConflict) as refused:
        services.shift_start(user=factories.UserFactory(roles=[Role.RESPONDER]), unit_id=unit.pk)
    assert refused.value.code == "unit_out_of_service"
    assert "Retired" in signed_in.get(reverse("dispatch:supervisor_units")).content.decode()
    assert audit_actions() == [("unit.retire", "unit CR-1")]


def test_out_of_service_and_back_available_when_a_team_is_on_it(supervisor):
    unit = factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    services.shift_start(user=factories.UserFactory(roles=[Role.RESPONDER]), unit_id=unit.pk)
    services.unit_set_in_service(actor=supervisor, unit_id=unit.pk, in_service=False)
    unit.refresh_from_db()
    assert unit.status == Unit.Status.OUT_OF_SERVICE
    services.unit_set_in_service(actor=supervisor, unit_id=unit.pk, in_service=True)
    unit.refresh_from_db()
    assert unit.status == Unit.Status.AVAILABLE
    assert [a for a, _ in audit_actions()] == ["unit.out_of_service", "unit.in_service"]


def test_an_empty_unit_comes_back_in_service_off_duty(supervisor):
    unit = factories.UnitFactory(callsign="CR-1", status=Unit.Status.OUT_OF_SERVICE)
    services.unit_set_in_service(actor=supervisor, unit_id=unit.pk, in_service=True)
    unit.refresh_from_db()
    assert unit.status == Unit.Status.OFF_DUTY


# --- People --------------------------------------------------------------------------------------
def new_person(client, **overrides):
    data = {
        "username": "jrivera",
        "first_name": "Jo",
        "last_name": "Rivera",
        "role": "responder",
        "password": PASSWORD,
        **overrides,
    }
    return client.post(reverse("dispatch:supervisor_person_new"), data)


def test_a_supervisor_adds_a_responder_who_can_then_sign_in(signed_in, client, supervisor):
    response = new_person(signed_in)
    assert response.status_code == 302
    user = supervisor.__class__.objects.get(username="jrivera")
    assert role_of(user) == Role.RESPONDER and not is_clinician(user)
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.target == "user jrivera" and entry.detail["role"] == "responder"
    assert PASSWORD not in str(entry.detail)
    client.logout()
    assert client.login(username="jrivera", password=PASSWORD)
    assert client.get("/").url == "/field/"


def test_a_user_name_taken_or_a_weak_password_is_a_form_error(signed_in, personas):
    response = new_person(signed_in, username="RESP")  # "resp" exists, in another case
    assert response.status_code == 400
    assert "The user name RESP is taken." in response.content.decode()
    response = new_person(signed_in, password="password")
    assert response.status_code == 400
    assert "too common" in response.content.decode()
    assert not personas["supervisor"].__class__.objects.filter(username="jrivera").exists()
    assert audit_actions() == []


def test_only_a_dispatcher_can_be_a_clinician(signed_in, supervisor):
    response = new_person(signed_in, role="case_manager", clinician="on")
    assert response.status_code == 400
    assert "Only a dispatcher can work the clinicians" in response.content.decode()
    assert new_person(signed_in, role="dispatcher", clinician="on").status_code == 302
    user = supervisor.__class__.objects.get(username="jrivera")
    assert role_of(user) == Role.DISPATCHER and is_clinician(user)


def test_a_supervisor_changes_a_role_and_the_clinician_flag(signed_in, personas):
    dispatcher = personas["dispatcher"]
    url = reverse("dispatch:supervisor_person", args=[dispatcher.pk])
    data = {"first_name": "Dana", "last_name": "Reyes", "role": "dispatcher", "clinician": "on"}
    assert signed_in.post(url, data).status_code == 302
    dispatcher = dispatcher.__class__.objects.get(pk=dispatcher.pk)
    assert is_clinician(dispatcher)
    assert signed_in.post(url, {**data, "role": "case_manager", "clinician": ""}).status_code == 302
    dispatcher = dispatcher.__class__.objects.get(pk=dispatcher.pk)
    assert role_of(dispatcher) == Role.CASE_MANAGER and not is_clinician(dispatcher)
    assert list(dispatcher.memberships.values_list("role", flat=True)) == ["case_manager"]
    assert not dispatcher.groups.exists()
    entry = AuditEntry.objects.filter(action="user.update").order_by("id").last()
    assert entry.detail["changes"]["role"] == ["dispatcher", "case_manager"]


def test_the_last_supervisor_cannot_be_demoted_or_deactivated(personas, supervisor):
    with pytest.raises(ServiceConflict) as refused:
        services.user_update(
            actor=personas["dispatcher"],
            user_id=supervisor.pk,
            first_name="Sam",
            last_name="",
            role="dispatcher",
        )
    assert refused.value.code == "last_supervisor"
    with pytest.raises(ServiceConflict) as refused:
        services.user_deactivate(actor=personas["dispatcher"], user_id=supervisor.pk)
    assert refused.value.code == "last_supervisor"
    supervisor.refresh_from_db()
    assert supervisor.is_active and role_of(supervisor) == Role.SUPERVISOR


def test_with_two_supervisors_one_may_be_deactivated_then_the_other_is_the_last(personas, supervisor):
    other = factories.UserFactory(roles=[Role.SUPERVISOR])
    services.user_deactivate(actor=supervisor, user_id=other.pk)
    with pytest.raises(ServiceConflict) as refused:
        services.user_update(
            actor=other, user_id=supervisor.pk, first_name="S", last_name="", role="responder"
        )
    assert refused.value.code == "last_supervisor"


def test_a_supervisor_cannot_deactivate_themselves(signed_in, supervisor):
    factories.UserFactory(roles=[Role.SUPERVISOR])
    response = signed_in.post(
        reverse("dispatch:supervisor_person_active", args=[supervisor.pk]), {"active": "0"}
    )
    assert response.status_code == 409
    assert "You cannot deactivate yourself." in response.content.decode()
    supervisor.refresh_from_db()
    assert supervisor.is_active


def test_a_deactivated_person_cannot_sign_in_and_their_session_stops_working(signed_in, client, personas):
    from django.test import Client

    dispatcher = personas["dispatcher"]
    theirs = Client()
    theirs.force_login(dispatcher)
    assert theirs.get("/dispatch/").status_code == 200
    response = signed_in.post(
        reverse("dispatch:supervisor_person_active", args=[dispatcher.pk]), {"active": "0"}
    )
    assert response.status_code == 302
    assert theirs.get("/dispatch/").status_code == 302  # to sign-in
    assert not Client().login(username="disp", password="pw-for-tests-1")
    assert audit_actions() == [("user.deactivate", "user disp")]
    signed_in.post(reverse("dispatch:supervisor_person_active", args=[dispatcher.pk]), {"active": "1"})
    assert Client().login(username="disp", password="pw-for-tests-1")


def test_deactivating_a_responder_on_shift_ends_the_shift(supervisor):
    unit = factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    responder = factories.UserFactory(roles=[Role.RESPONDER])
    services.shift_start(user=responder, unit_id=unit.pk)
    services.user_deactivate(actor=supervisor, user_id=responder.pk)
    assert not Shift.objects.filter(user=responder, ended_at__isnull=True).exists()
    unit.refresh_from_db()
    assert unit.status == Unit.Status.OFF_DUTY
    assert AuditEntry.objects.get(action="user.deactivate").detail["shift_ended_on"] == "CR-1"


def test_the_last_responder_of_a_busy_unit_is_not_deactivated(supervisor):
    _unit, responder = busy_unit()
    with pytest.raises(ServiceConflict) as refused:
        services.user_deactivate(actor=supervisor, user_id=responder.pk)
    assert refused.value.code == "assignment_active"
    responder.refresh_from_db()
    assert responder.is_active


def test_a_supervisor_resets_a_password(signed_in, personas):
    from django.test import Client

    url = reverse("dispatch:supervisor_person_password", args=[personas["case_manager"].pk])
    assert signed_in.post(url, {"password": "short"}).status_code == 400
    assert signed_in.post(url, {"password": PASSWORD}).status_code == 302
    assert not Client().login(username="cm", password="pw-for-tests-1")
    assert Client().login(username="cm", password=PASSWORD)
    entry = AuditEntry.objects.get(action="user.password_reset")
    assert entry.target == "user cm" and PASSWORD not in str(entry.detail)


def test_an_api_clients_account_is_not_a_person_here(signed_in, cad):
    user = cad.api_client.user
    assert signed_in.get(reverse("dispatch:supervisor_person", args=[user.pk])).status_code == 404
    assert "api:" not in signed_in.get(reverse("dispatch:supervisor_people")).content.decode()


def test_the_people_list_shows_roles_and_who_is_deactivated(signed_in, personas):
    services.user_deactivate(actor=personas["supervisor"], user_id=personas["responder"].pk)
    page = signed_in.get(reverse("dispatch:supervisor_people")).content.decode()
    assert "Police officer" in page and "Case manager" in page
    assert "Deactivated" in page
    found = signed_in.get(reverse("dispatch:supervisor_people"), {"q": "cop"}).content.decode()
    assert "cop" in found and ">disp<" not in found


# --- Shifts --------------------------------------------------------------------------------------
def test_shifts_now_and_on_an_earlier_day(signed_in):
    unit = factories.UnitFactory(callsign="CR-3", status=Unit.Status.OFF_DUTY)
    now_on = factories.UserFactory(first_name="Nia", last_name="Now", roles=[Role.RESPONDER])
    services.shift_start(user=now_on, unit_id=unit.pk)
    earlier = factories.UserFactory(first_name="Eli", last_name="Earlier", roles=[Role.RESPONDER])
    three_days_ago = timezone.now() - timedelta(days=3)
    Shift.objects.create(
        unit=unit, user=earlier, started_at=three_days_ago, ended_at=three_days_ago + timedelta(hours=8)
    )
    page = signed_in.get(reverse("dispatch:supervisor_shifts")).content.decode()
    assert "Nia Now" in page and "Eli Earlier" not in page
    day = timezone.localdate(three_days_ago + timedelta(hours=4))
    page = signed_in.get(reverse("dispatch:supervisor_shifts"), {"day": day.isoformat()}).content.decode()
    assert "Eli Earlier" in page and "8 h 00 min" in page
    assert signed_in.get(reverse("dispatch:supervisor_shifts"), {"day": "not-a-day"}).status_code == 400
