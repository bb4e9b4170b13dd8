"""Places: an address turned into a point, from a local gazetteer or an HTTP geocoder.

The gazetteer (dispatch.models.AddressPoint) is the embedded default: it works with no network,
from a city's open-data address points loaded by `manage.py import_addresses`. When
GEOCODER_URL names a Nominatim- or Pelias-compatible search endpoint, that is asked first, for
at most GEOCODER_TIMEOUT_SECONDS; any failure of it falls back to the gazetteer. Nothing here
raises for a bad address or a bad geocoder: an incident is never refused or held for its place.
"""

import csv
import functools
import json
import logging
import math
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from urllib.request import Request, urlopen

from django.conf import settings
from django.db import connection, reset_queries, transaction
from django.db.models import Q

from dispatch.models import AddressPoint

logger = logging.getLogger(__name__)

# --- Normalisation --------------------------------------------------------------------------
# USPS Publication 28's abbreviations for the words that sources spell both ways.
STREET_SUFFIXES = {
    "ALLEY": "ALY",
    "AVENUE": "AVE",
    "AV": "AVE",
    "AVN": "AVE",
    "BOULEVARD": "BLVD",
    "BOUL": "BLVD",
    "CENTER": "CTR",
    "CENTRE": "CTR",
    "CIRCLE": "CIR",
    "COURT": "CT",
    "CRESCENT": "CRES",
    "CROSSING": "XING",
    "DRIVE": "DR",
    "EXPRESSWAY": "EXPY",
    "FREEWAY": "FWY",
    "HEIGHTS": "HTS",
    "HIGHWAY": "HWY",
    "JUNCTION": "JCT",
    "LANE": "LN",
    "PARKWAY": "PKWY",
    "PKY": "PKWY",
    "PLACE": "PL",
    "PLAZA": "PLZ",
    "POINT": "PT",
    "ROAD": "RD",
    "SQUARE": "SQ",
    "STREET": "ST",
    "STR": "ST",
    "TERRACE": "TER",
    "TRAIL": "TRL",
}
DIRECTIONALS = {
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
}
ABBREVIATIONS = STREET_SUFFIXES | DIRECTIONALS
# Words that introduce a unit ("Apt 4B"): the word and the one after it are not part of the place.
# (A line of words reads better here than a column of fifty quoted strings.)
UNIT_DESIGNATORS = frozenset(
    "APT APARTMENT UNIT STE SUITE RM ROOM FL FLR FLOOR BLDG BUILDING SPC SPACE LOT TRLR TRAILER "  # noqa: SIM905
    "DEPT OFC OFFICE PH PENTHOUSE".split()
)
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "  # noqa: SIM905
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI".split()
)
COUNTRIES = frozenset({"US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA"})
_ZIP = re.compile(r"^\d{5}$")
_ZIP4 = re.compile(r"^\d{4}$")


def _words(text: str) -> list[str]:
    """Upper case, punctuation gone (a "#" kept as its own word, since it starts a unit)."""
    text = text.upper().replace("&", " AND ")
    text = re.sub(r"['’.]", "", text)  # O'Brien, St. — not word breaks
    text = re.sub(r"[^\w#]|_", " ", text).replace("#", " # ")
    return text.split()


def _drop_unit(words: list[str]) -> list[str]:
    kept: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        # A designator only after a number and a street word: "100 Lot Ave" is a street.
        if word == "#" or (word in UNIT_DESIGNATORS and len(kept) >= 2 and i + 1 < len(words)):
            i += 2
        else:
            kept.append(word)
            i += 1
    return kept


def _abbreviate(words: list[str]) -> list[str]:
    return [ABBREVIATIONS.get(word, word) for word in words]


def _strip_postal(words: list[str], *, state_alone: bool) -> list[str]:
    """Without a trailing ZIP code, a state and a country. `state_alone`: a last word that is a
    state's code goes even with no ZIP after it (in a city part, "Denver CO"; not in a street
    line, where "1200 Elm CT" is a court)."""
    words = list(words)
    zip_found = False
    if len(words) >= 2 and _ZIP4.match(words[-1]) and _ZIP.match(words[-2]):
        words = words[:-2]
        zip_found = True
    elif words and _ZIP.match(words[-1]) and len(words) > 2:
        words = words[:-1]
        zip_found = True
    if words and (zip_found or state_alone) and words[-1] in US_STATES and len(words) > 1:
        words = words[:-1]
    return words


