"""The console's parts on their own: one call's row and one unit's row (what a live event
re-fetches), the alert bar with its urgent calls and its count, the unit board's backup and
acknowledgement, and the intake's address suggestions."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.models import Alert, Shift, Unit
from field import services as field_services
from tests import factories
from tests.test_geocoding import point

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def dispatcher(client, personas):
    client.force_login(personas["dispatcher"])
    return client


# --- One call's row ---------------------------------------------------------------------------
def test_a_calls_row_comes_alone_and_small(dispatcher, call_types):
    incident = factories.incident(narrative="x" * 10_000, priority=3)
    response = dispatcher.get(f"/dispatch/console/incidents/{incident.pk}/row/")
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tbody id="incident-{incident.pk}"')
    assert 'data-sort="03' in html and 'data-lat="39.74"' in html
    # The row says what decides the call; the narrative waits in the details.
    assert "x" * 100 not in html
    assert len(response.content) < 5_000


def test_a_calls_row_brings_its_details_when_the_page_has_them_open(dispatcher, call_types):
    incident = factories.incident()
    html = dispatcher.get(f"/dispatch/console/incidents/{incident.pk}/row/?details=1").content.decode()
    assert 'aria-expanded="true"' in html and "Reason to send a team anyway" not in html
    assert "Cancel call" in html


def test_a_call_no_longer_open_answers_a_row_marked_gone(dispatcher, call_types):
    incident = factories.incident()
    services.incident_cancel(incident=incident, actor=None)
    html = dispatcher.get(f"/dispatch/console/incidents/{incident.pk}/row/").content.decode()
    assert (
        html == f'<tbody id="incident-{incident.pk}" data-incident="{incident.pk}" data-gone="true"></tbody>'
    )


def test_the_details_of_an_unknown_call_are_not_found(dispatcher):
    assert (
        dispatcher.get(
            f"/dispatch/console/incidents/{'0' * 8}-0000-0000-0000-{'0' * 12}/details/"
        ).status_code
        == 404
    )


def test_the_queue_row_sort_keys_follow_the_queue_order(dispatcher, call_types):
    now = timezone.now()
    factories.incident(priority=None, received_at=now - timedelta(hours=1), address="none")
    factories.incident(priority=2, received_at=now, address="p2")
    factories.incident(call_type="ASSAULT", priority=1, address="ineligible")
    html = dispatcher.get("/dispatch/console/queue/").content.decode()
    keys = [chunk.split('"')[0] for chunk in html.split('data-sort="')[1:]]
    assert keys == sorted(keys)
    assert [html.index(a) for a in ("p2", ">none<", "ineligible")] == sorted(
        html.index(a) for a in ("p2", ">none<", "ineligible")
    )


# --- The unit board ------------------------------------------------------------------------------
def test_a_units_row_shows_status_acknowledgement_and_position_age(dispatcher, call_types, personas):
    unit = factories.UnitFactory(
        callsign="CR-4", latitude=39.74, longitude=-104.99, location_at=timezone.now() - timedelta(minutes=3)
    )
    Shift.objects.create(unit=unit, user=personas["responder"], started_at=timezone.now())
    assignment = services.assignment_create(incident_id=factories.incident().pk, callsign="CR-4", actor=None)
    html = dispatcher.get("/dispatch/console/units/CR-4/row/").content.decode()
    assert '<span class="status-chip status-dispatched">Dispatched</span>' in html
    assert "Not acknowledged" in html
    assert 'data-on-shift="1"' in html and 'data-lat="39.74"' in html
    assert "3 min</time> old" in html
    services.assignment_acknowledge(assignment_id=assignment.pk, actor=personas["responder"])
    assert "Acknowledged" in dispatcher.get("/dispatch/console/units/CR-4/row/").content.decode()


def test_every_status_has_its_own_colour_on_the_board(dispatcher):
    for status in Unit.Status.values:
        factories.UnitFactory(callsign=f"U-{status}", status=status)
    html = dispatcher.get("/dispatch/console/units/").content.decode()
    for status in Unit.Status.values:
        assert f'class="status-chip status-{status}"' in html
    css = (Path(__file__).parent.parent / "static/css/console.css").read_text().splitlines()
    colours = {
        status: next(line.split("{")[1].strip() for line in css if line.startswith(f".status-{status} {{"))
        for status in Unit.Status.values
    }
    assert len(set(colours.values())) == len(colours), "two statuses share a colour"


def test_a_backup_request_shows_on_its_units_row_until_help_is_acknowledged_and_after(dispatcher, personas):
    unit = factories.UnitFactory(callsign="CR-2")
    backup = field_services.backup_request(
        user=personas["responder"], unit_id=unit.pk, kind="police", urgent=True
    )
    html = dispatcher.get("/dispatch/console/units/CR-2/row/").content.decode()
    assert "Backup requested: police, urgent" in html and 'data-backup="open"' in html
    assert "has-backup" in html
    services.alert_acknowledge(alert_id=backup.alert_id, actor=personas["dispatcher"])
    html = dispatcher.get("/dispatch/console/units/CR-2/row/").content.decode()
    # No assignment it belongs to: once acknowledged it has done its work.
    assert "Backup" not in html


def test_an_acknowledged_backup_stays_on_the_row_while_its_call_goes_on(dispatcher, personas, call_types):
    unit = factories.UnitFactory(callsign="CR-3")
    services.assignment_create(incident_id=factories.incident().pk, callsign="CR-3", actor=None)
    backup = field_services.backup_request(
        user=personas["responder"], unit_id=unit.pk, kind="ems", urgent=False
    )
    services.alert_acknowledge(alert_id=backup.alert_id, actor=personas["dispatcher"])
    html = dispatcher.get("/dispatch/console/units/CR-3/row/").content.decode()
    assert "Backup acknowledged: EMS" in html and 'data-backup="acknowledged"' in html


def test_an_unknown_units_row_is_marked_gone(dispatcher):
    assert (
        dispatcher.get("/dispatch/console/units/NOPE/row/").content
        == b'<tr data-unit="NOPE" data-gone="true"></tr>'
    )


# --- The alert bar -----------------------------------------------------------------------------
def test_the_alert_bar_puts_urgent_alerts_first_then_urgent_calls_then_the_rest(dispatcher, call_types):
    routine = services.alert_raise(kind=Alert.Kind.BACKUP, message="CR-5 requests EMS backup.")
    urgent = services.alert_raise(
        kind=Alert.Kind.BACKUP, message="CR-1 requests URGENT police backup.", urgent=True
    )
    call = factories.incident(priority=1, address="800 Lincoln St")
    factories.incident(priority=2, address="not urgent")
    html = dispatcher.get("/dispatch/console/alerts/").content.decode()
    assert f'data-keys="alert-{urgent.pk}! call-{call.pk}! alert-{routine.pk} "' in html
    assert 'data-count="3"' in html and "New urgent call" in html and "not urgent" not in html


def test_the_page_title_counts_what_the_bar_holds(dispatcher, call_types):
    services.alert_raise(kind=Alert.Kind.ACK_OVERDUE, message="CR-1 has not acknowledged", urgent=True)
    assert "<title>(1) Dispatch · Community response</title>" in dispatcher.get("/dispatch/").content.decode()


def test_an_urgent_call_leaves_the_bar_once_a_team_is_sent(dispatcher, call_types):
    call = factories.incident(priority=1)
    factories.UnitFactory(callsign="CR-1")
    services.assignment_create(incident_id=call.pk, callsign="CR-1", actor=None)
    assert "New urgent call" not in dispatcher.get("/dispatch/console/alerts/").content.decode()


def test_seen_takes_an_urgent_call_off_this_dispatchers_bar_only(dispatcher, client, personas, call_types):
    call = factories.incident(priority=1)
    response = dispatcher.post(f"/dispatch/incidents/{call.pk}/seen/", **HTMX)
    assert response.status_code == 200
    assert "New urgent call" not in response.content.decode()
    assert "New urgent call" not in dispatcher.get("/dispatch/console/alerts/").content.decode()
    from django.test import Client

    colleague = Client()
    colleague.force_login(personas["supervisor"])
    assert "New urgent call" in colleague.get("/dispatch/console/alerts/").content.decode()


def test_acknowledging_from_the_bar_refreshes_the_units_row(dispatcher, personas):
    unit = factories.UnitFactory(callsign="CR-6")
    backup = field_services.backup_request(
        user=personas["responder"], unit_id=unit.pk, kind="police", urgent=True
    )
    response = dispatcher.post(f"/dispatch/alerts/{backup.alert_id}/acknowledge/", **HTMX)
    assert response.status_code == 200
    assert '"units": ["CR-6"]' in response["HX-Trigger"]
    assert "No open alerts." in response.content.decode()


# --- Intake: address suggestions -----------------------------------------------------------------
def test_the_intake_suggests_known_addresses_as_the_call_taker_types(dispatcher):
    point("1550 Court Pl", 39.7431, -104.9878)
    point("1500 Larimer St", 39.7488, -104.9982)
    response = dispatcher.get("/dispatch/console/addresses/suggest/", {"address": "15"})
    assert (
        response.content.decode()
        == '<option value="1500 Larimer St"></option><option value="1550 Court Pl"></option>'
    )
    form = dispatcher.get("/dispatch/").content.decode()
    assert 'list="address-suggestions"' in form and 'hx-get="/dispatch/console/addresses/suggest/"' in form


@pytest.mark.parametrize("role", ["responder", "police_officer", "case_manager"])
def test_address_suggestions_are_for_call_takers_only(client, personas, role):
    client.force_login(personas[role])
    assert client.get("/dispatch/console/addresses/suggest/", {"address": "15"}).status_code == 403
