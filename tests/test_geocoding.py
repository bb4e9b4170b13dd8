import csv
import gzip
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command

from dispatch.geocoding import AddressKeys, address_key, address_keys, address_suggest, geocode
from dispatch.management.commands.generate_history import STREETS
from dispatch.management.commands.load_demo import INCIDENTS
from dispatch.models import AddressPoint

DEMO_ADDRESSES = Path(__file__).resolve().parent.parent / "dispatch" / "fixtures" / "demo_addresses.csv"
OA_HEADER = "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH"


def point(address, latitude=39.74, longitude=-104.99, city="Denver"):
    keys = address_keys(address, city)
    number, _, street = address.partition(" ")
    return AddressPoint.objects.create(
        full_address=address,
        key=keys.key,
        city_key=keys.city,
        number=number,
        street=street,
        city=city,
        latitude=latitude,
        longitude=longitude,
    )


def import_file(tmp_path, text, name="points.csv", **options) -> str:
    path = tmp_path / name
    path.write_text(text)
    out = io.StringIO()
    call_command("import_addresses", str(path), stdout=out, **options)
    return out.getvalue()


# --- Normalisation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written, key",
    [
        ("1550 Court Place", "1550 CT PL"),
        ("1550 COURT PL.", "1550 CT PL"),
        ("  1550  court\t pl ", "1550 CT PL"),
        ("2100 East Colfax Avenue", "2100 E COLFAX AVE"),
        ("3300 West 38th Avenue", "3300 W 38TH AVE"),
        ("400 North Lincoln Street", "400 N LINCOLN ST"),
        ("1000 Federal Boulevard", "1000 FEDERAL BLVD"),
        ("1437 Bannock St Apt 4B", "1437 BANNOCK ST"),
        ("1437 Bannock St #4B", "1437 BANNOCK ST"),
        ("1437 Bannock St # 4B", "1437 BANNOCK ST"),
        ("1437 Bannock St, Suite 200", "1437 BANNOCK ST"),
        ("1437 Bannock St Unit 4, Denver, CO 80202", "1437 BANNOCK ST"),
        ("16th St Mall & Arapahoe", "16TH ST MALL AND ARAPAHOE"),
        ("16th Street Mall and Arapahoe", "16TH ST MALL AND ARAPAHOE"),
        ("12 O'Brien Sq", "12 OBRIEN SQ"),
        # A street word right after the number is the street's, not a unit.
        ("100 Lot Ave", "100 LOT AVE"),
        # Without a ZIP code after it, a last "Ct" is a court, not Connecticut.
        ("1200 Elm Ct", "1200 ELM CT"),
        ("1200 Elm Ct Denver CO 80202-1234", "1200 ELM CT DENVER"),
    ],
)
def test_an_address_is_normalised_for_matching(written, key):
    assert address_key(written) == key


def test_the_city_is_read_from_the_part_after_the_street_and_its_unit():
    assert address_keys("1550 Court Pl, Apt 5, Denver, CO 80202, USA") == AddressKeys("1550 CT PL", "DENVER")
    assert address_keys("1550 Court Pl, North Denver") == AddressKeys("1550 CT PL", "N DENVER")
    assert address_keys("1550 Court Pl, CO 80202") == AddressKeys("1550 CT PL", "")
    assert address_keys("1550 Court Pl", city="Denver CO") == AddressKeys("1550 CT PL", "DENVER")


def test_nothing_to_normalise_gives_an_empty_key():
    assert address_key("") == address_key("  , ") == ""


# --- Import ---------------------------------------------------------------------------------
def test_it_imports_openaddresses_columns_in_any_case(db, tmp_path):
    out = import_file(
        tmp_path,
        "lon,lat,number,street,unit,city,district,region,postcode,id,hash\n"
        "-104.9878,39.7431,1550,Court Pl,,Denver,Denver,CO,80202,1,a\n"
        "-104.9903,39.7391,1437,Bannock St,,Denver,Denver,CO,80204,2,b\n",
    )

    assert out.strip() == "Loaded 2, updated 0, skipped 0."
    court = AddressPoint.objects.get(key="1550 CT PL")
    assert (court.full_address, court.number, court.street, court.city, court.postal_code) == (
        "1550 Court Pl",
        "1550",
        "Court Pl",
        "Denver",
        "80202",
    )
    assert (court.city_key, court.latitude, court.longitude) == ("DENVER", 39.7431, -104.9878)


