"""The program's numbers (dispatch.reports) against a small hand-built dataset whose answers are
worked out here, line by line. Times are in the program's zone (America/Denver, UTC−6 in
mid-March 2026 after the DST change)."""

import dataclasses
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import F

from dispatch.models import Assignment, Incident
from dispatch.programs import first_program
from dispatch.reports import engine, sections, sums
from field.models import BackupRequest, Outcome
from referrals.models import ContactAttempt, FollowUp, PoliceReferral
from tests.factories import UnitFactory, UserFactory

ZONE = ZoneInfo("America/Denver")
T0 = datetime(2026, 3, 15, 10, 0, tzinfo=ZONE)
MARCH = engine.ReportFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))


def _incident(received_at, *, code="WELFARE", source="911", eligible=True, reasons=(), **extra):
    extra.setdefault("program", first_program())
    return Incident.objects.create(
        source=source,
        call_type_code=code,
        received_at=received_at,
        address="100 Main St",
        eligible=eligible,
        eligibility_reasons=list(reasons),
        **extra,
    )


def _assign(
    incident,
    unit,
    *,
    dispatched,
    en_route=None,
    on_scene=None,
    transporting=None,
    cleared=None,
    cancelled=None,
    destination="",
):
    """Offsets in seconds from the incident's received_at."""

    def at(offset):
        return None if offset is None else incident.received_at + timedelta(seconds=offset)

    status = "cancelled" if cancelled is not None else "cleared" if cleared is not None else "on_scene"
    return Assignment.objects.create(
        incident=incident,
        unit=unit,
        status=status,
        dispatched_at=at(dispatched),
        acknowledged_at=at(dispatched),
        en_route_at=at(en_route),
        on_scene_at=at(on_scene),
        transporting_at=at(transporting),
        cleared_at=at(cleared),
        cancelled_at=at(cancelled),
        transport_destination=destination,
    )


def _outcome(assignment, user, disposition, *, police="none", destination="", self_initiated=False):
    return Outcome.objects.create(
        assignment=assignment,
        self_initiated=self_initiated,
        disposition=disposition,
        police_involvement=police,
        transport_destination=destination,
        recorded_by=user,
        recorded_at=assignment.cleared_at or assignment.on_scene_at,
    )


def _follow_up(created_at, status, *, close_reason="", incident=None, attempts=()):
    follow_up = FollowUp.objects.create(
        program=first_program(),
        incident=incident,
        service_type="housing",
        consent=True,
        status=status,
        close_reason=close_reason,
        due_at=created_at + FollowUp.DEFAULT_DUE,
    )
    FollowUp.objects.filter(pk=follow_up.pk).update(created_at=created_at)  # auto_now_add on create
    for offset in attempts:
        ContactAttempt.objects.create(
            follow_up=follow_up, at=created_at + timedelta(seconds=offset), method="phone", result="no_answer"
        )
    return follow_up


def _referral(user, created_at, urgency, state, program=None):
    referral = PoliceReferral.objects.create(
        program=program or first_program(),
        filed_by=user,
        urgency=urgency,
        call_type_code="WELFARE",
        address="1 Elm St",
        situation="Sitting in rain",
        officer_name="Officer Lee",
        officer_callback="555-0100",
        consent_to_contact=True,
        state=state,
    )
    PoliceReferral.objects.filter(pk=referral.pk).update(created_at=created_at)
    return referral


