"""The program-data pages: who may see them, what they show, and the audited CSV exports."""

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.urls import reverse

from dispatch.models import ExportAudit
from tests.test_reports import build_dataset

DASHBOARD = reverse("reports:dashboard")
CALL_TYPES = reverse("reports:call_type_analysis")
EXPORT = reverse("reports:export")
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture(autouse=True)
def _a_day_in_june():
    """The hand-built dataset lies in March 2026 and meets "now" (a day is settled two days
    after it ends): the clock starts on a fixed day after it, and runs."""
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("America/Denver")), tick=True):
        yield


@pytest.fixture
def dataset(db):
    return build_dataset()


def signed_in(client, user):
    client.force_login(user)
    return client


def streamed(response) -> str:
    """The whole body of a streamed response, read the way an ASGI server reads it."""

    async def collect(chunks):
        return "".join([chunk.decode() async for chunk in chunks])

    return async_to_sync(collect)(response.streaming_content)


@pytest.mark.parametrize("role", ["dispatcher", "responder", "police_officer", "case_manager", "nobody"])
def test_only_supervisors_may_see_program_data(client, personas, role):
    signed_in(client, personas[role])
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(CALL_TYPES).status_code == 403
    assert client.post(EXPORT, {**MARCH, "kind": "incidents"}).status_code == 403
    assert not ExportAudit.objects.exists()


def test_anonymous_callers_are_sent_to_sign_in(client, db):
    for url in (DASHBOARD, CALL_TYPES):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_supervisor_sees_the_numbers_with_charts_beside_them(client, personas, dataset):
    response = signed_in(client, personas["supervisor"]).get(DASHBOARD, MARCH)
    assert response.status_code == 200
    page = response.content.decode()
    assert "50.0%" in page  # eligible calls served: 3 of 6
    assert "3 of 6 eligible calls reached on scene" in page
    assert "60.0%" in page  # police backup: 3 of 5 dispatched calls
    assert "1 min 30 s" in page  # received → dispatched median, 90 s
    assert (
        '<svg class="bars" role="img"' in page
        and '<title id="chart-source-title">Calls by source</title>' in page
    )
    assert "911: 6" in page  # the chart's description carries its numbers
    assert 'href="/dispatch/supervisor/data/"' in page  # the supervisor's nav link


def test_the_default_range_is_the_last_30_days(client, personas, db):
    response = signed_in(client, personas["supervisor"]).get(DASHBOARD)
    assert response.status_code == 200
    filters = response.context["filters"]
    assert (filters.end - filters.start).days == 29


def test_htmx_gets_the_report_alone(client, personas, dataset):
    response = signed_in(client, personas["supervisor"]).get(DASHBOARD, MARCH, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="report"') and "<html" not in body


def test_a_backwards_range_is_refused_with_a_reason(client, personas, db):
    response = signed_in(client, personas["supervisor"]).get(
        DASHBOARD, {"start": "2026-03-31", "end": "2026-03-01"}
    )
    assert response.status_code == 400
    assert "The last day must not be before the first." in response.content.decode()


def test_the_call_type_analysis_lists_each_code_with_its_disqualifiers(client, personas, dataset):
    response = signed_in(client, personas["supervisor"]).get(CALL_TYPES, MARCH)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["code"] for r in rows] == ["TRESPASS", "NOISE", "WELFARE", "ASSAULT"]
    assert "Credible threat of violence" in response.content.decode()


def test_the_plain_export_streams_a_csv_without_identifiers_and_is_recorded(client, personas, dataset):
    response = signed_in(client, personas["supervisor"]).post(EXPORT, {**MARCH, "kind": "incidents"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    body = streamed(response)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 10  # eight calls and two encounters received in March
    assert "caller_name" not in rows[0] and "address" not in rows[0]
    assert "Jane Caller" not in body and "303-555-0199" not in body and "100 Main St" not in body
    audit = ExportAudit.objects.get()
    assert (audit.kind, audit.with_identifiers, audit.user) == ("incidents", False, personas["supervisor"])


def test_the_identifier_export_includes_them_and_writes_an_audit_entry(client, personas, dataset):
    supervisor = personas["supervisor"]
    response = signed_in(client, supervisor).post(
        EXPORT, {**MARCH, "source": "911", "kind": "incidents", "identifiers": "on"}
    )
    assert response.status_code == 200
    assert "identified" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert len(rows) == 6  # the 911 calls
    assert {"Jane Caller"} <= {row["caller_name"] for row in rows}
    audit = ExportAudit.objects.get()
    assert audit.user == supervisor and audit.with_identifiers is True and audit.kind == "incidents"
    assert (audit.range_start.isoformat(), audit.range_end.isoformat()) == ("2026-03-01", "2026-03-31")
    assert audit.filters == {"source": "911"}


def test_assignment_and_outcome_exports_parse(client, personas, dataset):
    signed_in(client, personas["supervisor"])
    assignments = list(
        csv.DictReader(io.StringIO(streamed(client.post(EXPORT, {**MARCH, "kind": "assignments"}))))
    )
    assert len(assignments) == 7  # a1 a2 a3 a6 a7 and the two encounters'
    assert {row["unit"] for row in assignments} == {"CR-1", "CR-2"}
    assert any(row["on_scene_at"].endswith("-06:00") for row in assignments)  # in the program's zone
    outcomes = list(csv.DictReader(io.StringIO(streamed(client.post(EXPORT, {**MARCH, "kind": "outcomes"})))))
    assert len(outcomes) == 5 and "person_name" not in outcomes[0]
    assert ExportAudit.objects.count() == 2


def test_an_export_with_a_bad_kind_is_refused_and_not_recorded(client, personas, db):
    response = signed_in(client, personas["supervisor"]).post(EXPORT, {**MARCH, "kind": "people"})
    assert response.status_code == 400
    assert not ExportAudit.objects.exists()
    assert client.get(EXPORT, MARCH).status_code == 405


def test_the_number_of_queries_does_not_grow_with_the_data(client, personas, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    signed_in(client, personas["supervisor"])

    from dispatch.models import ReportSums

    def queries(url, **narrow):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, {**MARCH, **narrow}).status_code == 200
        return len(captured)

    def measure():
        """Nothing kept, then everything kept, then a filter (always read whole)."""
        ReportSums.objects.all().delete()
        return (queries(DASHBOARD), queries(DASHBOARD), queries(CALL_TYPES), queries(DASHBOARD, source="911"))

    empty = measure()
    build_dataset()
    assert measure() == empty


def test_a_program_that_withholds_identifier_exports_gets_neither_the_box_nor_the_export(
    client, personas, dataset, monkeypatch
):
    from dispatch import roles

    monkeypatch.setitem(roles.RULES, roles.Action.PROGRAM_DATA_IDENTIFIERS, frozenset())
    signed_in(client, personas["supervisor"])
    assert 'name="identifiers"' not in client.get(DASHBOARD, MARCH).content.decode()
    response = client.post(EXPORT, {**MARCH, "kind": "outcomes", "identifiers": "on"})
    assert response.status_code == 403
    assert not ExportAudit.objects.exists()
