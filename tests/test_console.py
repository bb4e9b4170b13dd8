"""The dispatcher console: who may use it, the queue and unit board, assigning, intake (model 3),
the clinicians' queue (model 2) and alerts."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from dispatch import selectors, services
from dispatch.events import EventType
from dispatch.models import (
    Alert,
    Assignment,
    ClinicianTransfer,
    Event,
    Incident,
    IncidentChange,
    PhoneContact,
    Unit,
)
from dispatch.roles import CLINICIAN_GROUP
from tests import factories

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DENIED_ROLES = ["responder", "police_officer", "case_manager", "nobody"]
ALLOWED_ROLES = ["dispatcher", "supervisor"]


@pytest.fixture
def clinician(db):
    user = factories.UserFactory(username="clin", roles=["dispatcher"])
    user.groups.add(Group.objects.get_or_create(name=CLINICIAN_GROUP)[0])
    return user


@pytest.fixture
def unit(db):
    return factories.UnitFactory(callsign="CR-1", latitude=39.75, longitude=-104.99)


def pending_incident(**kwargs):
    return factories.incident(**kwargs)


def endpoints(incident, alert):
    """Every console view and action, as (method, url)."""
    return [
        ("get", "/dispatch/"),
        ("get", "/dispatch/console/queue/"),
        ("get", "/dispatch/console/units/"),
        ("get", "/dispatch/console/alerts/"),
        ("get", "/dispatch/console/clinician/"),
        ("post", f"/dispatch/incidents/{incident.pk}/assign/"),
        ("post", f"/dispatch/incidents/{incident.pk}/cancel/"),
        ("post", f"/dispatch/incidents/{incident.pk}/transfer/"),
        ("post", f"/dispatch/incidents/{incident.pk}/phone/"),
        ("post", "/dispatch/intake/"),
        ("post", f"/dispatch/alerts/{alert.pk}/acknowledge/"),
        ("get", f"/dispatch/console/incidents/{incident.pk}/row/"),
        ("get", f"/dispatch/console/incidents/{incident.pk}/details/"),
        ("get", "/dispatch/console/units/CR-1/row/"),
        ("get", "/dispatch/console/addresses/suggest/?address=15"),
        ("post", f"/dispatch/incidents/{incident.pk}/duplicate/"),
        ("post", f"/dispatch/incidents/{incident.pk}/seen/"),
    ]


# --- Who may use the console -------------------------------------------------------------------
@pytest.mark.parametrize("role", DENIED_ROLES)
def test_it_refuses_every_console_view_to_roles_without_the_console(client, personas, call_types, role):
    incident = pending_incident()
    alert = services.alert_raise(kind=Alert.Kind.BACKUP, message="Backup please")
    client.force_login(personas[role])
    for method, url in endpoints(incident, alert):
        response = getattr(client, method)(url, {"unit": "CR-1", "notes": "x", "action": "resolve"})
        assert response.status_code == 403, (role, url)
    incident.refresh_from_db()
    alert.refresh_from_db()
    assert incident.status == Incident.Status.PENDING
    assert not ClinicianTransfer.objects.exists()
    assert alert.acknowledged_at is None


def test_it_sends_anonymous_callers_to_sign_in(client, call_types):
    incident = pending_incident()
    alert = services.alert_raise(kind=Alert.Kind.BACKUP, message="Backup please")
    for method, url in endpoints(incident, alert):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/signin/"), url
    assert Incident.objects.get().status == Incident.Status.PENDING


@pytest.mark.parametrize("role", ALLOWED_ROLES)
def test_it_shows_the_console_and_its_regions_to_dispatch(client, personas, call_types, role):
    client.force_login(personas[role])
    response = client.get("/dispatch/")
    assert response.status_code == 200
    assert b"Dispatch console" in response.content
    for region in ("queue", "units", "alerts", "clinician"):
        response = client.get(f"/dispatch/console/{region}/")
        assert response.status_code == 200
        assert f'id="{region}"'.encode() in response.content


@pytest.mark.parametrize("role", ALLOWED_ROLES)
def test_dispatchers_and_supervisors_may_act_from_the_console(client, personas, call_types, unit, role):
    client.force_login(personas[role])
    first, second, third = pending_incident(), pending_incident(), pending_incident()
    alert = services.alert_raise(kind=Alert.Kind.BACKUP, message="Backup please")

    assert client.post(f"/dispatch/incidents/{first.pk}/assign/", {"unit": "CR-1"}).status_code == 302
    assert client.post(f"/dispatch/incidents/{second.pk}/cancel/").status_code == 302
    assert client.post(f"/dispatch/incidents/{third.pk}/transfer/").status_code == 302
    assert client.post(f"/dispatch/alerts/{alert.pk}/acknowledge/").status_code == 302

    assert Assignment.objects.get().incident == first
    assert Incident.objects.get(pk=second.pk).status == Incident.Status.CANCELLED
    assert ClinicianTransfer.objects.get().incident == third
    assert Alert.objects.get().acknowledged_by == personas[role]


def test_an_unknown_region_is_not_found(client, personas):
    client.force_login(personas["dispatcher"])
    assert client.get("/dispatch/console/everything/").status_code == 404


def test_the_page_starts_its_live_stream_at_the_newest_event(client, personas, call_types):
    pending_incident()
    client.force_login(personas["dispatcher"])
    newest = Event.objects.order_by("-id").first().id
    response = client.get("/dispatch/")
    assert f'data-last-event-id="{newest}"'.encode() in response.content
    assert b'data-ws-path="/ws/dispatch/"' in response.content
    assert b"js/console.js" in response.content


# --- The queue ----------------------------------------------------------------------------------
def test_the_queue_puts_eligible_first_then_priority_with_none_last_then_oldest(call_types):
    now = timezone.now()
    ineligible_urgent = pending_incident(
        call_type="ASSAULT", priority=1, received_at=now - timedelta(hours=2), address="ineligible"
    )
    no_priority_old = pending_incident(priority=None, received_at=now - timedelta(hours=3), address="none")
    p2_new = pending_incident(priority=2, received_at=now - timedelta(minutes=1), address="p2 new")
    p2_old = pending_incident(priority=2, received_at=now - timedelta(minutes=30), address="p2 old")
    p5 = pending_incident(priority=5, received_at=now - timedelta(hours=5), address="p5")
    closed = pending_incident(priority=1, address="cancelled")
    services.incident_cancel(incident=closed, actor=None)

    order = list(selectors.incident_queue(None))

    assert order == [p2_old, p2_new, p5, no_priority_old, ineligible_urgent]


def test_a_queue_row_shows_what_decides_the_call_at_a_glance(client, personas, call_types):
    pending_incident(
        call_type="ASSAULT", screening=(True, None, False, False), address="12 Elm St", priority=2
    )
    client.force_login(personas["dispatcher"])
    html = client.get("/dispatch/console/queue/").content.decode()
    assert "12 Elm St" in html
    assert '<span class="pri pri-2">P2</span>' in html
    assert "Not eligible" in html
    assert "Weapons reported; Call type not eligible for community response; Screening not complete" in html
    assert '<span class="flag flag-yes">Weapons</span>' in html
    assert '<span class="flag flag-unasked">1 not asked</span>' in html
    assert "911" in html
    assert 'data-needs-screening="1"' in html and 'data-eligible="0"' in html


def test_a_calls_details_show_screening_answers_and_reasons_in_words(client, personas, call_types):
    incident = pending_incident(
        call_type="ASSAULT", screening=(True, None, False, False), address="12 Elm St"
    )
    client.force_login(personas["dispatcher"])
    html = client.get(f"/dispatch/console/incidents/{incident.pk}/details/").content.decode()
    assert "12 Elm St" in html
    assert "Weapons reported" in html
    assert "Call type not eligible for community response" in html
    assert "Screening not complete" in html
    assert "<dt>Weapons</dt><dd>Yes</dd>" in html
    assert "<dt>Violence</dt><dd>Not asked</dd>" in html
    assert "<dt>Medical</dt><dd>No</dd>" in html
    assert "911" in html


def test_the_unit_board_shows_status_time_in_status_and_members_on_shift(client, personas):
    from dispatch.models import Shift

    unit = factories.UnitFactory(
        callsign="CR-7", status=Unit.Status.ON_SCENE, status_changed_at=timezone.now() - timedelta(minutes=12)
    )
    partner = factories.UserFactory(first_name="Ada", last_name="Lovelace", roles=["responder"])
    Shift.objects.create(unit=unit, user=partner, started_at=timezone.now())
    client.force_login(personas["dispatcher"])
    html = client.get("/dispatch/console/units/").content.decode()
    assert "CR-7" in html
    assert "On scene" in html
    assert "12 min" in html
    assert "Ada Lovelace" in html


# --- Recommendation -----------------------------------------------------------------------------
def test_the_recommendation_is_the_nearest_available_unit_then_the_longest_available(call_types):
    now = timezone.now()
    incident = pending_incident(latitude=39.74, longitude=-104.99)
    near_newer = factories.UnitFactory(
        callsign="NEAR-NEW", latitude=39.745, longitude=-104.99, available_since=now - timedelta(minutes=1)
    )
    near_older = factories.UnitFactory(
        callsign="NEAR-OLD", latitude=39.745, longitude=-104.99, available_since=now - timedelta(minutes=40)
    )
    far = factories.UnitFactory(
        callsign="FAR", latitude=39.9, longitude=-105.2, available_since=now - timedelta(hours=3)
    )
    unplaced_old = factories.UnitFactory(callsign="NOPOS-OLD", available_since=now - timedelta(hours=9))
    unplaced_new = factories.UnitFactory(callsign="NOPOS-NEW", available_since=now)
    factories.UnitFactory(callsign="BUSY", status=Unit.Status.DISPATCHED, latitude=39.74, longitude=-104.99)

    ranked = selectors.units_ranked_for(incident)

    assert [u for u, _ in ranked] == [near_older, near_newer, far, unplaced_old, unplaced_new]
    assert ranked[0][1] == pytest.approx(0.556, abs=0.01)
    assert ranked[3][1] is None
    assert selectors.unit_recommend(incident) == near_older


def test_without_an_incident_position_the_longest_available_unit_is_recommended(call_types):
    now = timezone.now()
    incident = pending_incident(latitude=None, longitude=None)
    factories.UnitFactory(callsign="A", latitude=39.74, longitude=-104.99, available_since=now)
    longest = factories.UnitFactory(callsign="B", available_since=now - timedelta(hours=1))
    assert selectors.unit_recommend(incident) == longest


def test_no_recommendation_when_no_unit_is_available(call_types):
    factories.UnitFactory(status=Unit.Status.OFF_DUTY)
    assert selectors.unit_recommend(pending_incident()) is None


def test_the_assign_control_preselects_the_recommended_unit(client, personas, call_types):
    pending_incident(latitude=39.74, longitude=-104.99)
    factories.UnitFactory(callsign="FAR", latitude=40.5, longitude=-105.5)
    factories.UnitFactory(callsign="NEAR", latitude=39.741, longitude=-104.99)
    client.force_login(personas["dispatcher"])
    incident = Incident.objects.get()
    html = client.get(f"/dispatch/console/incidents/{incident.pk}/details/").content.decode()
    assert '<option value="NEAR" selected>NEAR (recommended) · 0.1 km</option>' in html
    assert html.index('value="NEAR"') < html.index('value="FAR"')
    assert "Recommended: <strong>NEAR</strong>, 0.1 km away." in html


# --- Assigning ----------------------------------------------------------------------------------
def test_assigning_an_eligible_call_sends_the_unit(client, personas, call_types, unit):
    incident = pending_incident()
    client.force_login(personas["dispatcher"])
    response = client.post(f"/dispatch/incidents/{incident.pk}/assign/", {"unit": "CR-1"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="console-flash"' in html and "CR-1 sent to WELFARE at 100 Main St." in html
    # The page fetches the rows the answer names, as it does for a live event.
    changed = json.loads(response["HX-Trigger"])["console-changed"]
    assert changed["incidents"] == [str(incident.pk)] and changed["units"] == ["CR-1"]
    assignment = Assignment.objects.get()
    assert (assignment.unit, assignment.incident, assignment.dispatched_by) == (
        unit,
        incident,
        personas["dispatcher"],
    )
    assert Event.objects.filter(type=EventType.ASSIGNMENT_CREATED).exists()


def test_an_ineligible_call_needs_an_override_reason(client, personas, call_types, unit):
    incident = pending_incident(screening=(False, None, False, False))
    client.force_login(personas["dispatcher"])

    response = client.post(
        f"/dispatch/incidents/{incident.pk}/assign/", {"unit": "CR-1", "override_reason": "  "}, **HTMX
    )
    # 422, not 400: django-htmx's debug script would replace the whole page on a 400.
    assert response.status_code == 422
    assert "Give a reason to send a team anyway." in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert (
        f'id="details-body-{incident.pk}" class="details-body" hx-swap-oob="true"'
        in response.content.decode()
    )
    assert not Assignment.objects.exists()

    response = client.post(
        f"/dispatch/incidents/{incident.pk}/assign/",
        {"unit": "CR-1", "override_reason": "Caller known to team; no weapons history"},
    )
    assert response.status_code == 302
    assert Assignment.objects.get().override_reason == "Caller known to team; no weapons history"


def test_without_javascript_a_form_error_renders_the_whole_console(client, personas, call_types, unit):
    incident = pending_incident(call_type="ASSAULT")
    client.force_login(personas["dispatcher"])
    response = client.post(f"/dispatch/incidents/{incident.pk}/assign/", {"unit": "CR-1"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "<h1>Dispatch console</h1>" in html
    assert "Not assigned: This call is not eligible" in html
    # The call is open in place, with the error beside its form.
    assert f'aria-controls="details-{incident.pk}"' in html
    assert f'<tr class="details" id="details-{incident.pk}">' in html
    assert 'aria-invalid="true"' in html
    assert not Assignment.objects.exists()


def test_an_unknown_unit_is_a_form_error(client, personas, call_types, unit):
    incident = pending_incident()
    client.force_login(personas["dispatcher"])
    response = client.post(f"/dispatch/incidents/{incident.pk}/assign/", {"unit": "NOPE-9"}, **HTMX)
    assert response.status_code == 422
    assert "There is no unit NOPE-9." in response.content.decode()
    assert not Assignment.objects.exists()


def test_an_unknown_incident_is_not_found(client, personas, unit):
    client.force_login(personas["dispatcher"])
    url = "/dispatch/incidents/00000000-0000-0000-0000-000000000000/assign/"
    assert client.post(url, {"unit": "CR-1"}).status_code == 404


@pytest.mark.parametrize(
    ("situation", "message"),
    [
        ("unit_unavailable", "That unit is no longer available. Choose another."),
        ("already_assigned", "A team is already on this call."),
        ("incident_not_open", "This call is closed or cancelled."),
    ],
)
def test_conflicts_are_shown_as_a_clear_message(client, personas, call_types, unit, situation, message):
    incident = pending_incident()
    if situation == "unit_unavailable":
        services.assignment_create(incident_id=pending_incident().pk, callsign="CR-1", actor=None)
        callsign = "CR-1"
    elif situation == "already_assigned":
        services.assignment_create(incident_id=incident.pk, callsign="CR-1", actor=None)
        callsign = factories.UnitFactory(callsign="CR-2").callsign
    else:
        services.incident_cancel(incident=incident, actor=None)
        callsign = "CR-1"
    before = Assignment.objects.count()
    client.force_login(personas["dispatcher"])

    response = client.post(f"/dispatch/incidents/{incident.pk}/assign/", {"unit": callsign}, **HTMX)

    assert response.status_code == 409
    assert f"Not assigned: {message}" in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert Assignment.objects.count() == before


def test_a_not_eligible_conflict_from_the_service_is_a_message(
    client, personas, call_types, unit, monkeypatch
):
    # Screening can change between the form's check and the service's lock (a CAD update).
    incident = pending_incident()

    def refuse(**kwargs):
        raise services.ServiceConflict("not_eligible", "screening changed")

    monkeypatch.setattr(services, "assignment_create", refuse)
    client.force_login(personas["dispatcher"])
    response = client.post(f"/dispatch/incidents/{incident.pk}/assign/", {"unit": "CR-1"}, **HTMX)
    assert response.status_code == 409
    assert "This call is not eligible: give a reason to send a team anyway." in response.content.decode()


# --- Cancelling ---------------------------------------------------------------------------------
def test_cancelling_frees_the_assigned_unit(client, personas, call_types, unit):
    incident = pending_incident()
    services.assignment_create(incident_id=incident.pk, callsign="CR-1", actor=None)
    client.force_login(personas["dispatcher"])
    response = client.post(
        f"/dispatch/incidents/{incident.pk}/cancel/", {"reason": "Caller called back"}, **HTMX
    )
    assert response.status_code == 200
    assert "Cancelled WELFARE at 100 Main St." in response.content.decode()
    incident.refresh_from_db()
    unit.refresh_from_db()
    assert incident.status == Incident.Status.CANCELLED
    assert unit.status == Unit.Status.AVAILABLE
    assert incident.changes.filter(kind=IncidentChange.Kind.CANCELLED).get().changes["reason"] == [
        None,
        "Caller called back",
    ]


def test_a_closed_call_cannot_be_cancelled(client, personas, call_types, unit):
    incident = pending_incident()
    assignment = services.assignment_create(incident_id=incident.pk, callsign="CR-1", actor=None)
    for step in ("en_route", "on_scene", "cleared"):
        services.assignment_set_status(assignment_id=assignment.pk, status=step, actor=None)
    client.force_login(personas["dispatcher"])
    response = client.post(f"/dispatch/incidents/{incident.pk}/cancel/", **HTMX)
    assert response.status_code == 409
    assert "Not cancelled: This call is closed or cancelled." in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.CLOSED


def test_the_cancel_button_asks_for_confirmation(client, personas, call_types):
    incident = pending_incident()
    client.force_login(personas["dispatcher"])
    details = client.get(f"/dispatch/console/incidents/{incident.pk}/details/").content
    assert b'hx-confirm="Cancel WELFARE at 100 Main St?"' in details


# --- Intake (model 3: hotline, 988, direct line) -----------------------------------------------
def intake_data(**overrides):
    data = {
        "source": "988",
        "call_type": "WELFARE",
        "call_type_other": "",
        "priority": "3",
        "address": "400 Colfax Ave",
        "location_details": "bus shelter",
        "latitude": "39.7402",
        "longitude": "-104.9866",
        "caller_name": "Sam",
        "caller_phone": "+1 (303) 555-0101",
        "narrative": "Man in distress, talking about hurting himself, no weapons seen.",
        "screen_weapons": "no",
        "screen_violence": "no",
        "screen_medical_emergency": "no",
        "screen_police_only": "no",
    }
    data.update(overrides)
    return data


def test_the_intake_form_asks_the_supervisors_screening_questions(client, personas, call_types):
    from dispatch.models import ScreeningQuestion

    ScreeningQuestion.objects.update_or_create(
        key="weapons", defaults={"prompt": "Does anyone there have a gun, knife or other weapon?"}
    )
    client.force_login(personas["dispatcher"])
    html = client.get("/dispatch/").content.decode()
    assert "<legend>Does anyone there have a gun, knife or other weapon?</legend>" in html
    assert 'value="not_asked"' in html
    assert '<option value="external_hotline">External hotline</option>' in html
    assert 'value="police_referral"' not in html


def test_intake_creates_a_screened_incident_and_shows_its_eligibility(client, personas, call_types):
    client.force_login(personas["dispatcher"])
    response = client.post("/dispatch/intake/", intake_data(), **HTMX)
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.source == "988"
    assert incident.call_type == call_types["WELFARE"]
    assert (incident.priority, incident.latitude, incident.longitude) == (3, 39.7402, -104.9866)
    assert (incident.caller_name, incident.caller_phone) == ("Sam", "+1 (303) 555-0101")
    assert incident.screening == {
        "weapons": False,
        "violence": False,
        "medical_emergency": False,
        "police_only": False,
    }
    assert incident.eligible is True
    assert incident.created_by == personas["dispatcher"]
    assert Event.objects.filter(type=EventType.INCIDENT_CREATED).count() == 1
    html = response.content.decode()
    assert "Saved WELFARE at 400 Colfax Ave." in html
    assert '<span class="badge ok">Eligible</span> A team may be sent.' in html


def test_intake_with_an_unasked_question_and_a_free_code_is_not_eligible(client, personas, call_types):
    client.force_login(personas["dispatcher"])
    data = intake_data(
        source="external_hotline",
        call_type="",
        call_type_other="sleeper",
        screen_police_only="not_asked",
        latitude="",
        longitude="",
        priority="",
    )
    response = client.post("/dispatch/intake/", data, **HTMX)
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.call_type_code == "SLEEPER"
    assert incident.priority is None and incident.latitude is None
    assert incident.eligibility_reasons == ["unknown_call_type", "screening_incomplete"]
    html = response.content.decode()
    assert "Call type not in the catalogue" in html
    assert "Screening not complete" in html


@pytest.mark.parametrize(
    ("change", "field_error"),
    [
        ({"screen_weapons": ""}, "Choose yes, no or not asked."),
        ({"screen_violence": "maybe"}, "Select a valid choice."),
        ({"call_type": "", "call_type_other": ""}, "Choose a call type or type another code."),
        ({"call_type_other": "bad code!"}, "Use letters, digits, dashes and underscores"),
        ({"longitude": ""}, "Give both latitude and longitude, or neither."),
        ({"latitude": "91"}, "less than or equal to 90"),
        ({"source": "police_referral"}, "Select a valid choice."),
        ({"address": ""}, "This field is required."),
        ({"priority": "9"}, "Select a valid choice."),
        ({"caller_phone": "call me maybe"}, "Use digits, spaces"),
    ],
)
def test_intake_rejects_bad_input_without_saving(client, personas, call_types, change, field_error):
    client.force_login(personas["dispatcher"])
    response = client.post("/dispatch/intake/", intake_data(**change), **HTMX)
    assert response.status_code == 422
    assert field_error in response.content.decode()
    assert "The call was not saved" in response.content.decode()
    assert not Incident.objects.exists()
    assert not Event.objects.exists()


# --- The clinicians' queue (model 2) -----------------------------------------------------------
def test_a_call_taker_transfers_a_call_to_the_clinicians(client, personas, call_types, clinician):
    incident = pending_incident(caller_phone="303-555-0199")
    client.force_login(personas["dispatcher"])
    response = client.post(
        f"/dispatch/incidents/{incident.pk}/transfer/", {"note": "Caller is crying; speaks Spanish"}, **HTMX
    )
    assert response.status_code == 200
    transfer = ClinicianTransfer.objects.get()
    assert transfer.note == "Caller is crying; speaks Spanish"
    assert (transfer.incident, transfer.transferred_by, transfer.outcome) == (
        incident,
        personas["dispatcher"],
        ClinicianTransfer.Outcome.OPEN,
    )
    assert Event.objects.filter(type=EventType.INCIDENT_UPDATED).exists()
    # A plain dispatcher sees only that it waits; the clinician sees the call and the callback.
    assert "1 call waiting for a clinician." in client.get("/dispatch/console/clinician/").content.decode()
    client.force_login(clinician)
    html = client.get("/dispatch/console/clinician/").content.decode()
    assert "Clinicians’ queue" in html and 'href="tel:303-555-0199"' in html
    assert "Resolved by phone" in html
    assert "Caller is crying; speaks Spanish" in html


def test_a_transfer_note_over_500_characters_is_refused(client, personas, call_types):
    incident = pending_incident()
    client.force_login(personas["dispatcher"])
    response = client.post(f"/dispatch/incidents/{incident.pk}/transfer/", {"note": "x" * 501}, **HTMX)
    assert response.status_code == 422
    assert not ClinicianTransfer.objects.exists()


def test_a_call_is_transferred_only_once(client, personas, call_types):
    incident = pending_incident()
    client.force_login(personas["dispatcher"])
    client.post(f"/dispatch/incidents/{incident.pk}/transfer/")
    response = client.post(f"/dispatch/incidents/{incident.pk}/transfer/", **HTMX)
    assert response.status_code == 409
    assert "already transferred" in response.content.decode()
    assert ClinicianTransfer.objects.count() == 1


def test_a_clinician_resolves_a_call_by_phone(client, personas, call_types, clinician, unit):
    incident = pending_incident()
    services.incident_transfer_to_clinician(incident_id=incident.pk, actor=personas["dispatcher"])
    events_before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    client.force_login(clinician)

    response = client.post(
        f"/dispatch/incidents/{incident.pk}/phone/",
        {"notes": "Talked him through it; he will see his counsellor tomorrow.", "action": "resolve"},
        **HTMX,
    )

    assert response.status_code == 200
    assert "resolved by phone; no team sent" in response.content.decode()
    incident.refresh_from_db()
    transfer = incident.clinician_transfer
    assert incident.status == Incident.Status.CLOSED and incident.closed_at is not None
    assert transfer.outcome == ClinicianTransfer.Outcome.RESOLVED_BY_PHONE
    assert transfer.clinician == clinician
    assert PhoneContact.objects.get().notes.startswith("Talked him through it")
    assert not Assignment.objects.exists()
    change = incident.changes.get(kind=IncidentChange.Kind.STATUS)
    assert change.changes["resolution"] == [None, "resolved_by_phone"]
    assert change.actor == clinician
    event = Event.objects.filter(id__gt=events_before).get()
    assert event.type == EventType.INCIDENT_UPDATED and event.data["status"] == "closed"
    assert incident not in selectors.incident_queue(None)


def test_recording_a_contact_keeps_the_call_waiting(client, call_types, clinician):
    incident = pending_incident()
    services.incident_transfer_to_clinician(incident_id=incident.pk, actor=None)
    client.force_login(clinician)
    response = client.post(
        f"/dispatch/incidents/{incident.pk}/phone/",
        {"notes": "No answer, left a message", "action": "record"},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Incident.Status.PENDING
    assert incident.clinician_transfer.outcome == ClinicianTransfer.Outcome.OPEN
    assert incident.changes.filter(kind=IncidentChange.Kind.UPDATED).last().changes == {
        "phone_contact": [None, "No answer, left a message"]
    }
    assert "No answer, left a message" in client.get("/dispatch/console/clinician/").content.decode()


def test_a_phone_contact_needs_notes(client, call_types, clinician):
    incident = pending_incident()
    services.incident_transfer_to_clinician(incident_id=incident.pk, actor=None)
    client.force_login(clinician)
    response = client.post(
        f"/dispatch/incidents/{incident.pk}/phone/", {"notes": " ", "action": "resolve"}, **HTMX
    )
    assert response.status_code == 422
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.PENDING
    assert not PhoneContact.objects.exists()


@pytest.mark.parametrize("role", ["dispatcher", "supervisor"])
def test_only_clinicians_may_resolve_by_phone(client, personas, call_types, role):
    incident = pending_incident()
    services.incident_transfer_to_clinician(incident_id=incident.pk, actor=None)
    client.force_login(personas[role])
    response = client.post(
        f"/dispatch/incidents/{incident.pk}/phone/", {"notes": "done", "action": "resolve"}
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == Incident.Status.PENDING
    assert not PhoneContact.objects.exists()


def test_a_call_not_transferred_cannot_be_resolved_by_phone(client, call_types, clinician):
    incident = pending_incident()
    client.force_login(clinician)
    response = client.post(
        f"/dispatch/incidents/{incident.pk}/phone/", {"notes": "done", "action": "resolve"}, **HTMX
    )
    assert response.status_code == 409
    assert "not waiting in the clinicians" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.PENDING


def test_a_clinician_dispatches_a_team_instead(client, call_types, clinician, unit):
    incident = pending_incident()
    services.incident_transfer_to_clinician(incident_id=incident.pk, actor=None)
    client.force_login(clinician)
    response = client.post(f"/dispatch/incidents/{incident.pk}/assign/", {"unit": "CR-1"}, **HTMX)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ASSIGNED
    assert incident.clinician_transfer.outcome == ClinicianTransfer.Outcome.DISPATCHED
    assert not selectors.clinician_queue(None).exists()


# --- Alerts -------------------------------------------------------------------------------------
def test_a_dispatcher_acknowledges_an_alert(client, personas, unit):
    alert = services.alert_raise(kind=Alert.Kind.BACKUP, message="CR-1 asks for police backup", unit=unit)
    client.force_login(personas["dispatcher"])
    assert "CR-1 asks for police backup" in client.get("/dispatch/console/alerts/").content.decode()

    response = client.post(f"/dispatch/alerts/{alert.pk}/acknowledge/", **HTMX)

    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.acknowledged_by == personas["dispatcher"] and alert.acknowledged_at is not None
    assert Event.objects.filter(type=EventType.ALERT_CLEARED).count() == 1
    html = response.content.decode()
    assert "No open alerts." in html
    assert "Acknowledged: CR-1 asks for police backup" in html


def test_acknowledging_an_unknown_alert_is_not_found(client, personas):
    client.force_login(personas["dispatcher"])
    assert client.post("/dispatch/alerts/999999/acknowledge/").status_code == 404