def build_dataset():
    """Eight calls and two encounters in March, and calls just outside it. See the tests for the sums."""
    user = UserFactory(username="recorder")
    u1, u2 = UnitFactory(callsign="CR-1"), UnitFactory(callsign="CR-2")
    h = timedelta(hours=1)
    c1 = _incident(T0, caller_name="Jane Caller", caller_phone="303-555-0199")
    a1 = _assign(c1, u1, dispatched=60, en_route=90, on_scene=600, cleared=1800)
    _outcome(a1, user, "resolved_on_scene")
    BackupRequest.objects.create(unit=u1, assignment=a1, kind="ems", requested_by=user, requested_at=T0)
    c2 = _incident(T0 + h, source="988")
    a2 = _assign(
        c2,
        u2,
        dispatched=120,
        en_route=180,
        on_scene=900,
        transporting=1500,
        cleared=2700,
        destination="Shelter",
    )
    _outcome(a2, user, "transported_shelter", police="backup_requested", destination="Shelter")
    c3 = _incident(T0 + 2 * h, code="TRESPASS")
    _assign(c3, u1, dispatched=30, en_route=60, cancelled=300)
    _incident(T0 + 3 * h, code="TRESPASS", source="non_emergency")  # c4: never sent
    _incident(
        T0 + 4 * h, code="ASSAULT", eligible=False, reasons=["violence", "call_type_not_eligible"]
    )  # c5
    c6 = _incident(T0 + 5 * h, eligible=False, reasons=["weapons", "screening_incomplete"])
    a6 = _assign(c6, u2, dispatched=240, en_route=300, on_scene=1200, cleared=1500)
    _outcome(a6, user, "police_took_over", police="arrest")
    BackupRequest.objects.create(unit=u2, assignment=a6, kind="police", requested_by=user, requested_at=T0)
    c7 = _incident(T0 + 6 * h)
    a7 = _assign(c7, u1, dispatched=90, en_route=120, on_scene=420, cleared=1020)
    _outcome(a7, user, "referred")
    BackupRequest.objects.create(
        unit=u1, assignment=a7, kind="police", urgent=True, requested_by=user, requested_at=T0
    )
    _incident(datetime(2026, 3, 31, 23, 50, tzinfo=ZONE), code="NOISE")  # c10: the last evening counts
    # Outside March, on both edges: never counted.
    early = _incident(datetime(2026, 2, 28, 23, 30, tzinfo=ZONE))
    _outcome(
        _assign(early, u1, dispatched=10, en_route=20, on_scene=30, cleared=40),
        user,
        "refused",
        police="arrest",
    )
    late = _incident(datetime(2026, 4, 1, 0, 10, tzinfo=ZONE), source="988")
    _assign(late, u2, dispatched=5000, en_route=5001, on_scene=9000, cleared=9999)
    # Self-initiated encounters: counted apart.
    e1 = _incident(
        T0 + 7 * h, code="PROACTIVE", source="self_initiated", eligible=False, reasons=["unknown_call_type"]
    )
    ae1 = _assign(e1, u1, dispatched=0, on_scene=0, cleared=1200)
    _outcome(ae1, user, "resolved_on_scene", police="arrest", self_initiated=True)
    e2 = _incident(
        T0 + 8 * h, code="PROACTIVE", source="self_initiated", eligible=False, reasons=["unknown_call_type"]
    )
    _assign(e2, u2, dispatched=0, on_scene=0)
    # Follow-ups created in March, and one in February.
    _follow_up(T0, "connected", incident=c2, attempts=(7200, 18000))
    _follow_up(T0 + h, "closed", close_reason="engaged", incident=c7, attempts=(14400,))
    _follow_up(T0, "closed", close_reason="declined", incident=c1, attempts=(36000,))
    _follow_up(T0, "open", incident=c1)
    _follow_up(datetime(2026, 2, 10, tzinfo=ZONE), "connected", attempts=(60,))
    # Police referrals.
    _referral(user, T0, "now", "dispatch")
    _referral(user, T0, "later", "queued")
    _referral(user, T0 + h, "later", "finished")
    _referral(user, datetime(2026, 4, 2, tzinfo=ZONE), "later", "queued")
    return {"user": user, "u1": u1, "u2": u2}


@pytest.fixture(autouse=True)
def _a_day_in_june():
    """The hand-built dataset lies in March 2026 and meets "now" (a day is settled two days
    after it ends): the clock starts on a fixed day after it, and runs."""
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("America/Denver")), tick=True):
        yield


@pytest.fixture
def dataset(db):
    return build_dataset()


def spread(rows, key):
    row = next(r for r in rows if r["key"] == key)
    return row["count"], row["median"], row["p90"]


def test_percentile_cont_interpolates_like_postgresql():
    assert engine.percentile_cont([], 0.5) is None
    assert engine.percentile_cont([7.0], 0.9) == 7.0
    # position 0.9 × (5 − 1) = 3.6: 120 + 0.6 × (240 − 120)
    assert engine.percentile_cont([30, 60, 90, 120, 240], 0.9) == pytest.approx(192)
    assert engine.percentile_cont([330, 540, 780, 960], 0.5) == pytest.approx(660)