@dataclass(frozen=True)
class AddressKeys:
    """An address as the gazetteer matches it: `key` the number and street, `city` the city
    (blank when the address did not say), both normalised."""

    key: str
    city: str


def _is_unit_part(words: list[str]) -> bool:
    return bool(words) and (words[0] == "#" or words[0] in UNIT_DESIGNATORS)


def _is_postal_part(part: str, words: list[str]) -> bool:
    if part.strip().upper() in COUNTRIES:
        return True
    return bool(words) and all(w in US_STATES or _ZIP.match(w) or _ZIP4.match(w) for w in words)


def address_keys(address: str, city: str = "") -> AddressKeys:
    """The keys of an address written as people write it: "1550 Court Place, Apt 4, Denver, CO
    80202" → ("1550 CT PL", "DENVER"). A `city` given apart wins over one in the address."""
    parts = [p for p in (address or "").split(",") if p.strip()]
    if not parts:
        return AddressKeys("", _city_key(city))
    street = _drop_unit(_words(parts[0]))
    if len(parts) == 1:
        # Written without commas, a city may still follow; the gazetteer's fallback sees past it.
        street = _strip_postal(street, state_alone=False)
    found_city = ""
    for part in parts[1:]:
        words = _words(part)
        if _is_unit_part(words) or _is_postal_part(part, words):
            continue
        found_city = part
        break
    return AddressKeys(" ".join(_abbreviate(street)), _city_key(city or found_city))


def _city_key(city: str) -> str:
    return " ".join(_abbreviate(_strip_postal(_words(city or ""), state_alone=True)))


def address_key(address: str) -> str:
    """The street address normalised for matching, without unit or city: "1550 Court Place
    Apt 4" and "1550 COURT PL., Denver" both give "1550 CT PL"."""
    return address_keys(address).key


# --- Lookups --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeocodeResult:
    latitude: float
    longitude: float
    matched_address: str
    source: str  # "gazetteer" or "http"


def geocode(address: str) -> GeocodeResult | None:
    """The point of an address, or None when neither the HTTP geocoder (if GEOCODER_URL is
    set) nor the gazetteer knows it. Never raises for the address or the geocoder, and waits
    for the HTTP geocoder at most GEOCODER_TIMEOUT_SECONDS."""
    if not isinstance(address, str) or not address.strip():
        return None
    address = address.strip()[:300]
    if settings.GEOCODER_URL:
        found = _http_geocode(address, settings.GEOCODER_URL, settings.GEOCODER_TIMEOUT_SECONDS)
        if found:
            return found
    return _gazetteer_geocode(address)


def _gazetteer_geocode(address: str) -> GeocodeResult | None:
    wanted = address_keys(address)
    if not wanted.key:
        return None
    point = _one_place(list(AddressPoint.objects.filter(key=wanted.key)[:50]), wanted.city)
    if point is None:
        point = _longest_known_start(wanted)
    if point is None:
        return None
    return GeocodeResult(point.latitude, point.longitude, point.full_address, "gazetteer")


def _one_place(points: list[AddressPoint], city: str) -> AddressPoint | None:
    """The point in `city` if there is one, else the only city's point. The same street
    address in several towns, and the call not saying which, is no answer: a team sent to the
    wrong town is worse than a dispatcher asked to place the call."""
    if not points:
        return None
    in_city = [p for p in points if p.city_key == city]
    if city and in_city:
        return in_city[0]
    if len({p.city_key for p in points}) == 1:
        return points[0]
    return None


