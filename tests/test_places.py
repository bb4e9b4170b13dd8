"""Places (CONTRACT.md 1.1): every channel's incident with an address and no coordinates is
geocoded, outside its write transaction and never refused or held for it; `location.geocoded`
says whether it was; `possible_duplicates` names the open calls at the same place in the hour
before; a dispatcher closes a duplicate by linking it to its original."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dispatch import geocoding, services
from dispatch.models import ClinicianTransfer, Event, Incident, IncidentChange
from referrals import services as referral_services
from referrals.models import PoliceReferral
from tests import factories
from tests.test_geocoding import GeocoderServer, geocoder, point  # noqa: F401 (geocoder: a fixture)

pytestmark = pytest.mark.django_db

COURT_PLACE = (39.7431, -104.9878)


@pytest.fixture
def gazetteer(db):
    return {
        "court": point("1550 Court Pl", *COURT_PLACE),
        "larimer": point("1500 Larimer St", 39.748869, -104.998285),
    }


def post(api, body):
    return api.post("/api/v1/incidents/", body, format="json")


def address_only(address="1550 Court Pl", **overrides):
    return factories.cad_incident_body(location={"address": address, "details": "lobby"}, **overrides)


# --- Geocoding, by channel ------------------------------------------------------------------
def test_an_api_incident_with_an_address_only_is_placed_and_says_so(cad, call_types, gazetteer):
    response = post(cad, address_only())
    assert response.status_code == 201
    location = response.json()["location"]
    assert (location["latitude"], location["longitude"]) == COURT_PLACE
    assert location["geocoded"] is True
    incident = Incident.objects.get()
    assert incident.geocoded and incident.address_key == "1550 CT PL"
    assert Event.objects.get().data["location"]["geocoded"] is True


def test_an_unknown_address_is_stored_unplaced_not_refused(cad, call_types, gazetteer):
    response = post(cad, address_only("9 Nowhere Lane"))
    assert response.status_code == 201
    assert response.json()["location"] == {
        "address": "9 Nowhere Lane",
        "latitude": None,
        "longitude": None,
        "details": "lobby",
        "geocoded": False,
    }


def test_coordinates_the_sender_gave_stand_and_no_geocoder_is_asked(cad, call_types, gazetteer, monkeypatch):
    monkeypatch.setattr(geocoding, "geocode", lambda address: pytest.fail("the geocoder was asked"))
    body = factories.cad_incident_body(
        location={"address": "1550 Court Pl", "latitude": 39.7, "longitude": -105.0}
    )
    location = post(cad, body).json()["location"]
    assert (location["latitude"], location["longitude"], location["geocoded"]) == (39.7, -105.0, False)


def test_a_repeated_post_keeps_its_point_without_asking_again(cad, call_types, gazetteer, monkeypatch):
    body = address_only()
    post(cad, body)
    before = IncidentChange.objects.count()
    monkeypatch.setattr(geocoding, "geocode", lambda address: pytest.fail("asked again"))
    response = post(cad, body)
    assert response.status_code == 200
    assert response.json()["location"]["geocoded"] is True
    assert response.json()["location"]["latitude"] == COURT_PLACE[0]
    assert IncidentChange.objects.count() == before


def test_a_new_address_in_an_update_is_placed_again(cad, call_types, gazetteer):
    post(cad, address_only())
    location = post(cad, address_only("1500 Larimer St")).json()["location"]
    assert (location["latitude"], location["longitude"], location["geocoded"]) == (
        39.748869,
        -104.998285,
        True,
    )
    change = IncidentChange.objects.filter(kind="updated").latest("id").changes
    assert change["latitude"] == [COURT_PLACE[0], 39.748869]


def test_a_geocoder_that_raises_never_refuses_the_incident(cad, call_types, monkeypatch):
    def broken(address):
        raise RuntimeError("geocoder on fire")

    monkeypatch.setattr(geocoding, "geocode", broken)
    response = post(cad, address_only())
    assert response.status_code == 201
    assert response.json()["location"]["geocoded"] is False


def test_the_console_intake_places_the_call_and_names_the_nearest_unit(
    client, personas, call_types, gazetteer
):
    factories.UnitFactory(callsign="CR-1", latitude=39.7392, longitude=-104.9903)
    client.force_login(personas["dispatcher"])
    data = {
        "source": "988",
        "call_type": "WELFARE",
        "address": "1550 Court Place",
        "screen_weapons": "no",
        "screen_violence": "no",
        "screen_medical_emergency": "no",
        "screen_police_only": "no",
    }
    response = client.post("/dispatch/intake/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert (incident.latitude, incident.longitude, incident.geocoded) == (*COURT_PLACE, True)
    html = response.content.decode()
    assert "Found the address: placed on the map." in html
    assert "Recommended unit: <strong>CR-1</strong>, 0.5 km away." in html


def test_an_urgent_police_referral_becomes_a_placed_call(personas, call_types, gazetteer):
    referral = referral_services.referral_file(
        actor=personas["police_officer"],
        data=referral_services.ReferralData(
            urgency=PoliceReferral.Urgency.NOW,
            call_type_code="WELFARE",
            address="1550 Court Pl",
            situation="Man shouting at cars",
            officer_name="Officer Diaz",
            officer_callback="303-555-0110",
            consent_to_contact=True,
        ),
    )
    incident = referral.incident
    assert (incident.latitude, incident.longitude, incident.geocoded) == (*COURT_PLACE, True)


def test_a_claimed_outreach_referral_with_no_point_is_placed_by_its_address(personas, call_types, gazetteer):
    unit = factories.UnitFactory(callsign="CR-9")
    referral = referral_services.referral_file(
        actor=personas["police_officer"],
        data=referral_services.ReferralData(
            urgency=PoliceReferral.Urgency.LATER,
            call_type_code="UNSHELTERED",
            address="1500 Larimer St",
            situation="Sleeps in the alley most nights",
            officer_name="Officer Diaz",
            officer_callback="303-555-0110",
            consent_to_contact=True,
        ),
    )
    claimed = referral_services.referral_claim(
        actor=personas["responder"], referral_id=referral.pk, unit=unit
    )
    assert (claimed.incident.latitude, claimed.incident.geocoded) == (39.748869, True)


@pytest.mark.django_db(transaction=True)
def test_every_channel_geocodes_outside_its_write_transaction(
    cad, personas, call_types, gazetteer, monkeypatch
):
    """A slow geocoder must hold no lock: on SQLite the first write locks the whole database."""
    looked_up = []
    real = geocoding.geocode

    def watched(address):
        looked_up.append((address, connection.in_atomic_block))
        return real(address)

    monkeypatch.setattr(geocoding, "geocode", watched)
    post(cad, address_only())
    services.incident_create(
        fields=services.IncidentFields(
            source="988", call_type_code="WELFARE", received_at=timezone.now(), address="1500 Larimer St"
        ),
        actor=personas["dispatcher"],
    )
    referral_services.referral_file(
        actor=personas["police_officer"],
        data=referral_services.ReferralData(
            urgency=PoliceReferral.Urgency.NOW,
            call_type_code="WELFARE",
            address="1550 Court Pl",
            situation="x",
            officer_name="o",
            officer_callback="1",
            consent_to_contact=False,
        ),
    )
    assert [address for address, _ in looked_up] == ["1550 Court Pl", "1500 Larimer St", "1550 Court Pl"]
    assert not any(inside for _, inside in looked_up)


# --- The HTTP geocoder: fallback and timeout, through the API ---------------------------------
def test_a_failing_http_geocoder_falls_back_to_the_gazetteer(cad, call_types, gazetteer, geocoder):  # noqa: F811
    geocoder.answer({"error": "overloaded"}, status=503)
    response = post(cad, address_only())
    assert response.status_code == 201
    assert response.json()["location"]["geocoded"] is True
    assert response.json()["location"]["latitude"] == COURT_PLACE[0]
    assert len(geocoder.requests) == 1


def test_a_slow_http_geocoder_is_given_up_and_the_call_is_still_placed(
    cad,
    call_types,
    gazetteer,
    geocoder,  # noqa: F811
    settings,
):
    settings.GEOCODER_TIMEOUT_SECONDS = 0.3
    geocoder.answer([{"lat": "1", "lon": "1"}], delay=5)
    started = time.monotonic()
    response = post(cad, address_only())
    elapsed = time.monotonic() - started
    assert response.status_code == 201
    assert response.json()["location"]["latitude"] == COURT_PLACE[0]
    assert elapsed < 2.0, f"the incident waited {elapsed:.1f} s for a geocoder with a 0.3 s timeout"


def test_an_http_geocoders_point_is_taken_first(cad, call_types, gazetteer, geocoder):  # noqa: F811
    geocoder.answer([{"lat": "39.7001", "lon": "-104.9001", "display_name": "1550 Court Place"}])
    location = post(cad, address_only()).json()["location"]
    assert (location["latitude"], location["longitude"], location["geocoded"]) == (39.7001, -104.9001, True)


# --- Possible duplicates --------------------------------------------------------------------
def incident_at(address="1550 Court Pl", minutes_ago=0, latitude=None, longitude=None, **extra):
    return factories.incident(
        address=address,
        latitude=latitude,
        longitude=longitude,
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
        **extra,
    )


def test_a_call_at_the_same_address_within_the_hour_is_a_possible_duplicate(cad, call_types):
    first = incident_at("1550 Court Place, Apt 4", minutes_ago=20)
    response = post(cad, address_only("1550 COURT PL."))
    assert response.json()["possible_duplicates"] == [str(first.pk)]
    assert response.json()["duplicate_of"] is None


def test_a_call_within_150_metres_is_a_possible_duplicate_and_one_further_is_not(cad, call_types):
    near = incident_at("Civic Center Park", minutes_ago=5, latitude=39.7431, longitude=-104.9890)  # ~100 m
    incident_at("Somewhere else", minutes_ago=5, latitude=39.7431, longitude=-104.9850)  # ~240 m
    body = factories.cad_incident_body(
        location={
            "address": "A bench by the library",
            "latitude": COURT_PLACE[0],
            "longitude": COURT_PLACE[1],
        }
    )
    assert post(cad, body).json()["possible_duplicates"] == [str(near.pk)]


def test_older_closed_or_later_calls_are_not_possible_duplicates(cad, call_types):
    incident_at(minutes_ago=91)  # 61 minutes before the call below
    cancelled = incident_at(minutes_ago=10)
    services.incident_cancel(incident=cancelled, actor=None)
    body = address_only(received_at=timezone.now() - timedelta(minutes=30))
    created = post(cad, body).json()
    incident_at(minutes_ago=0)  # received after it: it is the later one's duplicate, not this one's
    assert cad.get(f"/api/v1/incidents/{created['id']}/").json()["possible_duplicates"] == []


def test_a_closed_original_leaves_the_later_calls_lists(cad, call_types):
    first = incident_at(minutes_ago=15)
    created = post(cad, address_only()).json()
    assert created["possible_duplicates"] == [str(first.pk)]
    services.incident_cancel(incident=first, actor=None)
    shown = cad.get(f"/api/v1/incidents/{created['id']}/").json()
    assert shown["possible_duplicates"] == []
    # The consoles hear of it, as of any change to the call.
    assert Event.objects.filter(type="incident.updated").latest("id").data["id"] == created["id"]


def test_possible_duplicates_are_on_every_answer_and_event(cad, call_types):
    first = incident_at(minutes_ago=5)
    created = post(cad, address_only()).json()
    listed = cad.get("/api/v1/incidents/", {"external_id": created["external_id"]}).json()
    event = Event.objects.filter(type="incident.created").latest("id")
    assert listed[0]["possible_duplicates"] == event.data["possible_duplicates"] == [str(first.pk)]


# --- Linking a duplicate to its original -----------------------------------------------------
def test_linking_closes_the_duplicate_with_that_reason(personas, call_types):
    original = incident_at(minutes_ago=10)
    duplicate = incident_at(minutes_ago=2)
    services.incident_transfer_to_clinician(incident_id=duplicate.pk, actor=None)

    services.incident_link_duplicate(
        incident_id=duplicate.pk, original_id=original.pk, actor=personas["dispatcher"]
    )

    duplicate.refresh_from_db()
    assert duplicate.status == Incident.Status.CLOSED and duplicate.duplicate_of == original
    change = duplicate.changes.get(kind=IncidentChange.Kind.STATUS)
    assert change.changes["duplicate_of"] == [None, str(original.pk)]
    assert change.changes["resolution"] == [None, "duplicate"]
    assert change.actor == personas["dispatcher"]
    assert duplicate.clinician_transfer.outcome == ClinicianTransfer.Outcome.CANCELLED
    event = Event.objects.latest("id")
    assert event.type == "incident.updated"
    assert event.data["status"] == "closed" and event.data["duplicate_of"] == str(original.pk)


@pytest.mark.parametrize("refusal", ["itself", "not_open", "assigned", "original_cancelled", "original_dup"])
def test_linking_refuses_what_it_cannot_do(call_types, refusal):
    original = incident_at(minutes_ago=10)
    duplicate = incident_at(minutes_ago=2)
    expected = {
        "not_open": "incident_not_open",
        "assigned": "already_assigned",
        "original_cancelled": "original_not_usable",
        "original_dup": "original_not_usable",
    }.get(refusal)
    target = original
    if refusal == "itself":
        target = duplicate
    elif refusal == "not_open":
        services.incident_cancel(incident=duplicate, actor=None)
    elif refusal == "assigned":
        services.assignment_create(
            incident_id=duplicate.pk, callsign=factories.UnitFactory().callsign, actor=None
        )
    elif refusal == "original_cancelled":
        services.incident_cancel(incident=original, actor=None)
    else:
        earlier = incident_at(minutes_ago=30)
        services.incident_link_duplicate(incident_id=original.pk, original_id=earlier.pk, actor=None)
    status_before = Incident.objects.get(pk=duplicate.pk).status

    if refusal == "itself":
        with pytest.raises(services.ServiceInvalid) as invalid:
            services.incident_link_duplicate(incident_id=duplicate.pk, original_id=target.pk, actor=None)
        assert invalid.value.errors == {"original": ["A call cannot be a duplicate of itself."]}
    else:
        with pytest.raises(services.ServiceConflict) as conflict:
            services.incident_link_duplicate(incident_id=duplicate.pk, original_id=target.pk, actor=None)
        assert conflict.value.code == expected
    duplicate.refresh_from_db()
    assert duplicate.status == status_before and duplicate.duplicate_of is None


def test_the_console_flags_a_duplicate_and_links_it_in_one_action(client, personas, call_types):
    original = incident_at(minutes_ago=10, call_type="WELFARE")
    duplicate = incident_at("1550 court place", minutes_ago=1, call_type="TRESPASS")
    client.force_login(personas["dispatcher"])

    queue = client.get("/dispatch/console/queue/").content.decode()
    assert f'data-duplicates="{original.pk}"' in queue
    assert "Possible duplicate" in queue and "Has a duplicate" in queue
    details = client.get(f"/dispatch/console/incidents/{duplicate.pk}/details/").content.decode()
    assert "<code>WELFARE</code> at 1550 Court Pl, 9 min earlier" in details
    assert "same address" in details

    response = client.post(
        f"/dispatch/incidents/{duplicate.pk}/duplicate/", {"original": original.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert (
        "Closed TRESPASS at 1550 court place as a duplicate of WELFARE at 1550 Court Pl."
        in response.content.decode()
    )
    assert Incident.objects.get(pk=duplicate.pk).duplicate_of == original
    gone = client.get(f"/dispatch/console/incidents/{duplicate.pk}/row/").content.decode()
    assert 'data-gone="true"' in gone


def test_the_console_answers_a_refused_link_without_wiping_the_page(client, personas, call_types):
    duplicate = incident_at(minutes_ago=1)
    client.force_login(personas["dispatcher"])
    response = client.post(
        f"/dispatch/incidents/{duplicate.pk}/duplicate/", {"original": duplicate.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert "A call cannot be a duplicate of itself." in response.content.decode()
    response = client.post(
        f"/dispatch/incidents/{duplicate.pk}/duplicate/", {"original": "not-a-uuid"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