def test_it_counts_calls_by_source_and_type_and_the_share_of_eligible_calls_served(dataset):
    calls = sections.calls_summary(MARCH)
    # c1..c7 and c10; the February and April calls and both encounters are out.
    assert calls["total"] == 8
    assert dict(calls["by_source"]) == {"911": 6, "988": 1, "Non-emergency line": 1}
    assert dict(calls["by_call_type"]) == {"WELFARE": 4, "TRESPASS": 2, "ASSAULT": 1, "NOISE": 1}
    # Eligible: c1 c2 c3 c4 c7 c10. Reached on scene: c1 c2 c7 (c3 was cancelled, c6 is not eligible).
    assert calls["eligible"] == 6
    assert calls["eligible_served"] == 3
    assert calls["served_share"] == pytest.approx(0.5)
    assert calls["dispatched"] == 5  # c1 c2 c3 c6 c7
    assert calls["served"] == 4  # c1 c2 c6 c7


def test_it_measures_each_response_time_definition_with_median_and_90th_percentile(dataset):
    rows = sections.response_times(MARCH)
    # received → dispatched over a1 a2 a3 a6 a7: [30, 60, 90, 120, 240]
    assert spread(rows, "received_to_dispatched") == (5, pytest.approx(90), pytest.approx(192))
    # dispatched → on scene: a1 540, a2 780, a6 960, a7 330 → median (540+780)/2, p90 780 + 0.7 × 180
    assert spread(rows, "dispatched_to_on_scene") == (4, pytest.approx(660), pytest.approx(906))
    # en route → on scene: 510, 720, 900, 300
    assert spread(rows, "en_route_to_on_scene") == (4, pytest.approx(615), pytest.approx(846))
    # received → on scene: 600, 900, 1200, 420
    assert spread(rows, "received_to_on_scene") == (4, pytest.approx(750), pytest.approx(1110))
    # time on scene (on scene → cleared): 1200, 1800, 300, 600
    assert spread(rows, "time_on_scene") == (4, pytest.approx(900), pytest.approx(1620))


@pytest.mark.parametrize(
    "seconds, expected",
    [
        (0, 0),
        (0.4, 0),
        (0.5, 1),
        (59.6, 60),
        (119.4, 119),
        (119.6, 120),  # to the second
        (120, 120),
        (124.9, 120),
        (125, 130),
        (1194, 1190),
        (1195, 1200),  # to 10 s
        (1200, 1200),
        (1229, 1200),
        (1230, 1260),
        (7170, 7200),  # to the minute
        (7200, 7200),
        (7499, 7200),
        (7500, 7800),
        (86100, 86400),  # to 10 minutes
        (86400, 86400),
        (88199, 86400),
        (88200, 90000),  # to the hour
        (-0.6, -1),
        (-5, -5),  # a sender's clock behind: kept, not hidden
    ],
)
def test_durations_are_counted_on_the_grid_the_same_in_python_and_in_the_database(db, seconds, expected):
    from django.db.models import F

    from dispatch.reports.engine import GridSeconds

    assert engine.on_grid(seconds) == expected
    incident = _incident(T0)
    unit = UnitFactory()
    _assign(incident, unit, dispatched=seconds, on_scene=seconds)
    in_db = (
        Assignment.objects.annotate(s=GridSeconds(F("dispatched_at"), F("incident__received_at")))
        .values_list("s", flat=True)
        .get()
    )
    assert in_db == expected


def test_percentiles_of_a_histogram_interpolate_between_ranks():
    from collections import Counter

    histogram = Counter({30: 1, 60: 2, 240: 1})  # 30, 60, 60, 240
    assert engine.histogram_percentile(histogram, 0.5) == pytest.approx(60)
    assert engine.histogram_percentile(histogram, 0.9) == pytest.approx(60 + 0.7 * 180)
    assert engine.histogram_percentile(Counter(), 0.5) is None


def test_settled_days_are_kept_and_a_year_reads_no_record_again(dataset):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dispatch.models import ReportSums

    first = sections.dashboard(MARCH)
    kept = ReportSums.objects.filter(facet="", first_day__gte=MARCH.start, last_day__lte=MARCH.end)
    assert kept.filter(last_day=F("first_day")).count() == 31  # every day of March, the empty ones too
    assert kept.filter(first_day=MARCH.start, last_day=MARCH.end).exists()  # and March as a whole
    with CaptureQueriesContext(connection) as queries:
        again = sections.dashboard(MARCH)
    assert again == first
    tables = ("incident", "assignment", "outcome", "followup", "policereferral", "backuprequest")
    reads = [q["sql"] for q in queries if any(f"_{table}" in q["sql"] for table in tables)]
    assert reads == []
    # The days' versions, then March whole: no day's sums are needed.
    assert sum("dispatch_reportday" in q["sql"] for q in queries) == 1
    assert sum("dispatch_reportsums" in q["sql"] for q in queries) == 1