def test_it_imports_full_address_latitude_longitude(db, tmp_path):
    out = import_file(
        tmp_path,
        'Full_Address,LATITUDE,Longitude\n"1550 Court Place, Denver, CO 80202",39.7431,-104.9878\n'
        "Civic Center Park,39.7372,-104.9875\n",
    )

    assert out.strip() == "Loaded 2, updated 0, skipped 0."
    court = AddressPoint.objects.get(key="1550 CT PL")
    assert (court.full_address, court.number, court.street) == (
        "1550 Court Place, Denver, CO 80202",
        "1550",
        "Court Place",
    )
    assert court.city_key == "DENVER"
    park = AddressPoint.objects.get(key="CIVIC CTR PARK")
    assert (park.number, park.street) == ("", "Civic Center Park")


def test_re_importing_a_file_updates_its_points_without_doubling_them(db, tmp_path):
    rows = f"{OA_HEADER}\n-104.9878,39.7431,1550,Court Pl,,Denver,,CO,80202,,\n"
    import_file(tmp_path, rows)

    moved = rows.replace("39.7431", "39.7440") + "-104.9903,39.7391,1437,Bannock St,,Denver,,CO,80204,,\n"
    out = import_file(tmp_path, moved)

    assert out.strip() == "Loaded 1, updated 1, skipped 0."
    assert AddressPoint.objects.count() == 2
    assert AddressPoint.objects.get(key="1550 CT PL").latitude == 39.7440


def test_units_of_one_building_become_one_point_across_batches(db, tmp_path):
    rows = [f"-104.99,39.74,100,Main St,# {unit},Denver,,CO,80202,," for unit in range(1, 6)]
    out = import_file(tmp_path, "\n".join([OA_HEADER, *rows]) + "\n", batch_size=2)

    assert out.strip() == "Loaded 1, updated 4, skipped 0."
    assert AddressPoint.objects.count() == 1


def test_the_same_street_address_in_two_towns_is_two_points(db, tmp_path):
    import_file(
        tmp_path,
        f"{OA_HEADER}\n-104.99,39.74,100,Main St,,Denver,,CO,,,\n"
        "-105.02,39.61,100,Main St,,Littleton,,CO,,,\n",
    )

    assert sorted(AddressPoint.objects.values_list("city_key", flat=True)) == ["DENVER", "LITTLETON"]


def test_bad_rows_are_counted_by_reason_and_never_stop_the_import(db, tmp_path):
    out = import_file(
        tmp_path,
        f"{OA_HEADER}\n"
        ",,1550,Court Pl,,Denver,,CO,,,\n"  # missing coordinates
        "0,0,1551,Court Pl,,Denver,,CO,,,\n"  # Null Island: missing too
        "-104.99,95.0,1552,Court Pl,,Denver,,CO,,,\n"  # out of range
        "-204.99,39.7,1553,Court Pl,,Denver,,CO,,,\n"  # out of range
        "east,north,1554,Court Pl,,Denver,,CO,,,\n"  # not numbers
        "-104.99,39.74,,,,Denver,,CO,,,\n"  # blank address
        "-104.99,39.74,1555,,,Denver,,CO,,,\n"  # a number and no street
        f"-104.99,39.74,1556,{'Long ' * 60}St,,Denver,,CO,,,\n"  # too long
        "-104.9878,39.7431,1437,Bannock St,,Denver,,CO,,,\n"
        "short,row\n",  # blank address
    )

    assert out.strip() == (
        "Loaded 1, updated 0, skipped 9 (address too long: 1, blank address: 3, "
        "coordinates not numbers: 1, coordinates out of range: 2, missing coordinates: 2)."
    )
    assert list(AddressPoint.objects.values_list("key", flat=True)) == ["1437 BANNOCK ST"]


