"""The state side of several programs: the programs page (areas on a map, hours on each
program's clock, which services cover which program), program administration with its
GeoJSON checked as a form error, and the service directory's statewide and local services."""

import json
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dispatch import program_hours, services
from dispatch.models import AuditEntry, Program, ProgramHours, ReportSums
from dispatch.programs import first_program
from dispatch.services import ServiceInvalid
from referrals.models import Location, Organization, Service
from tests import factories

DENVER_AREA = factories.square_area(39.74, -104.99, 0.1)
AURORA_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[-104.89, 39.64], [-104.69, 39.64], [-104.69, 39.84], [-104.89, 39.84], [-104.89, 39.64]]
    ],
}


@pytest.fixture
def state(db):
    denver = first_program()
    denver.service_area = DENVER_AREA
    denver.save()
    aurora = factories.ProgramFactory(slug="aurora-art", name="Aurora ART", service_area=AURORA_AREA)
    org = Organization.objects.create(name="Colorado Crisis Services")
    statewide = Service.objects.create(organization=org, name="State crisis line", program=None)
    denver_only = Service.objects.create(organization=org, name="Denver sobering centre", program=denver)
    aurora_only = Service.objects.create(organization=org, name="Aurora day shelter", program=aurora)
    place = Location.objects.create(name="Shelter", latitude=39.70, longitude=-104.80)
    aurora_only.locations.add(place)
    return {
        "denver": denver,
        "aurora": aurora,
        "statewide": statewide,
        "denver_only": denver_only,
        "aurora_only": aurora_only,
        "state_sup": factories.UserFactory(username="ssup", roles=["supervisor"], roles__statewide=True),
        "denver_sup": factories.UserFactory(username="dsup", roles=["supervisor"], roles__program=denver),
        "aurora_cm": factories.UserFactory(username="acm", roles=["case_manager"], roles__program=aurora),
        "dispatcher": factories.UserFactory(username="disp9", roles=["dispatcher"], roles__statewide=True),
    }


def _map_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="programs-map-data" type="application/json">') + len(
        '<script id="programs-map-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


# --- Hours on a program's own clock --------------------------------------------------------------
def test_hours_past_midnight_are_open_the_next_morning_on_the_programs_clock():
    friday_night = [ProgramHours(weekday=4, opens=time(22), closes=time(6))]
    denver = ZoneInfo("America/Denver")
    assert program_hours.is_open_at(friday_night, "America/Denver", datetime(2026, 3, 7, 2, 0, tzinfo=denver))
    assert not program_hours.is_open_at(
        friday_night, "America/Denver", datetime(2026, 3, 7, 7, 0, tzinfo=denver)
    )
    # 02:00 on Saturday in Denver is 01:00 in Los Angeles' terms of the same instant: a program
    # on Pacific time with the same hours is open then too; at 06:30 Denver (05:30 Pacific) only
    # the Pacific one still is.
    moment = datetime(2026, 3, 7, 6, 30, tzinfo=denver)
    assert not program_hours.is_open_at(friday_night, "America/Denver", moment)
    assert program_hours.is_open_at(friday_night, "America/Los_Angeles", moment)


def test_the_same_time_twice_is_the_whole_day_and_a_day_without_hours_is_closed():
    hours = [ProgramHours(weekday=0, opens=time(0), closes=time(0))]
    zone = ZoneInfo("America/Denver")
    assert program_hours.is_open_at(hours, "America/Denver", datetime(2026, 3, 2, 23, 59, tzinfo=zone))
    assert not program_hours.is_open_at(hours, "America/Denver", datetime(2026, 3, 3, 12, 0, tzinfo=zone))
    assert program_hours.week_rows(hours)[0] == ("Monday", "24 hours")
    assert program_hours.week_rows(hours)[1] == ("Tuesday", "Closed")