def test_a_change_to_a_kept_day_is_counted_at_once(dataset):
    sections.dashboard(MARCH)
    c4 = Incident.objects.get(call_type_code="TRESPASS", source="non_emergency")
    unit = UnitFactory(callsign="CR-9")
    # c4 was never sent; weeks later someone records that a team did reach it.
    late = _assign(c4, unit, dispatched=600, en_route=660, on_scene=1200, cleared=1500)
    calls = sections.calls_summary(MARCH)
    assert calls["dispatched"] == 6 and calls["served"] == 5 and calls["eligible_served"] == 4
    outcome = _outcome(late, dataset["user"], "resolved_on_scene")
    assert sections.outcomes_summary(MARCH)["recorded"] == 5
    ContactAttempt.objects.create(
        follow_up=FollowUp.objects.get(status="open"),
        at=T0 + timedelta(hours=1),
        method="phone",
        result="reached",
    )
    assert sections.follow_ups_summary(MARCH)["first_contact"]["count"] == 4
    outcome.delete()
    late.delete()
    assert sections.outcomes_summary(MARCH)["recorded"] == 4
    assert sections.calls_summary(MARCH)["dispatched"] == 5


def test_a_call_moved_to_another_day_leaves_the_first(dataset):
    sections.dashboard(MARCH)
    april = engine.ReportFilters(date(2026, 4, 1), date(2026, 4, 30))
    sections.dashboard(april)
    c10 = Incident.objects.get(call_type_code="NOISE")
    c10.received_at = datetime(2026, 4, 1, 0, 5, tzinfo=ZONE)  # the CAD corrects the time
    c10.save()
    assert sections.calls_summary(MARCH)["total"] == 7
    assert sections.calls_summary(april)["total"] == 2


def test_a_day_that_changed_while_it_was_read_is_read_again(dataset):
    from dispatch.models import ReportDay, ReportSums

    program = first_program()
    pending = sums._Pending(program_id=program.pk)
    with sums.report_snapshot():
        sums._range_totals(dataclasses.replace(MARCH, program_ids=(program.pk,)), pending)
    # A writer commits to 15 March between the read and the store.
    Incident.objects.filter(call_type_code="ASSAULT").update(eligible=True)
    sums.days_changed(T0)
    sums._store(pending)
    version = ReportDay.objects.get(day=T0.date()).version
    kept = ReportSums.objects.get(facet="", first_day=T0.date(), last_day=T0.date())
    assert json.loads(kept.versions) == [version - 1]
    assert sections.calls_summary(MARCH)["eligible"] == 7


def test_today_and_yesterday_are_always_read_from_the_records(db):
    from django.utils import timezone

    from dispatch.models import ReportDay

    now = timezone.now()
    recent = engine.ReportFilters(engine.program_today() - timedelta(days=1), engine.program_today())
    _incident(now)
    assert sections.calls_summary(recent)["total"] == 1
    assert not ReportDay.objects.exists()  # nothing kept, and writing today raised no version
    _incident(now)
    assert sections.calls_summary(recent)["total"] == 2


def test_each_filter_keeps_its_own_sums_and_a_change_reaches_them_all(dataset):
    from dispatch.models import ReportSums

    by_988 = engine.ReportFilters(MARCH.start, MARCH.end, source="988")
    assert sections.calls_summary(by_988)["total"] == 1
    assert sections.calls_summary(MARCH)["total"] == 8
    assert set(ReportSums.objects.values_list("facet", flat=True)) == {"", "source=988"}
    assert sections.calls_summary(by_988)["total"] == 1  # from what was kept
    _incident(T0 + timedelta(hours=12), source="988")
    assert sections.calls_summary(by_988)["total"] == 2
    assert sections.calls_summary(MARCH)["total"] == 9
    mine = engine.ReportFilters(MARCH.start, MARCH.end, source="911", call_type="WELFARE", unit_id=7)
    assert mine.facet == "source=911&call_type=WELFARE&unit=7"


def test_it_counts_outcomes_backup_arrests_and_transports_of_calls_only(dataset):
    out = sections.outcomes_summary(MARCH)
    assert out["dispatched"] == 5
    # c2: outcome says backup requested; c6: arrest and a police request; c7: a police request only.
    # c1's EMS request does not count.
    assert out["backup_calls"] == 3
    assert out["backup_rate"] == pytest.approx(3 / 5)
    assert out["arrests"] == 1  # c6; the encounter's and February's arrests are apart
    assert dict(out["by_disposition"]) == {
        "Resolved on scene": 1,
        "Transported to shelter": 1,
        "Police took over": 1,
        "Referred to services": 1,
    }
    assert out["transports"] == [("Shelter", 1)]


