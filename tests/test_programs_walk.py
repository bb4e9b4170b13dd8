"""Two programs in one deployment (issue 15's acceptance): a member of program A walks every
page, API endpoint, export and socket and sees nothing of program B; the API routes by
service area; a statewide dispatcher assigns A's unit to A's call and never B's."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services
from dispatch.models import Alert, Assignment, Incident, Program, Shift
from dispatch.services import IncidentFields
from referrals import services as referral_services
from referrals.services import ReferralData
from tests import factories
from tests.test_report_views import streamed

A_AREA = factories.square_area(39.74, -104.99, 0.1)  # Denver
B_AREA = factories.square_area(39.74, -104.79, 0.1)  # Aurora, touching it on the east
# What only program B's records say: none of it may reach a member of program A.
B_MARKERS = ("Bravo Way", "BRAVO-SECRET", "Bobby Bravo", "BRV-1", "Bravo Caller", "Breanna Bravo")


def _world(prefix: str, program: Program, *, marked: bool):
    """One program's records: a unit with a responder on shift, an open call assigned to it,
    a backup alert, a second call transferred to the clinicians, a person with a follow-up, an
    outreach referral, an API client."""
    name = "Bravo" if marked else "Alpha"
    callsign = "BRV-1" if marked else "ALF-1"
    unit = factories.UnitFactory(callsign=callsign, program=program, latitude=39.74, longitude=-104.9)
    responder = factories.UserFactory(
        username=f"{prefix}-responder",
        first_name="Bobby" if marked else "Andy",
        last_name=name,
        roles=["responder"],
        roles__program=program,
    )
    Shift.objects.create(unit=unit, user=responder, started_at=timezone.now())
    dispatcher = factories.UserFactory(
        username=f"{prefix}-dispatcher", roles=["dispatcher"], roles__program=program
    )
    fields = dict(
        source="911",
        call_type_code="WELFARE",
        received_at=timezone.now() - timedelta(minutes=5),
        address=f"{10 if marked else 20} {name} Way",
        latitude=39.74,
        longitude=-104.79 if marked else -104.99,
        caller_name=f"{name} Caller",
        narrative=f"{'BRAVO-SECRET' if marked else 'alpha'} someone needs help",
        priority=1,
        screen_weapons=False,
        screen_violence=False,
        screen_medical_emergency=False,
        screen_police_only=False,
    )
    call = services.incident_create(fields=IncidentFields(**fields), actor=dispatcher, program=program)
    assignment = services.assignment_create(incident_id=call.pk, callsign=callsign, actor=dispatcher)
    alert = services.alert_raise(kind=Alert.Kind.BACKUP, message=f"{callsign} asks for backup", unit=unit)
    waiting = services.incident_create(
        fields=IncidentFields(**{**fields, "address": f"30 {name} Way", "priority": 3}),
        actor=dispatcher,
        program=program,
    )
    services.incident_transfer_to_clinician(incident_id=waiting.pk, actor=dispatcher, note=f"{name} note")
    person = referral_services.person_create(
        actor=None, name=f"{'Breanna' if marked else 'Alice'} {name}", program=program
    )
    follow_up = referral_services.follow_up_create(
        actor=None, service_type="housing", consent=True, person=person, incident=call, notes=f"{name} notes"
    )
    officer = factories.UserFactory(
        username=f"{prefix}-officer", roles=["police_officer"], roles__program=program
    )
    referral = referral_services.referral_file(
        actor=officer,
        data=ReferralData(
            urgency="later",
            call_type_code="WELFARE",
            address=f"40 {name} Way",
            situation=f"{name} situation",
            officer_name=f"Officer {name}",
            officer_callback="303-555-0101",
            consent_to_contact=True,
            program=program,
        ),
    )
    client, key = factories.api_client(f"{prefix}-cad", "cad", program=program)
    return {
        "program": program,
        "unit": unit,
        "responder": responder,
        "dispatcher": dispatcher,
        "officer": officer,
        "case_manager": factories.UserFactory(
            username=f"{prefix}-cm", roles=["case_manager"], roles__program=program
        ),
        "supervisor": factories.UserFactory(
            username=f"{prefix}-sup", roles=["supervisor"], roles__program=program
        ),
        "call": call,
        "waiting": waiting,
        "assignment": assignment,
        "alert": alert,
        "person": person,
        "follow_up": follow_up,
        "referral": referral,
        "client": client,
        "key": key,
    }


@pytest.fixture
def programs(db, call_types):
    a = factories.ProgramFactory(slug="denver-star", name="Denver STAR", service_area=A_AREA)
    b = factories.ProgramFactory(slug="aurora-art", name="Aurora ART", service_area=B_AREA)
    return _world("a", a, marked=False), _world("b", b, marked=True)


def _b_ids(b) -> dict:
    """What each URL argument is, for program B's records."""
    return {
        "incident_id": b["call"].pk,
        "assignment_id": b["assignment"].pk,
        "unit_id": b["unit"].pk,
        "callsign": b["unit"].callsign,
        "alert_id": b["alert"].pk,
        "follow_up_id": b["follow_up"].pk,
        "person_id": b["person"].pk,
        "referral_id": b["referral"].pk,
        "user_id": b["responder"].pk,
    }