# --- The programs page --------------------------------------------------------------------------
@time_machine.travel(datetime(2026, 3, 4, 19, 0, tzinfo=ZoneInfo("UTC")), tick=False)  # 12:00 in Denver
def test_the_state_supervisor_sees_every_area_its_hours_and_the_services_that_cover_it(client, state):
    ProgramHours.objects.create(program=state["aurora"], weekday=2, opens=time(7), closes=time(19))
    client.force_login(state["state_sup"])
    response = client.get("/dispatch/supervisor/programs/")
    assert response.status_code == 200
    data = _map_data(response)
    assert {a["slug"]: a["area"] for a in data["areas"]} == {
        state["denver"].slug: DENVER_AREA,
        "aurora-art": AURORA_AREA,
    }
    assert data["places"] == [
        {
            "service": "Aurora day shelter",
            "place": "Shelter",
            "latitude": 39.70,
            "longitude": -104.80,
            "program": "aurora-art",
            "within": "aurora-art",
        }
    ]
    html = response.content.decode()
    assert "State crisis line" in html and "Denver sobering centre" in html and "Aurora day shelter" in html
    aurora_row = html[html.index('<tr data-program="aurora-art">') :]
    aurora_row = aurora_row[: aurora_row.index("</tr>")]
    assert "Open now" in aurora_row and "07:00–19:00" in aurora_row
    assert "<script>" not in html  # the map's data is JSON, its code a module: nothing inline


def test_a_program_supervisor_sees_only_their_program_on_the_page(client, state):
    client.force_login(state["denver_sup"])
    response = client.get("/dispatch/supervisor/programs/")
    assert response.status_code == 200
    assert [a["slug"] for a in _map_data(response)["areas"]] == [state["denver"].slug]
    html = response.content.decode()
    assert "aurora-art" not in html and "Aurora day shelter" not in html
    assert "State crisis line" in html  # statewide: it covers their program too
    assert "Add a program" not in html


def test_roles_that_may_not_see_the_programs_page_get_403(client, state, personas):
    for user in [state["dispatcher"], state["aurora_cm"], personas["responder"], personas["nobody"]]:
        client.force_login(user)
        assert client.get("/dispatch/supervisor/programs/").status_code == 403, user
        assert client.get("/dispatch/supervisor/programs/new/").status_code == 403, user


# --- Creating and changing a program ------------------------------------------------------------
def _form(**overrides):
    data = {"slug": "boulder-care", "name": "Boulder CARE", "time_zone": "America/Denver", "service_area": ""}
    data.update(overrides)
    return data


def test_the_state_supervisor_adds_a_program_with_its_area_and_hours(client, state):
    client.force_login(state["state_sup"])
    area = factories.square_area(40.01, -105.27, 0.05)
    response = client.post(
        "/dispatch/supervisor/programs/new/",
        _form(
            service_area=json.dumps({"type": "Feature", "geometry": area, "properties": {}}),
            opens_0="08:00",
            closes_0="20:00",
        ),
    )
    assert response.status_code == 302
    program = Program.objects.get(slug="boulder-care")
    assert program.service_area == area
    assert [(h.weekday, h.opens, h.closes) for h in program.hours.all()] == [(0, time(8), time(20))]
    entry = AuditEntry.objects.get(action="program.create")
    assert entry.actor == state["state_sup"] and entry.detail["hours"] == [[0, "08:00", "20:00"]]


@pytest.mark.parametrize(
    "area, message",
    [
        ("{not json", "This is not JSON"),
        (json.dumps({"type": "Point", "coordinates": [-105, 40]}), "Polygon or MultiPolygon"),
        (
            json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
            "not a valid shape",
        ),
        (json.dumps({"type": "Polygon", "coordinates": "nope"}), "coordinates are not a valid Polygon"),
        ("[" * 5000 + "]" * 5000, "service area"),
    ],
)
def test_a_service_area_that_is_not_valid_geojson_is_a_form_error(client, state, area, message):
    client.force_login(state["state_sup"])
    response = client.post("/dispatch/supervisor/programs/new/", _form(service_area=area))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Program.objects.filter(slug="boulder-care").exists()
    assert not AuditEntry.objects.exists()


def test_half_given_hours_an_unknown_zone_and_a_taken_slug_are_form_errors(client, state):
    client.force_login(state["state_sup"])
    response = client.post("/dispatch/supervisor/programs/new/", _form(opens_3="09:00"))
    assert response.status_code == 400 and "opening and closing, or neither" in response.content.decode()
    response = client.post("/dispatch/supervisor/programs/new/", _form(time_zone="Mars/Olympus"))
    assert response.status_code == 400
    response = client.post("/dispatch/supervisor/programs/new/", _form(slug="aurora-art"))
    assert response.status_code == 400 and "already a program" in response.content.decode()
    assert Program.objects.count() == 2