def test_it_counts_self_initiated_encounters_apart_from_calls(dataset):
    enc = sections.encounters_summary(MARCH)
    assert enc["total"] == 2
    assert dict(enc["by_disposition"]) == {"Resolved on scene": 1, "Not recorded yet": 1}
    assert enc["arrests"] == 1
    assert (
        sections.encounters_summary(engine.ReportFilters(MARCH.start, MARCH.end, source="911"))["total"] == 0
    )


def test_it_measures_follow_up_connection_rate_and_time_to_first_contact(dataset):
    fu = sections.follow_ups_summary(MARCH)
    assert fu["created"] == 4  # the February one is out
    assert fu["connected"] == 2  # connected, and closed engaged; not closed declined, not open
    assert fu["connection_rate"] == pytest.approx(0.5)
    # First attempts: 7200, 14400, 36000 (the open one has none): p90 14400 + 0.8 × 21600
    assert fu["first_contact"] == {"count": 3, "median": pytest.approx(14400), "p90": pytest.approx(31680)}


def test_it_counts_police_referrals_by_status(dataset):
    ref = sections.referrals_summary(MARCH)
    assert ref["total"] == 3
    assert dict(ref["by_state"]) == {
        "Now · Sent to dispatch": 1,
        "Later · In the outreach queue": 1,
        "Later · Finished as an encounter": 1,
    }


def test_the_unit_filter_keeps_that_units_calls_and_assignments(dataset):
    mine = engine.ReportFilters(MARCH.start, MARCH.end, unit_id=dataset["u1"].pk)
    calls = sections.calls_summary(mine)
    assert calls["total"] == 3  # c1 c3 c7
    assert (calls["eligible"], calls["eligible_served"]) == (3, 2)
    # received → dispatched over a1 a3 a7: [30, 60, 90]; p90 at 1.8: 60 + 0.8 × 30
    assert spread(sections.response_times(mine), "received_to_dispatched") == (
        3,
        pytest.approx(60),
        pytest.approx(84),
    )
    assert sections.outcomes_summary(mine)["backup_calls"] == 1  # c7
    assert sections.encounters_summary(mine)["total"] == 1
    assert sections.follow_ups_summary(mine)["created"] == 3  # from c1 (two) and c7


def test_the_source_and_call_type_filters_narrow_every_call_metric(dataset):
    by_988 = engine.ReportFilters(MARCH.start, MARCH.end, source="988")
    assert sections.calls_summary(by_988)["total"] == 1
    assert spread(sections.response_times(by_988), "received_to_on_scene") == (1, 900, 900)
    trespass = engine.ReportFilters(MARCH.start, MARCH.end, call_type="TRESPASS")
    calls = sections.calls_summary(trespass)
    assert (calls["total"], calls["eligible"], calls["eligible_served"]) == (2, 2, 0)
    assert sections.outcomes_summary(trespass)["dispatched"] == 1


def test_call_type_analysis_shows_reasons_served_and_where_to_grow(dataset):
    rows = sections.call_type_analysis(MARCH)
    assert [r["code"] for r in rows] == ["TRESPASS", "NOISE", "WELFARE", "ASSAULT"]
    by_code = {r["code"]: r for r in rows}
    welfare = by_code["WELFARE"]
    # served: c1 c2 c7, and c6 sent with an override; could grow: none of the unserved lack a disqualifier
    assert (welfare["calls"], welfare["eligible"], welfare["served"], welfare["could_grow"]) == (4, 3, 4, 0)
    assert welfare["reasons"]["weapons"] == 1 and welfare["reasons"]["screening_incomplete"] == 1
    assault = by_code["ASSAULT"]
    assert assault["reasons"]["violence"] == 1 and assault["reasons"]["call_type_not_eligible"] == 1
    assert assault["could_grow"] == 0  # violence is a safety disqualifier
    assert (by_code["TRESPASS"]["served"], by_code["TRESPASS"]["could_grow"]) == (0, 2)


def test_an_empty_range_has_no_rates_rather_than_a_division_by_zero(db):
    empty = sections.dashboard(MARCH)
    assert empty["calls"]["served_share"] is None
    assert empty["outcomes"]["backup_rate"] is None
    assert empty["follow_ups"]["connection_rate"] is None
    assert spread(empty["response_times"], "received_to_on_scene") == (0, None, None)