def _patterns(resolver=None, prefix=""):
    """Every URL of the project, as (route, argument names)."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, list(pattern.pattern.regex.groupindex)


def _url(route: str, args: dict) -> str | None:
    import re

    def fill(match):
        return str(args[match.group(1)])

    try:
        path = re.sub(r"<(?:\w+:)?(\w+)>", fill, route)
    except KeyError:
        return None
    if "^" in path or "(?P" in path or "\\" in path:
        return None  # a regex route (static files, the admin): not the product's pages
    return "/" + path.lstrip("^")


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return streamed(response)
    return response.content.decode(errors="replace")


def assert_nothing_of_b(text: str, where: str, b) -> None:
    for marker in (*B_MARKERS, str(b["call"].pk), str(b["waiting"].pk), str(b["referral"].pk)):
        if marker in where:
            continue  # the id the caller asked for, echoed (a console row answers it "gone")
        assert marker not in text, f"{where} shows program B's {marker!r}"


def test_a_member_of_program_a_sees_nothing_of_program_b_on_any_page(client, programs):
    a, b = programs
    ids = _b_ids(b)
    walked = 0
    for role in ("dispatcher", "supervisor", "case_manager", "responder", "officer"):
        client.force_login(a[role])
        for route, names in _patterns():
            if route.startswith(("admin/", "signin/", "signout/", "healthz", "api/schema", "api/docs")):
                continue
            urls = [_url(route, ids)]
            if "<slug:name>" in route:  # the console's regions, each whole
                urls = [_url(route, {"name": name}) for name in ("queue", "units", "alerts", "clinician")]
                names = []
            for url in urls:
                if url is None:
                    continue
                response = client.get(url)
                walked += 1
                if names and not url.endswith("/row/"):
                    # B's record by its id: as for anything not visible (or no page for this role).
                    # (A console row of a call it does not show answers "gone", as for a closed one.)
                    assert response.status_code in (302, 400, 403, 404, 405), (
                        role,
                        url,
                        response.status_code,
                    )
                assert_nothing_of_b(_text(response), f"{role} GET {url}", b)
    assert walked > 100


def test_program_a_dispatcher_cannot_act_on_program_bs_records(client, programs):
    a, b = programs
    client.force_login(a["dispatcher"])
    call = b["waiting"]
    for url, data in [
        (f"/dispatch/incidents/{call.pk}/assign/", {"unit": "ALF-1"}),
        (f"/dispatch/incidents/{call.pk}/cancel/", {"reason": "x"}),
        (f"/dispatch/incidents/{call.pk}/transfer/", {"note": "x"}),
        (f"/dispatch/alerts/{b['alert'].pk}/acknowledge/", {}),
    ]:
        assert client.post(url, data).status_code == 404, url
    call.refresh_from_db()
    assert call.status == Incident.Status.PENDING
    assert Alert.objects.get(pk=b["alert"].pk).acknowledged_at is None


def test_program_a_api_client_sees_nothing_of_program_b(programs):
    a, b = programs
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {a['key']}")
    for url in ("/api/v1/incidents/", "/api/v1/units/", "/api/v1/programs/", "/api/v1/webhooks/"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert_nothing_of_b(response.content.decode(), url, b)
    assert [p["slug"] for p in api.get("/api/v1/programs/").json()] == ["denver-star"]
    for url in (
        f"/api/v1/incidents/{b['call'].pk}/",
        f"/api/v1/incidents/{b['call'].pk}/eido",
    ):
        assert api.get(url).status_code == 404, url
    refused = api.post(f"/api/v1/incidents/{b['waiting'].pk}/assign", {"unit": "ALF-1"}, format="json")
    assert refused.status_code == 404
    step = api.post(f"/api/v1/assignments/{b['assignment'].pk}/status", {"status": "en_route"}, format="json")
    assert step.status_code == 404
    assert Assignment.objects.get(pk=b["assignment"].pk).status == "dispatched"
    units = api.get("/api/v1/units/").json()
    assert [u["callsign"] for u in units] == ["ALF-1"] and units[0]["program"] == "denver-star"


def test_program_a_supervisor_exports_and_reports_only_program_a(client, programs):
    a, b = programs
    client.force_login(a["supervisor"])
    today = timezone.localdate()
    for kind in ("incidents", "assignments"):
        response = client.post(
            "/dispatch/supervisor/data/export/",
            {"kind": kind, "start": today - timedelta(days=1), "end": today, "identifiers": "on"},
        )
        assert response.status_code == 200, kind
        rows = list(csv.reader(io.StringIO(_text(response))))
        assert len(rows) >= 2, kind  # A's own rows are there
        assert_nothing_of_b(_text(response), f"export {kind}", b)
    dashboard = client.get("/dispatch/supervisor/data/", {"start": today - timedelta(days=1), "end": today})
    assert dashboard.context["data"]["calls"]["total"] == 2  # A's two calls, not B's


# --- routing ---------------------------------------------------------------------------------
@pytest.fixture
def statewide_api(programs):
    _client, key = factories.api_client("hotline-988", "cad", program=None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def _body(external_id, lat, lon, **extra):
    return factories.cad_incident_body(
        external_id=external_id,
        location={"address": "1 Somewhere St", "latitude": lat, "longitude": lon},
        **extra,
    )


def test_a_statewide_clients_incident_goes_to_the_program_whose_area_holds_it(statewide_api, programs):
    inside_a = statewide_api.post("/api/v1/incidents/", _body("988-1", 39.74, -104.99), format="json")
    assert inside_a.status_code == 201 and inside_a.json()["program"] == "denver-star"
    inside_b = statewide_api.post("/api/v1/incidents/", _body("988-2", 39.75, -104.78), format="json")
    assert inside_b.status_code == 201 and inside_b.json()["program"] == "aurora-art"
    named = statewide_api.post(
        "/api/v1/incidents/", _body("988-3", 39.74, -104.99, program="aurora-art"), format="json"
    )
    assert named.status_code == 201 and named.json()["program"] == "aurora-art"
    listed = {p["slug"] for p in statewide_api.get("/api/v1/programs/").json()}
    assert {"denver-star", "aurora-art"} <= listed


def test_outside_every_area_or_without_coordinates_is_409_and_nothing_is_written(statewide_api, programs):
    before = Incident.objects.count()
    outside = statewide_api.post("/api/v1/incidents/", _body("988-9", 41.0, -100.0), format="json")
    assert outside.status_code == 409 and outside.json()["code"] == "no_program_for_location"
    nowhere = statewide_api.post("/api/v1/incidents/", _body("988-10", None, None), format="json")
    assert nowhere.status_code == 409 and nowhere.json()["code"] == "no_program_for_location"
    unknown = statewide_api.post(
        "/api/v1/incidents/", _body("988-11", 39.74, -104.99, program="nope"), format="json"
    )
    assert unknown.status_code == 400 and "program" in unknown.json()
    assert Incident.objects.count() == before


def test_a_program_client_naming_another_program_is_403(programs):
    a, _b = programs
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {a['key']}")
    before = Incident.objects.count()
    other = api.post("/api/v1/incidents/", _body("A-1", 39.74, -104.99, program="aurora-art"), format="json")
    assert other.status_code == 403
    assert Incident.objects.count() == before
    # Its own, named or not, and wherever the call is: its program's.
    own = api.post("/api/v1/incidents/", _body("A-2", 39.75, -104.78, program="denver-star"), format="json")
    assert own.status_code == 201 and own.json()["program"] == "denver-star"
    unnamed = api.post("/api/v1/incidents/", _body("A-3", 41.0, -100.0), format="json")
    assert unnamed.status_code == 201 and unnamed.json()["program"] == "denver-star"


def test_external_ids_stay_per_client_across_programs(statewide_api, programs):
    a, _b = programs
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {a['key']}")
    assert api.post("/api/v1/incidents/", _body("SAME-1", 39.74, -104.99), format="json").status_code == 201
    assert (
        statewide_api.post("/api/v1/incidents/", _body("SAME-1", 39.75, -104.78), format="json").status_code
        == 201
    )


# --- the statewide dispatcher ------------------------------------------------------------------
def test_a_statewide_dispatcher_assigns_as_units_to_as_call_and_never_bs(client, programs):
    a, b = programs
    dispatcher988 = factories.UserFactory(username="d988", roles=["dispatcher"], roles__statewide=True)
    for world in (a, b):
        services.assignment_set_status(
            assignment_id=world["assignment"].pk, status="en_route", actor=world["dispatcher"]
        )
        services.assignment_set_status(
            assignment_id=world["assignment"].pk, status="on_scene", actor=world["dispatcher"]
        )
        services.assignment_set_status(
            assignment_id=world["assignment"].pk, status="cleared", actor=world["dispatcher"]
        )
    a_call = services.incident_create(
        fields=IncidentFields(
            source="988",
            call_type_code="WELFARE",
            received_at=timezone.now(),
            address="50 Alpha Way",
            screen_weapons=False,
            screen_violence=False,
            screen_medical_emergency=False,
            screen_police_only=False,
        ),
        actor=dispatcher988,
        program=a["program"],
    )
    api = APIClient()
    api.force_authenticate(dispatcher988)
    before = (Assignment.objects.count(), a_call.changes.count())
    wrong = api.post(f"/api/v1/incidents/{a_call.pk}/assign", {"unit": "BRV-1"}, format="json")
    assert wrong.status_code == 400 and "unit" in wrong.json()
    assert (Assignment.objects.count(), a_call.changes.count()) == before
    a_call.refresh_from_db()
    assert a_call.status == Incident.Status.PENDING
    # The console refuses it too, as a form error, and writes nothing.
    client.force_login(dispatcher988)
    console = client.post(f"/dispatch/incidents/{a_call.pk}/assign/", {"unit": "BRV-1"})
    assert console.status_code in (400, 422)
    assert Assignment.objects.count() == before[0]
    right = api.post(f"/api/v1/incidents/{a_call.pk}/assign", {"unit": "ALF-1"}, format="json")
    assert right.status_code == 201 and right.json()["unit"] == "ALF-1"
    # The console of the statewide dispatcher shows both programs' calls, each with its program.
    page = client.get("/dispatch/").content.decode()
    assert "Denver STAR" in page and "Aurora ART" in page
    narrowed = client.get("/dispatch/", {"program": "denver-star"}).content.decode()
    assert "Bravo Way" not in narrowed and "Alpha Way" in narrowed


def test_a_program_clients_webhooks_carry_only_its_programs_events(programs):
    from dispatch.models import Event
    from dispatch.webhooks import message_for

    a, b = programs
    b_events = Event.objects.filter(program=b["program"])
    a_events = Event.objects.filter(program=a["program"])
    assert b_events.filter(type="unit.updated").exists() and a_events.filter(type="unit.updated").exists()
    assert all(message_for(event, a["client"]) is None for event in b_events)
    assert any(message_for(event, a["client"]) is not None for event in a_events.filter(type="unit.updated"))


def test_people_of_two_programs_are_never_merged(client, programs):
    from referrals.models import Person

    a, b = programs
    statewide = factories.UserFactory(username="state-cm", roles=["supervisor"], roles__statewide=True)
    client.force_login(statewide)
    url = "/referrals/people/merge/"
    response = client.post(url, {"survivor": a["person"].pk, "merged": b["person"].pk})
    assert response.status_code == 400 and "another program" in response.content.decode()
    assert Person.objects.get(pk=b["person"].pk).merged_into_id is None
    # A member of A does not even find B's person.
    client.force_login(a["case_manager"])
    response = client.post(url, {"survivor": a["person"].pk, "merged": b["person"].pk})
    assert response.status_code in (400, 403) and Person.objects.get(pk=b["person"].pk).merged_into_id is None


def test_b_persons_are_not_put_on_as_follow_up(programs):
    from referrals.models import FollowUp

    a, b = programs
    before = FollowUp.objects.count()
    with pytest.raises(services.ServiceInvalid) as refused:
        referral_services.follow_up_create(
            actor=None, service_type="housing", consent=True, person=b["person"], incident=a["call"]
        )
    assert refused.value.field == "program"
    assert FollowUp.objects.count() == before
