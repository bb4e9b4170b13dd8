"""State-level program data: the same definitions for every program side by side, each
program's numbers from its own calls, its days drawn on its own clock (and its kept sums kept
honest in that zone); and each program's dashboard in its own time zone."""

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dispatch.models import Incident
from dispatch.programs import first_program
from dispatch.reports import engine, sections, sums
from dispatch.reports.sums import range_totals
from dispatch.services import IncidentFields, incident_create
from referrals.models import ContactAttempt, FollowUp
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


# --- Every program read together (issue 17) -------------------------------------------------------
# The side by side reads every program's sums in one pass: the kept sums, the day cells and
# today's records of all of them in one set of queries. Each program's numbers must be exactly
# those its own dashboard reads, and the queries must not grow with the programs.
SPRING = {"start": "2026-03-01", "end": "2026-06-01"}  # three kept months, yesterday's cells, today


def _history(program, n: int, user) -> None:
    """n of each kind of record of `program`, on settled days, yesterday and today (1 June, noon
    in Denver when the tests run): calls with every step, a police backup, an outcome, an
    encounter, follow-ups (of a call, and of no call) with attempts, police referrals."""
    from field.models import BackupRequest
    from tests.test_reports import _assign, _incident, _outcome, _referral

    unit = factories.UnitFactory(callsign=f"{program.slug[:6].upper()}-{n}", program=program)
    days = (AT_THE_TURN, datetime(2026, 4, 20, 23, 30, tzinfo=UTC), datetime(2026, 5, 31, 15, 0, tzinfo=UTC))
    today = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 09:00 in Denver, 11:00 in New York
    for i, moment in enumerate((*days, today)):
        for j in range(n):
            at = moment + timedelta(minutes=7 * j)
            call = _incident(at, program=program, source=("911", "988")[j % 2], eligible=j % 3 != 2)
            step = 40 * (i + 1) + 13 * j
            assignment = _assign(
                call, unit, dispatched=step, en_route=2 * step, on_scene=5 * step, cleared=40 * step
            )
            _outcome(assignment, user, "resolved_on_scene", police=("none", "backup_requested")[j % 2])
            if j % 2:
                BackupRequest.objects.create(
                    unit=unit, assignment=assignment, kind="police", requested_by=user, requested_at=at
                )
            _incident(at, program=program, code="TRESPASS", eligible=False)  # never sent
            encounter = _incident(at, program=program, source="self_initiated")
            _assign(encounter, unit, dispatched=0, on_scene=30, cleared=900 + step)
            for incident in (call, None):
                follow_up = FollowUp.objects.create(
                    program=program,
                    incident=incident,
                    service_type="housing",
                    consent=True,
                    status=("open", "connected")[j % 2],
                    due_at=at + FollowUp.DEFAULT_DUE,
                )
                FollowUp.objects.filter(pk=follow_up.pk).update(created_at=at)
                ContactAttempt.objects.create(
                    follow_up=follow_up,
                    at=at + timedelta(seconds=300 + step),
                    method="phone",
                    result="reached",
                )
            _referral(user, at, ("now", "today")[j % 2], "dispatch", program=program)


def _scopes(programs) -> list[engine.ReportFilters]:
    return [
        engine.ReportFilters(date(2026, 3, 1), date(2026, 6, 1), **engine.ReportFilters.program_scope(p))
        for p in programs
    ]


def _from_records(filters: engine.ReportFilters) -> engine.Totals:
    """The program's range read from its records alone: no cell, no kept sum."""
    totals = engine.Totals()
    for day_totals in engine._Reader(filters, [filters.bounds()]).read().values():
        totals.add(day_totals)
    return totals


@pytest.fixture
def programs(state):
    """Four programs on two clocks: Denver's (the first, and one with no data at all) and New
    York's (two), each with its own amount of history."""
    from django.core.management import call_command

    user = factories.UserFactory(username="recorder")
    northern = factories.ProgramFactory(slug="north-care", time_zone="America/New_York")
    quiet = factories.ProgramFactory(slug="quiet-care", time_zone="America/Denver")
    for n, program in enumerate((state["denver"], state["eastern"], northern), start=1):
        _history(program, n, user)
    call_command("build_report_cells", stdout=StringIO())
    return [state["denver"], state["eastern"], northern, quiet]


def test_every_program_read_together_has_exactly_the_numbers_of_its_own_dashboard(programs):
    scopes = _scopes(programs)
    truth = [_from_records(filters) for filters in scopes]
    # 1 March is 28 February in Denver: the first program has three of its four days in range.
    assert [sum(t.sources.values()) for t in truth] == [6, 16, 24, 0]
    assert truth[3] == engine.Totals()
    # Nothing kept yet: the settled days from their cells, today from the records.
    assert sums.programs_range_totals(scopes) == truth
    # Kept now: the months and days just added up, for each program.
    assert sums.programs_range_totals(scopes) == truth
    assert [range_totals(filters) for filters in scopes] == truth
    together = sections.programs_measures(scopes)
    assert together == [sections.program_measures(filters) for filters in scopes]
    assert [values["calls"]["value"] for values in together] == [6, 16, 24, 0]


def test_a_change_to_one_programs_kept_day_is_read_again_for_that_program_only(programs):
    scopes = _scopes(programs)
    sums.programs_range_totals(scopes)  # everything kept
    # 1 March in New York, 28 February in Denver: the eastern program's day, marked again.
    call = Incident.objects.get(
        program=programs[1], source="988", received_at=AT_THE_TURN + timedelta(minutes=7)
    )
    call.source = "non_emergency"  # the CAD corrects it
    call.save()
    truth = [_from_records(filters) for filters in scopes]
    assert sums.programs_range_totals(scopes) == truth
    assert truth[1].sources["988"] == 3 and truth[1].sources["non_emergency"] == 1


def test_a_record_of_today_counts_at_once_for_its_program(programs):
    scopes = _scopes(programs)
    before = sections.programs_measures(scopes)
    _call(programs[3], received_at=datetime(2026, 6, 1, 17, 0, tzinfo=UTC))  # 11:00 in Denver
    after = sections.programs_measures(scopes)
    assert [values["calls"]["value"] for values in after] == [6, 16, 24, 1]
    assert after[:3] == before[:3]
    assert sums.programs_range_totals(scopes) == [_from_records(filters) for filters in scopes]


def test_the_programs_side_by_side_take_as_many_queries_for_six_programs_as_for_two(client, state):
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = factories.UserFactory(username="recorder")
    client.force_login(state["state_sup"])

    def warm_render() -> int:
        call_command("build_report_cells", stdout=StringIO())
        assert client.get("/dispatch/supervisor/data/programs/", SPRING).status_code == 200  # keeps
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/dispatch/supervisor/data/programs/", SPRING)
        assert response.status_code == 200
        return len(captured)

    _history(state["denver"], 1, user)
    _history(state["eastern"], 2, user)
    two = warm_render()
    for n, zone in enumerate(("America/Denver", "America/New_York") * 2, start=3):
        _history(factories.ProgramFactory(slug=f"more-{n}", time_zone=zone), n, user)
    assert warm_render() == two