def test_a_row_the_csv_reader_cannot_read_is_skipped_and_the_next_one_loads(db, tmp_path):
    out = import_file(
        tmp_path,
        f'{OA_HEADER}\n-104.99,39.74,1,"{"x" * 200_000}",,Denver,,CO,,,\n'
        "-104.9878,39.7431,1550,Court Pl,,Denver,,CO,,,\n",
    )

    assert out.strip() == "Loaded 1, updated 0, skipped 1 (unreadable row: 1)."


def test_a_gzipped_csv_is_read_as_it_is(db, tmp_path):
    path = tmp_path / "points.csv.gz"
    path.write_bytes(gzip.compress(f"{OA_HEADER}\n-104.9878,39.7431,1550,Court Pl,,Denver,,CO,,,\n".encode()))

    call_command("import_addresses", str(path), stdout=io.StringIO())

    assert AddressPoint.objects.filter(key="1550 CT PL").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "unzip it"),
        (b"\xff\xfe\xfa not text", "not utf-8-sig text"),
        (b'{"type": "FeatureCollection", "features": []}\n', "neither OpenAddresses' columns"),
        (b"name,phone\nAda,555\n", "it has: name, phone"),
        (b"", "empty"),
    ],
)
def test_a_file_that_is_not_an_address_csv_is_refused_clearly(db, tmp_path, content, message):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)

    with pytest.raises(CommandError, match=message):
        call_command("import_addresses", str(path), stdout=io.StringIO())
    assert not AddressPoint.objects.exists()