def _longest_known_start(wanted: AddressKeys) -> AddressPoint | None:
    """The fallback: the longest gazetteer address that the given one begins with, whatever the
    city — "1550 Court Pl Denver CO" (no commas), "1550 Court Pl Rear", "1550 Court Pl, Aurora"."""
    words = wanted.key.split()
    if len(words) < 2:
        return None
    head = " ".join(words[:2])
    candidates = [
        p
        for p in AddressPoint.objects.filter(_starts_with("key", head))[:500]
        if wanted.key == p.key or wanted.key.startswith(p.key + " ")
    ]
    if not candidates:
        return None
    longest = max(len(p.key) for p in candidates)
    best = [p for p in candidates if len(p.key) == longest]
    # What followed the street may be the city ("… Pl Denver"): it chooses among towns.
    rest = wanted.key[longest:].strip()
    city = wanted.city or _city_key(rest)
    return _one_place(best, city)


def address_suggest(prefix: str, limit: int = 8) -> list[str]:
    """Gazetteer addresses that start with what a call taker has typed, by key, in key order:
    "1550 cou" suggests "1550 Court Pl". Fewer than two characters suggest nothing."""
    if not isinstance(prefix, str):
        return []
    limit = max(1, min(int(limit), 50))
    street, _, city_typed = prefix.partition(",")
    words = _words(street)
    if len("".join(words)) < 2:
        return []
    if city_typed.strip():
        # "1550 Court Pl, Den": this street address, in a city that starts so.
        key = " ".join(_abbreviate(_drop_unit(words)))
        conditions = [Q(key=key) & _starts_with("city_key", " ".join(_words(city_typed)))]
    else:
        conditions = _prefix_conditions(words, typing=not street[-1:].isspace())
    # One query a condition: each is one index range, where their OR made PostgreSQL walk the
    # whole index in key order (seconds on a million points).
    rows = set()
    for condition in conditions:
        rows.update(
            AddressPoint.objects.filter(condition)
            .order_by("key", "city_key")
            .values_list("key", "city_key", "full_address")[: limit * 4]
        )
    found: list[str] = []
    for _key, _city, full_address in sorted(rows):
        if full_address not in found:
            found.append(full_address)
        if len(found) == limit:
            break
    return found


def _prefix_conditions(words: list[str], *, typing: bool) -> list[Q]:
    done = _abbreviate(words[:-1] if typing else words)
    base = " ".join(done)
    if not typing:
        return _whole_word(base)
    last = words[-1]
    lead = f"{base} " if base else ""
    conditions = [_starts_with("key", lead + last)]
    # The word being typed may be the start of one that keys abbreviate: "1550 Cour" is after
    # "1550 CT PL". Whole words only, so "1200 Nor" (North) does not bring up "1200 Navajo St".
    if len(last) >= 2:
        for short in {short for word, short in ABBREVIATIONS.items() if word.startswith(last)}:
            conditions += _whole_word(lead + short)
    return conditions


def _whole_word(prefix: str) -> list[Q]:
    return [Q(key=prefix), _starts_with("key", prefix + " ")]


def _starts_with(field_name: str, prefix: str) -> Q:
    if not prefix:
        return Q()
    if _text_sorts_as_code_points():
        # A range is exactly "starts with" in code-point order, and one walk of the (key, city)
        # index in order: 3 ms for "14" among a million points, where PostgreSQL took a second
        # over LIKE (and SQLite's case-blind LIKE cannot use a binary index at all).
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return Q(**{f"{field_name}__gte": prefix, f"{field_name}__lt": after})
    # Under a language's collation a range is not a prefix (spaces and punctuation weigh
    # nothing): LIKE, on the varchar_pattern_ops index Django makes for the field.
    return Q(**{f"{field_name}__startswith": prefix})


@functools.cache
def _text_sorts_as_code_points() -> bool:
    if connection.vendor == "sqlite":
        return True  # BINARY, the default collation
    if connection.vendor != "postgresql":
        return False
    # Asked rather than read from the locale's name, which libc, ICU and builtin providers
    # spell differently: in code-point order "B" < "a", "Z" < "[" and a space sorts first.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'B' < 'a', 'Z' < '[', '1 4' < '14'")
        return all(cursor.fetchone())


