"""The dashboard over time: the range week by week, from the days' kept sums, and one month
on one printed page."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse

from dispatch.programs import first_program
from dispatch.reports import engine, sections
from tests.test_reports import MARCH, ZONE, build_dataset

DASHBOARD = reverse("reports:dashboard")
MONTH = reverse("reports:month")


@pytest.fixture
def dataset(db):
    return build_dataset()


def test_march_runs_in_weeks_from_monday_cut_at_the_edges(dataset):
    weeks = sections.weekly_trend(MARCH)
    assert [(w["first"], w["last"], w["whole"]) for w in weeks][:2] == [
        (date(2026, 3, 1), date(2026, 3, 1), False),  # a Sunday
        (date(2026, 3, 2), date(2026, 3, 8), True),
    ]
    assert weeks[-1]["first"] == date(2026, 3, 30) and weeks[-1]["last"] == date(2026, 3, 31)
    assert len(weeks) == 6


def test_the_weeks_add_up_to_the_month(dataset):
    weeks = sections.weekly_trend(MARCH)
    calls = sections.calls_summary(MARCH)
    assert sum(w["calls"] for w in weeks) == calls["total"] == 8
    assert sum(w["eligible"] for w in weeks) == calls["eligible"]
    assert sum(w["eligible_served"] for w in weeks) == calls["eligible_served"]
    by_source = {}
    for week in weeks:
        for label, n in week["by_source"]:
            by_source[label] = by_source.get(label, 0) + n
    assert sorted(by_source.items()) == sorted(calls["by_source"])


def test_a_weeks_response_times_are_those_of_that_week_as_a_range(dataset):
    week = next(w for w in sections.weekly_trend(MARCH) if w["calls"] and w["whole"])
    alone = engine.ReportFilters(start=week["first"], end=week["last"])
    measured = {row["key"]: row for row in sections.response_times(alone)}["received_to_on_scene"]
    assert week["response"] == {k: measured[k] for k in ("count", "median", "p90")}
    assert week["response"]["count"] == 4


def test_the_weeks_are_read_from_the_kept_days_the_second_time(dataset):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = sections.weekly_trend(MARCH)
    with CaptureQueriesContext(connection) as queries:
        again = sections.weekly_trend(MARCH)
    assert again == first
    tables = ("incident", "assignment", "outcome", "followup", "policereferral", "backuprequest")
    assert [q["sql"] for q in queries if any(f"_{t}" in q["sql"] for t in tables)] == []


def test_the_dashboard_shows_the_weekly_trend_with_numbers_beside_the_bars_and_no_second_table(
    client, personas, dataset
):
    client.force_login(personas["supervisor"])
    page = client.get(DASHBOARD, {"start": "2026-03-01", "end": "2026-03-31"}).content.decode()
    assert "Week by week" in page
    for title in (
        "Calls per week, by source",
        "Received → on scene, per week",
        "Eligible calls served, per week",
    ):
        assert f">{title}</title>" in page, title
    assert "Mar 9–15" in page and "Mar 1 (part)" in page
    assert 'class="chart-numbers"' not in page  # the numbers sit beside the bars, once


def test_the_monthly_report_is_one_month_for_supervisors_only(client, personas, dataset):
    client.force_login(personas["supervisor"])
    response = client.get(MONTH, {"month": "2026-03"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Community response · March 2026" in page
    # The supervisor's numbers are of their program (the deployment's first).
    mine = (first_program().pk,)
    assert response.context["filters"] == engine.ReportFilters(
        date(2026, 3, 1), date(2026, 3, 31), program_ids=mine
    )
    assert "report_print.css" in page and "data-print" in page
    assert client.get(MONTH, {"month": "March"}).status_code == 400
    future = (engine.program_today().replace(day=1) + timedelta(days=40)).strftime("%Y-%m")
    assert client.get(MONTH, {"month": future}).status_code == 400
    for role in ("dispatcher", "case_manager", "police_officer"):
        client.force_login(personas[role])
        assert client.get(MONTH, {"month": "2026-03"}).status_code == 403, role


def test_the_month_under_way_runs_to_today_and_says_so(client, personas, db):
    import time_machine

    client.force_login(personas["supervisor"])
    with time_machine.travel(datetime(2026, 3, 15, 12, 0, tzinfo=ZONE), tick=False):
        response = client.get(MONTH, {"month": "2026-03"})
    assert response.context["filters"] == engine.ReportFilters(
        date(2026, 3, 1), date(2026, 3, 15), program_ids=(first_program().pk,)
    )
    assert "(month under way)" in response.content.decode()


def test_without_a_month_the_report_is_the_last_whole_month(client, personas, db):
    client.force_login(personas["supervisor"])
    filters = client.get(MONTH).context["filters"]
    first_of_this_month = engine.program_today().replace(day=1)
    assert filters.end == first_of_this_month - timedelta(days=1)
    assert filters.start == filters.end.replace(day=1)