def test_a_missing_file_is_refused_clearly(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_addresses", str(tmp_path / "nowhere.csv"))


# --- The demo city's addresses ----------------------------------------------------------------
def demo_rows() -> list[dict]:
    with DEMO_ADDRESSES.open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_demo_addresses_are_openaddresses_rows_in_denver():
    rows = demo_rows()

    assert ",".join(rows[0]) == OA_HEADER
    assert 120 <= len(rows) <= 200
    for row in rows:
        assert 39.6 < float(row["LAT"]) < 39.8 and -105.1 < float(row["LON"]) < -104.85, row
        assert (row["CITY"], row["REGION"]) == ("Denver", "CO")


def test_every_demo_incident_address_is_found_where_load_demo_puts_it(db):
    call_command("import_addresses", str(DEMO_ADDRESSES), stdout=io.StringIO())

    for _ext, _source, _code, _priority, address, latitude, longitude, *_ in INCIDENTS:
        found = geocode(address)
        assert found is not None, address
        assert (found.latitude, found.longitude) == (latitude, longitude), address


def test_the_tests_and_history_addresses_are_in_the_demo_city(db):
    call_command("import_addresses", str(DEMO_ADDRESSES), stdout=io.StringIO())

    for address in ("100 Main St", "1437 Bannock St", "1550 Court Pl", "1400 Larimer St", "20 Federal Blvd"):
        assert geocode(address) is not None, address
    streets = {row["STREET"] for row in demo_rows()}
    assert set(STREETS) <= streets


@pytest.fixture(params=["code points", "a language's collation"])
def text_order(request, monkeypatch):
    """Prefixes are read two ways: as ranges where text sorts as code points, with LIKE where a
    language's collation makes a range no prefix. Both must find the same."""
    if request.param != "code points":
        monkeypatch.setattr("dispatch.geocoding._text_sorts_as_code_points", lambda: False)
    return request.param


# --- Matching -------------------------------------------------------------------------------
def test_an_address_is_found_whatever_its_case_punctuation_and_spelling(db):
    point("1550 Court Pl", 39.7431, -104.9878)

    for written in ("1550 Court Pl", "1550 COURT PLACE.", "1550 court pl, Denver, CO 80202"):
        found = geocode(written)
        assert (found.latitude, found.longitude, found.matched_address, found.source) == (
            39.7431,
            -104.9878,
            "1550 Court Pl",
            "gazetteer",
        ), written


def test_the_unit_and_an_unknown_city_are_ignored_when_nothing_matches_exactly(db, text_order):
    point("1550 Court Pl", 39.7431, -104.9878)

    for written in (
        "1550 Court Pl Apt 12",
        "1550 Court Pl, Aurora",
        "1550 Court Pl Denver CO 80202",
        "1550 Court Pl rear door",
    ):
        assert geocode(written).latitude == 39.7431, written


def test_the_city_chooses_between_towns_with_the_same_street_address(db, text_order):
    point("100 Main St", 39.74, -104.99, city="Denver")
    point("100 Main St", 39.61, -105.02, city="Littleton")

    assert geocode("100 Main St, Littleton, CO").latitude == 39.61
    assert geocode("100 Main St Littleton CO").latitude == 39.61
    assert geocode("100 Main St, Denver").latitude == 39.74


def test_a_street_address_in_several_towns_and_no_town_said_is_not_guessed(db):
    point("100 Main St", 39.74, -104.99, city="Denver")
    point("100 Main St", 39.61, -105.02, city="Littleton")

    assert geocode("100 Main St") is None


@pytest.mark.parametrize("written", ["9999 Nowhere St", "1550", "", "   ", None, 1550])
def test_an_unknown_or_empty_address_is_not_found(db, written):
    point("1550 Court Pl")

    assert geocode(written) is None


def test_a_longer_street_address_is_not_taken_for_a_shorter_one(db):
    point("100 Main St Mall")

    assert geocode("100 Main St") is None


# --- Suggestions ----------------------------------------------------------------------------
@pytest.fixture
def downtown(db, text_order):
    for address in (
        "1550 Court Pl",
        "1400 Larimer St",
        "1400 Lawrence St",
        "1437 Bannock St",
        "1200 N Broadway",
        "1200 Navajo St",
    ):
        point(address)


def test_suggestions_start_with_what_was_typed_in_key_order(downtown):
    assert address_suggest("14") == ["1400 Larimer St", "1400 Lawrence St", "1437 Bannock St"]
    assert address_suggest("1400 la") == ["1400 Larimer St", "1400 Lawrence St"]
    assert address_suggest("14", limit=2) == ["1400 Larimer St", "1400 Lawrence St"]


def test_a_word_being_typed_finds_its_abbreviation(downtown):
    assert address_suggest("1550 Cour") == ["1550 Court Pl"]
    assert address_suggest("1550 court place") == ["1550 Court Pl"]
    assert address_suggest("1550 Court Pl, Den") == ["1550 Court Pl"]
    # "Nor" may be North (N), but only as a whole word: Navajo St is there by its own letters.
    assert address_suggest("1200 Nor") == ["1200 N Broadway"]
    assert address_suggest("1200 Na") == ["1200 Navajo St"]


def test_too_little_typed_or_nothing_known_suggests_nothing(downtown):
    assert address_suggest("1") == address_suggest("") == address_suggest("9999") == []


def test_an_address_in_two_towns_is_suggested_once(db):
    point("100 Main St", city="Denver")
    point("100 Main St", city="Littleton")

    assert address_suggest("100 Ma") == ["100 Main St"]


# --- The HTTP geocoder ----------------------------------------------------------------------
class GeocoderServer:
    """A real HTTP server on 127.0.0.1 answering as the test tells it to."""

    def __init__(self):
        self.status = 200
        self.body = b"[]"
        self.delay = 0.0
        self.trickle = 0.0
        self.requests: list[dict] = []
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                server.requests.append({"path": parts.path, **parse_qs(parts.query)})
                if server.delay:
                    server.released.wait(server.delay)
                try:
                    self.send_response(server.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(server.body)))
                    self.end_headers()
                    if server.trickle:
                        # A byte at a time, each well within a socket timeout: only a deadline
                        # on the whole answer stops waiting for it.
                        for i in range(len(server.body)):
                            self.wfile.write(server.body[i : i + 1])
                            self.wfile.flush()
                            if server.released.wait(server.trickle):
                                break
                    else:
                        self.wfile.write(server.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the geocoder gave up waiting, as the slow-answer test wants

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def answer(self, body, status=200, delay=0.0, trickle=0.0):
        self.body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.status, self.delay, self.trickle = status, delay, trickle


@pytest.fixture
def geocoder(settings):
    server = GeocoderServer()
    server.thread.start()
    settings.GEOCODER_URL = f"{server.url}/search"
    settings.GEOCODER_TIMEOUT_SECONDS = 1.5
    yield server
    server.released.set()
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def court_place(db):
    return point("1550 Court Pl", 39.7431, -104.9878)


def test_a_nominatim_answer_is_used_first(geocoder, court_place):
    geocoder.answer([{"lat": "39.74312", "lon": "-104.98781", "display_name": "1550, Court Place, Denver"}])

    found = geocode("1550 Court Pl")

    assert (found.latitude, found.longitude, found.source) == (39.74312, -104.98781, "http")
    assert found.matched_address == "1550, Court Place, Denver"
    assert geocoder.requests == [
        {"path": "/search", "q": ["1550 Court Pl"], "format": ["jsonv2"], "limit": ["1"]}
    ]


def test_a_pelias_answer_gives_longitude_first(geocoder, court_place, settings):
    settings.GEOCODER_URL = f"{geocoder.url}/v1/search?api_key=k1"
    geocoder.answer(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [-104.98781, 39.74312]},
                    "properties": {"label": "1550 Court Pl, Denver, CO, USA"},
                }
            ],
        }
    )

    found = geocode("1550 Court Pl")

    assert (found.latitude, found.longitude, found.source) == (39.74312, -104.98781, "http")
    assert found.matched_address == "1550 Court Pl, Denver, CO, USA"
    assert geocoder.requests == [
        {"path": "/v1/search", "api_key": ["k1"], "text": ["1550 Court Pl"], "size": ["1"]}
    ]