# --- The HTTP geocoder ----------------------------------------------------------------------
# Answers larger than this are not a search result for one address.
HTTP_MAX_ANSWER_BYTES = 1_000_000
# A few requests at once; more wait, and one that waits past its deadline is given up.
_http_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="geocoder")


def _http_geocode(address: str, url: str, timeout: float) -> GeocodeResult | None:
    # In a worker, so the deadline covers everything (name lookup, connect, a server that
    # trickles its answer), not only each socket read as urlopen's timeout does.
    future = _http_pool.submit(_http_fetch, address, url, timeout)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        future.cancel()
        logger.warning("Geocoder gave no answer within %.1f s; using the gazetteer.", timeout)
    except Exception as exc:  # anything at all: the gazetteer answers instead
        logger.warning("Geocoder failed (%s: %s); using the gazetteer.", type(exc).__name__, exc)
    return None


def _http_fetch(address: str, url: str, timeout: float) -> GeocodeResult | None:
    scheme, netloc, path, query, _ = urlsplit(url)
    if scheme not in ("http", "https"):
        raise ValueError("GEOCODER_URL is not an http(s) URL")
    params = parse_qsl(query)  # kept: an API key, countrycodes, a viewbox the operator chose
    if path.rstrip("/").endswith("/v1/search"):
        params += [("text", address), ("size", "1")]  # Pelias
    else:
        params += [("q", address), ("format", "jsonv2"), ("limit", "1")]  # Nominatim
    request = Request(
        urlunsplit((scheme, netloc, path, urlencode(params), "")),
        headers={"Accept": "application/json", "User-Agent": "community-response-geocoder/1"},
    )
    with urlopen(request, timeout=timeout) as response:
        body = response.read(HTTP_MAX_ANSWER_BYTES + 1)
    if len(body) > HTTP_MAX_ANSWER_BYTES:
        raise ValueError("answer too large")
    return _parse_answer(json.loads(body), address)


def _parse_answer(answer, address: str) -> GeocodeResult | None:
    """Nominatim's `[{"lat": "..", "lon": "..", "display_name": ..}]` or Pelias' GeoJSON
    `{"features": [{"geometry": {"coordinates": [lon, lat]}, "properties": {"label": ..}}]}`."""
    if isinstance(answer, list):
        if not answer or not isinstance(answer[0], dict):
            return None
        first = answer[0]
        lat, lon, label = first.get("lat"), first.get("lon"), first.get("display_name")
    elif isinstance(answer, dict) and isinstance(answer.get("features"), list):
        if not answer["features"] or not isinstance(answer["features"][0], dict):
            return None
        feature = answer["features"][0]
        coordinates = (feature.get("geometry") or {}).get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            return None
        lon, lat = coordinates[0], coordinates[1]
        label = (feature.get("properties") or {}).get("label")
    else:
        return None
    point = _coordinates(lat, lon)
    if point is None:
        return None
    return GeocodeResult(point[0], point[1], str(label or address)[:300], "http")


def _coordinates(lat, lon) -> tuple[float, float] | None:
    """Latitude and longitude as numbers on the Earth, else None."""
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return lat, lon


# --- Loading the gazetteer ------------------------------------------------------------------
OPENADDRESSES_COLUMNS = ("lon", "lat", "number", "street")
FULL_ADDRESS_COLUMNS = ("full_address", "latitude", "longitude")


class NotAnAddressFile(ValueError):
    """The file's header names neither shape import_addresses reads."""


@dataclass
class ImportCounts:
    loaded: int = 0
    updated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str):
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


_FIELD_LIMITS = {"full_address": 300, "key": 300, "city_key": 100, "number": 20, "street": 200}
_FIELD_LIMITS |= {"city": 100, "postal_code": 20}


