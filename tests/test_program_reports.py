"""State-level program data: the same definitions for every program side by side, each
program's numbers from its own calls, its days drawn on its own clock (and its kept sums kept
honest in that zone); and each program's dashboard in its own time zone."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dispatch.models import Incident
from dispatch.programs import first_program
from dispatch.reports import engine, sections
from dispatch.reports.sums import range_totals
from dispatch.services import IncidentFields, incident_create
from tests import factories

UTC = ZoneInfo("UTC")
# 05:30 UTC on 1 March 2026: still 28 February (22:30) in Denver, already 1 March (00:30) in New York.
AT_THE_TURN = datetime(2026, 3, 1, 5, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _a_day_in_june():
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("America/Denver")), tick=True):
        yield


@pytest.fixture
def state(db, call_types):
    denver = first_program()  # the deployment's first, on America/Denver
    eastern = factories.ProgramFactory(slug="east-care", name="East CARE", time_zone="America/New_York")
    return {
        "denver": denver,
        "eastern": eastern,
        "state_sup": factories.UserFactory(username="ssup", roles=["supervisor"], roles__statewide=True),
        "denver_sup": factories.UserFactory(username="dsup", roles=["supervisor"], roles__program=denver),
        "dispatcher": factories.UserFactory(username="d9", roles=["dispatcher"], roles__statewide=True),
    }


def _call(program, received_at=AT_THE_TURN, **overrides) -> Incident:
    values = dict(
        source="911",
        call_type_code="WELFARE",
        received_at=received_at,
        address="1 Main St",
        screen_weapons=False,
        screen_violence=False,
        screen_medical_emergency=False,
        screen_police_only=False,
    )
    values.update(overrides)
    return incident_create(fields=IncidentFields(**values), actor=None, program=program, geocode=False)


def _march(program) -> engine.ReportFilters:
    return engine.ReportFilters(
        date(2026, 3, 1), date(2026, 3, 31), **engine.ReportFilters.program_scope(program)
    )


def test_a_programs_days_are_drawn_in_its_own_time_zone(state):
    _call(state["denver"])
    _call(state["eastern"])
    assert sections.program_measures(_march(state["eastern"]))["calls"]["value"] == 1
    assert sections.program_measures(_march(state["denver"]))["calls"]["value"] == 0
    february = engine.ReportFilters(
        date(2026, 2, 1), date(2026, 2, 28), **engine.ReportFilters.program_scope(state["denver"])
    )
    assert sections.program_measures(february)["calls"]["value"] == 1
    low, _high = _march(state["eastern"]).bounds()
    assert low == datetime(2026, 3, 1, tzinfo=ZoneInfo("America/New_York"))


def test_a_change_to_a_kept_day_of_a_program_on_another_clock_is_seen(state):
    """1 March is settled and kept for the eastern program; a call of that day (28 February in
    the deployment's zone) cancelled afterwards must raise the eastern 1 March, not only the
    deployment's 28 February."""
    call = _call(state["eastern"])
    one_day = engine.ReportFilters(
        date(2026, 3, 1), date(2026, 3, 1), **engine.ReportFilters.program_scope(state["eastern"])
    )
    assert range_totals(one_day).sources["911"] == 1  # read, and kept (the day is settled)
    call.source = "988"
    call.save()
    again = range_totals(one_day)
    assert again.sources == {"988": 1}


def test_the_state_supervisor_sees_every_program_side_by_side_with_the_same_definitions(client, state):
    _call(state["eastern"])
    _call(state["eastern"], received_at=AT_THE_TURN + timedelta(days=2), screen_weapons=True)
    _call(state["denver"], received_at=AT_THE_TURN + timedelta(days=3))
    client.force_login(state["state_sup"])
    response = client.get("/dispatch/supervisor/data/programs/", {"start": "2026-03-01", "end": "2026-03-31"})
    assert response.status_code == 200
    html = response.content.decode()
    calls_row = html[html.index('<tr data-measure="calls">') :]
    calls_row = calls_row[: calls_row.index("</tr>")]
    assert '<td data-program="east-care">2' in calls_row
    assert f'<td data-program="{state["denver"].slug}">1' in calls_row
    for key in ("eligible_served", "backup_rate", "follow_up_connection", "duration:received_to_on_scene"):
        assert f'data-measure="{key}"' in html
    assert "America/New_York: from 2026-03-01T00:00:00-05:00" in html
    assert "America/Denver: from 2026-03-01T00:00:00-07:00" in html


def test_a_program_supervisor_sees_only_their_programs_column(client, state):
    _call(state["eastern"])
    client.force_login(state["denver_sup"])
    html = client.get("/dispatch/supervisor/data/programs/").content.decode()
    assert "east-care" not in html and "East CARE" not in html
    assert f'data-program="{state["denver"].slug}"' in html


def test_roles_that_may_not_read_program_data_get_403(client, state, personas):
    for user in [state["dispatcher"], personas["case_manager"], personas["responder"], personas["nobody"]]:
        client.force_login(user)
        assert client.get("/dispatch/supervisor/data/programs/").status_code == 403


def test_a_bad_range_is_a_400_with_the_reason(client, state):
    client.force_login(state["state_sup"])
    response = client.get("/dispatch/supervisor/data/programs/", {"start": "2026-03-31", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "must not be before" in response.content.decode()


def test_each_programs_dashboard_is_on_its_own_clock(client, state):
    _call(state["eastern"])
    client.force_login(state["state_sup"])
    response = client.get(
        "/dispatch/supervisor/data/", {"program": "east-care", "start": "2026-03-01", "end": "2026-03-01"}
    )
    assert response.status_code == 200
    assert response.context["data"]["calls"]["total"] == 1
    assert "America/New_York" in response.content.decode()
    response = client.get(
        "/dispatch/supervisor/data/",
        {"program": state["denver"].slug, "start": "2026-03-01", "end": "2026-03-01"},
    )
    assert response.context["data"]["calls"]["total"] == 0


def test_a_program_supervisor_cannot_ask_for_another_programs_dashboard(client, state):
    _call(state["eastern"])
    client.force_login(state["denver_sup"])
    response = client.get(
        "/dispatch/supervisor/data/", {"program": "east-care", "start": "2026-03-01", "end": "2026-03-31"}
    )
    # Their only program is read whatever is asked: nothing of the other program shows.
    assert response.status_code == 200
    assert response.context["data"]["calls"]["total"] == 0
    assert "East CARE" not in response.content.decode()