@pytest.mark.parametrize(
    "status, body",
    [
        (500, '{"error": "internal"}'),
        (404, "<html>Not Found</html>"),
        (200, "<html>this is not JSON"),
        (200, "[]"),
        (200, '{"type": "FeatureCollection", "features": []}'),
        (200, '[{"lat": "north", "lon": "west"}]'),
        (200, '[{"lat": "95", "lon": "-104.9"}]'),
        (200, '{"features": [{"geometry": {"coordinates": [-104.9]}}]}'),
        (200, '"just a string"'),
    ],
)
def test_a_failed_or_empty_answer_falls_back_to_the_gazetteer(geocoder, court_place, status, body):
    geocoder.answer(body, status=status)

    found = geocode("1550 Court Pl")

    assert (found.latitude, found.source) == (39.7431, "gazetteer")
    assert len(geocoder.requests) == 1


def test_a_slow_geocoder_is_given_up_at_its_timeout(geocoder, court_place, settings):
    settings.GEOCODER_TIMEOUT_SECONDS = 0.3
    geocoder.answer([{"lat": "1", "lon": "1"}], delay=5)

    started = time.monotonic()
    found = geocode("1550 Court Pl")
    elapsed = time.monotonic() - started

    assert (found.latitude, found.source) == (39.7431, "gazetteer")
    assert elapsed < 0.3 + 1


def test_a_geocoder_trickling_its_answer_is_given_up_at_its_timeout(geocoder, court_place, settings):
    settings.GEOCODER_TIMEOUT_SECONDS = 0.3
    geocoder.answer([{"lat": "1.0", "lon": "1.0", "display_name": "x" * 40}], trickle=0.05)

    started = time.monotonic()
    found = geocode("1550 Court Pl")
    elapsed = time.monotonic() - started

    assert (found.latitude, found.source) == (39.7431, "gazetteer")
    assert elapsed < 0.3 + 1


def test_an_unreachable_geocoder_falls_back_and_an_unknown_address_is_none(db, settings):
    settings.GEOCODER_URL = "http://127.0.0.1:9/search"  # the discard port: nothing listens
    point("1550 Court Pl", 39.7431, -104.9878)

    assert geocode("1550 Court Pl").source == "gazetteer"
    assert geocode("9999 Nowhere St") is None


def test_without_a_geocoder_url_no_request_is_made(geocoder, court_place, settings):
    settings.GEOCODER_URL = ""
    geocoder.answer([{"lat": "1", "lon": "1"}])

    assert geocode("1550 Court Pl").source == "gazetteer"
    assert geocoder.requests == []


def test_a_geocoder_url_that_is_not_http_is_never_opened(court_place, settings, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('[{"lat": "1", "lon": "1"}]')
    settings.GEOCODER_URL = secret.as_uri()

    assert geocode("1550 Court Pl").source == "gazetteer"