def address_points_import(rows: Iterable, batch_size: int = 2000) -> ImportCounts:
    """Load address points from CSV rows (csv.reader rows, the header first) into the
    gazetteer, `batch_size` at a time, each batch in its own transaction.

    Reads OpenAddresses' columns (LON, LAT, NUMBER, STREET, UNIT, CITY, …, POSTCODE) or
    full_address, latitude, longitude (with city and postal_code if given), in any case.
    Promises: an address already known (same key and city) is updated, never doubled — units
    of one building are one point; a row without a usable address or point is counted under
    its reason and skipped, never stopping the load. Refuses (NotAnAddressFile) a header that
    names neither shape, before writing anything."""
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise NotAnAddressFile("the file is empty")
    read = _row_reader([str(h) for h in header])
    counts = ImportCounts()
    batch: dict[tuple[str, str], AddressPoint] = {}
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error:
            counts.skip("unreadable row")
            continue
        point, reason = read(row)
        if reason:
            counts.skip(reason)
            continue
        _add(batch, point, counts)
        if len(batch) >= batch_size:
            _write(batch, counts)
            batch = {}
            # Under DEBUG Django keeps each query's SQL; a million-row load would hold 100 MB of it.
            reset_queries()
    if batch:
        _write(batch, counts)
    return counts


def _add(batch: dict, point: AddressPoint, counts: ImportCounts):
    if (point.key, point.city_key) in batch:
        # Another unit of a building already in this batch: the later row wins, as it would
        # had it come in a later batch, and counts as an update.
        counts.updated += 1
    batch[(point.key, point.city_key)] = point


def _write(batch: dict[tuple[str, str], AddressPoint], counts: ImportCounts):
    with transaction.atomic():
        existing = set(
            AddressPoint.objects.filter(key__in={key for key, _ in batch}).values_list("key", "city_key")
        )
        updated = sum(1 for pair in batch if pair in existing)
        counts.updated += updated
        counts.loaded += len(batch) - updated
        AddressPoint.objects.bulk_create(
            list(batch.values()),
            update_conflicts=True,
            unique_fields=["key", "city_key"],
            update_fields=[
                "full_address",
                "number",
                "street",
                "city",
                "postal_code",
                "latitude",
                "longitude",
            ],
        )


def _row_reader(header: list[str]):
    columns = {name.strip().lower().lstrip("\ufeff"): i for i, name in enumerate(header)}

    def cell(row: list[str], name: str) -> str:
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) and row[i] else ""

    if all(c in columns for c in OPENADDRESSES_COLUMNS):

        def address_of(row):
            number, street = cell(row, "number"), cell(row, "street")
            return (f"{number} {street}".strip(), number, street, cell(row, "city"), cell(row, "postcode"))

        lat_name, lon_name = "lat", "lon"
    elif all(c in columns for c in FULL_ADDRESS_COLUMNS):

        def address_of(row):
            full = cell(row, "full_address")
            line = full.split(",")[0].strip()
            number, _, street = line.partition(" ")
            if not number[:1].isdigit():
                number, street = "", line
            postal = cell(row, "postal_code") or cell(row, "postcode")
            return (full, number, street.strip(), cell(row, "city"), postal)

        lat_name, lon_name = "latitude", "longitude"
    else:
        raise NotAnAddressFile(
            "the header names neither OpenAddresses' columns (LON,LAT,NUMBER,STREET,…) nor "
            f"full_address,latitude,longitude; it has: {', '.join(header)[:200]}"
        )

    def read(row: list[str]) -> tuple[AddressPoint | None, str]:
        full, number, street, city, postal = address_of(row)
        keys = address_keys(full, city)
        if not keys.key or not street:
            return None, "blank address"
        lat, lon = cell(row, lat_name), cell(row, lon_name)
        if not lat or not lon:
            return None, "missing coordinates"
        point = _coordinates(lat, lon)
        if point is None:
            try:
                float(lat), float(lon)
            except ValueError:
                return None, "coordinates not numbers"
            return None, "coordinates out of range"
        if point == (0.0, 0.0):
            # Null Island: what a source writes when it has no point.
            return None, "missing coordinates"
        values = {
            "full_address": full,
            "key": keys.key,
            "city_key": keys.city,
            "number": number,
            "street": street,
            "city": city,
            "postal_code": postal,
        }
        if any(len(values[name]) > limit for name, limit in _FIELD_LIMITS.items()):
            return None, "address too long"
        return AddressPoint(latitude=point[0], longitude=point[1], **values), ""

    return read