def test_generate_history_builds_a_consistent_history_without_events(db):
    from dispatch.models import Event

    call_command("generate_history", incidents=300, days=20, seed=7, units=3, batch=120, verbosity=0)
    assert Incident.objects.count() == 300
    assert Event.objects.count() == 0
    # Every assignment that reached on scene has an outcome; history dates are kept, not today's.
    assert not Assignment.objects.filter(on_scene_at__isnull=False, outcome__isnull=True).exists()
    oldest = Incident.objects.order_by("created_at").first()
    assert oldest.created_at == oldest.received_at
    assert FollowUp.objects.exists() and PoliceReferral.objects.exists()
    last_20_days = engine.ReportFilters.default()
    assert sections.dashboard(last_20_days)["calls"]["total"] > 0


def test_a_call_sent_to_two_units_counts_once_in_a_filtered_range_too(dataset):
    c1 = Incident.objects.get(caller_name="Jane Caller")
    _assign(c1, dataset["u2"], dispatched=1900, en_route=1950, on_scene=2400, cleared=3000)
    by_911 = engine.ReportFilters(MARCH.start, MARCH.end, source="911")
    whole = sections.calls_summary(MARCH)
    assert whole["dispatched"] == 5 and whole["served"] == 4
    narrowed = sections.calls_summary(by_911)
    assert narrowed["dispatched"] == 4  # c1 c3 c6 c7, c1 once although two units went
    assert narrowed["served"] == 3  # c1 c6 c7
    # Each assignment is its own response: c1's second one is measured too.
    assert spread(sections.response_times(by_911), "received_to_dispatched")[0] == 5


def test_keep_report_sums_adds_up_what_is_missing_or_out_of_date_and_nothing_else(db):
    from io import StringIO

    from dispatch.models import ReportSums

    def keep(days):
        out = StringIO()
        call_command("keep_report_sums", days=days, stdout=out)
        return out.getvalue()

    today = engine.program_today()
    _incident(datetime.combine(today - timedelta(days=5), datetime.min.time(), tzinfo=ZONE))
    assert keep(10) == "Kept the sums of 8 days and months.\n"  # 8 settled days; no whole month
    assert keep(10) == "Kept the sums of 0 days and months.\n"
    _incident(datetime.combine(today - timedelta(days=5), datetime.min.time(), tzinfo=ZONE))
    assert keep(10) == "Kept the sums of 1 days and months.\n"
    five_days_ago = engine.ReportFilters(today - timedelta(days=5), today - timedelta(days=5))
    assert sections.calls_summary(five_days_ago)["total"] == 2
    assert ReportSums.objects.filter(facet="").count() == 8
    with pytest.raises(CommandError):
        call_command("keep_report_sums", days=0)


def test_a_bulk_load_into_kept_days_is_counted(db):
    last_week = engine.ReportFilters(engine.program_today() - timedelta(days=9), engine.program_today())
    assert sections.calls_summary(last_week)["total"] == 0  # every settled day kept, empty
    call_command("generate_history", incidents=60, days=8, seed=3, units=2, batch=30, verbosity=0)
    calls = Incident.objects.filter(received_at__gte=last_week.bounds()[0]).exclude(source="self_initiated")
    assert sections.calls_summary(last_week)["total"] == calls.count() > 0


def test_a_change_to_a_call_reaches_a_filtered_count_of_its_follow_ups_made_on_another_day(dataset):
    by_911 = engine.ReportFilters(MARCH.start, MARCH.end, source="911")
    by_u1 = engine.ReportFilters(MARCH.start, MARCH.end, unit_id=dataset["u1"].pk)
    c4 = Incident.objects.get(call_type_code="TRESPASS", source="non_emergency")  # 15 March
    _follow_up(T0 + timedelta(days=3), "open", incident=c4)  # made on the 18th
    assert sections.follow_ups_summary(by_911)["created"] == 3  # c1's two and c7's
    assert sections.follow_ups_summary(by_u1)["created"] == 3
    c4.source = "911"  # the CAD corrects the source
    c4.save()
    assert sections.follow_ups_summary(by_911)["created"] == 4
    _assign(c4, dataset["u1"], dispatched=60)  # and a team of CR-1 goes, after all
    assert sections.follow_ups_summary(by_u1)["created"] == 4