def test_a_new_time_zone_drops_the_programs_kept_report_sums(state):
    ReportSums.objects.create(
        program=state["aurora"],
        facet="",
        first_day="2026-03-01",
        last_day="2026-03-01",
        versions="[0]",
        data="{}",
    )
    services.program_update(
        actor=state["state_sup"],
        program_id=state["aurora"].pk,
        slug="aurora-art",
        name="Aurora ART",
        time_zone="America/Chicago",
        service_area=AURORA_AREA,
    )
    assert not ReportSums.objects.filter(program=state["aurora"]).exists()
    assert AuditEntry.objects.get(action="program.update").detail["changes"]["time_zone"] == [
        "America/Denver",
        "America/Chicago",
    ]


def test_a_program_supervisor_may_not_add_or_change_programs(client, state):
    client.force_login(state["denver_sup"])
    assert client.post("/dispatch/supervisor/programs/new/", _form()).status_code == 403
    response = client.post(
        f"/dispatch/supervisor/programs/{state['denver'].slug}/", _form(slug=state["denver"].slug)
    )
    assert response.status_code == 403
    assert Program.objects.count() == 2


def test_the_service_refuses_a_reserved_or_malformed_slug(state):
    for slug in ("new", "Has Spaces", "-x"):
        with pytest.raises(ServiceInvalid):
            services.program_create(actor=None, slug=slug, name="X", time_zone="America/Denver")


# --- The directory: statewide and program-local services ---------------------------------------
def test_a_programs_case_manager_sees_statewide_and_their_own_services_only(client, state):
    client.force_login(state["aurora_cm"])
    html = client.get("/referrals/directory/").content.decode()
    assert "State crisis line" in html and "Aurora day shelter" in html
    assert "Denver sobering centre" not in html
    assert client.get(f"/referrals/directory/services/{state['denver_only'].pk}/").status_code == 404
    # A statewide service is everyone's: a program's case manager may not change it.
    assert client.get(f"/referrals/directory/services/{state['statewide'].pk}/").status_code == 403


def test_a_programs_case_manager_adds_a_service_only_to_their_program(client, state):
    client.force_login(state["aurora_cm"])
    org = state["statewide"].organization
    base = {"organization": org.pk, "name": "Aurora food bank", "status": "active"}
    response = client.post("/referrals/directory/services/new/", {**base, "program": ""})
    assert response.status_code == 400
    response = client.post("/referrals/directory/services/new/", {**base, "program": state["denver"].pk})
    assert response.status_code == 400
    response = client.post("/referrals/directory/services/new/", {**base, "program": state["aurora"].pk})
    assert response.status_code == 302
    assert Service.objects.get(name="Aurora food bank").program == state["aurora"]


def test_a_follow_up_is_connected_only_to_a_statewide_service_or_its_programs_own(client, state):
    from referrals import services as referral_services
    from referrals.models import FollowUp

    person = referral_services.person_create(actor=state["aurora_cm"], alias="Sam", program=state["aurora"])
    follow_up = referral_services.follow_up_create(
        actor=state["aurora_cm"], service_type=FollowUp.ServiceType.HOUSING, consent=True, person=person
    )
    assert follow_up.program == state["aurora"]
    client.force_login(state["aurora_cm"])
    page = client.get(f"/referrals/follow-ups/{follow_up.pk}/").content.decode()
    assert "Aurora day shelter" in page and "State crisis line" in page
    assert "Denver sobering centre" not in page  # another program's service is not offered
    response = client.post(
        f"/referrals/follow-ups/{follow_up.pk}/details",
        {"provider": state["denver_only"].pk, "due_at": "", "written_consent_to_share": "unknown"},
    )
    assert response.status_code == 400
    follow_up.refresh_from_db()
    assert follow_up.provider is None
    with pytest.raises(ServiceInvalid) as refused:
        referral_services.follow_up_update(
            actor=state["aurora_cm"], follow_up_id=follow_up.pk, provider=state["denver_only"]
        )
    assert refused.value.field == "provider"
    with pytest.raises(ServiceInvalid):
        referral_services.follow_up_create(
            actor=state["aurora_cm"],
            service_type=FollowUp.ServiceType.HOUSING,
            consent=True,
            person=person,
            provider=state["denver_only"],
        )
    assert FollowUp.objects.count() == 1
    referral_services.follow_up_update(
        actor=state["aurora_cm"], follow_up_id=follow_up.pk, provider=state["statewide"]
    )
    follow_up.refresh_from_db()
    assert follow_up.provider == state["statewide"]
