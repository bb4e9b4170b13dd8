"""NENA EIDO (Emergency Incident Data Object, NENA-STA-021) in and out: a pure translation.

`eido_to_incident` reads an EIDO into what the incident API takes; `incident_to_eido` writes an
incident (as `dispatch.serializers.incident_representation` gives it) as an EIDO. No views, no
database: the endpoints of CONTRACT.md ("NENA EIDO") call these.

What was followed, and where it came from:
- The EIDO JSON schema `Schema/openapi.yaml` of github.com/NENA911/EIDO-JSON, info.version
  '1.0.0' (commit 7f62055d30609b4a931c797a740b4eb7e2c33dbf), the schema of NENA-STA-021.1a/1b:
  `eidoVersion`, `lastUpdateTimeStamp`, `incidentComponent` (one object), `callComponent`,
  `callbackComponent`, `locationComponent`, `personComponent`, `notesComponent`,
  `emergencyResourceComponent`, `cautionComponent`, `itemComponent`.
- The same repository's older schema (info.version '0.0.3') and its `Samples/Sample_EIDO.json`,
  which CADs still send: `EIDOVersion`, `LastUpdateTimeStamp`, `incidentComponent` as a list,
  `locationInformationComponent`, `personInformationComponent`, a PIDF-LO that is not
  well-formed XML. And `Samples/Sample call transfer EIDO.json` (the 1.0 spelling, a caller's
  `tel:` URI in a callback component, a civic address in PIDF-LO).
- Person names as NIEM Core writes them (`Schema/JSON-LD_Contexts/ncPersonNameTypeContext.jsonld`:
  `personFullName`, `personGivenName`, `personMiddleName`, `personSurName`, each a list of
  `{"value": …}`); the priority scale and location types as EidoLib documents them from
  NENA-STA-021.1a (`incidentCommonPriorityNumber` 0–10, 10 most urgent; `CurrentIncident`).
- PIDF-LO: RFC 4119 / RFC 5139 civic address elements (HNO, RD, STS, A3, A1, …) and a GML point
  whose `gml:pos` is "latitude longitude" in EPSG 4326/4979 (CRS84 is the one lon-lat order).

Registry values this module could not check against the registries themselves (they were not in
what was read): the incident's status and each unit's status are written as this project's words
(`unitStatusInternal`, and `primaryUnitStatusRegistryText` for want of a mapped value), and no
`agencyType` is invented — the export leaves it out. `incidentTypeCommonRegistryText` is written
only when the caller gives the call type's APCO common incident type (`common_type`).
"""

import html
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import unquote

from django.utils.dateparse import parse_datetime

from dispatch.timestamps import OUT_OF_RANGE, out_of_range, utc_iso

EIDO_VERSION = "1.0"
DEFAULT_ISSUER = "community-response"

# The incident API's limits (dispatch.serializers.IncidentIn): what an EIDO says beyond them is
# cut, never a reason to refuse the incident.
EXTERNAL_ID_MAX = 64
CALL_TYPE_MAX = 32
ADDRESS_MAX = 300
DETAILS_MAX = 500
NAME_MAX = 200
PHONE_MAX = 40
NARRATIVE_MAX = 10_000

# Bounds on the work one document can cause. The endpoint caps bodies at 64 KiB; these keep the
# promise "EidoError or a result" for any object at all, however it was built.
_TEXT_MAX = 100_000
_LIST_MAX = 200
_DEPTH_MAX = 8

SCREENING_KEYS = ("weapons", "violence", "medical_emergency", "police_only")


class EidoError(Exception):
    """The document cannot be an EIDO. `field` names the key at fault, as a 400 answers it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def detail(self) -> dict:
        """The body of the 400: DRF's shape, `{field: [message]}`."""
        return {self.field: [self.message]}


@dataclass(frozen=True)
class EidoIncident:
    """What an EIDO says about an incident, in the incident API's terms.

    `call_type` is empty when the EIDO gives no type code: the incident is stored pending, for a
    dispatcher to complete. `call_type_codes` holds every code it gave, preferred first."""

    external_id: str
    source: str
    call_type: str
    call_type_codes: tuple[str, ...]
    priority: int | None
    received_at: datetime
    location: dict
    caller: dict | None
    narrative: str
    screening: dict
    last_update: datetime

    def is_older_than(self, stored: datetime | None) -> bool:
        """The stale re-issue rule: an EIDO last updated before the one already stored changes
        nothing. The same timestamp again is a replay, not stale."""
        return stored is not None and self.last_update < stored

    def as_incident_input(self) -> dict:
        """The body `POST /api/v1/incidents/` takes (`dispatch.serializers.IncidentIn`)."""
        location = {"address": self.location["address"], "details": self.location["details"]}
        if self.location["latitude"] is not None:
            location["latitude"] = self.location["latitude"]
            location["longitude"] = self.location["longitude"]
        body = {
            "external_id": self.external_id,
            "source": self.source,
            "call_type": self.call_type,
            "received_at": utc_iso(self.received_at),
            "location": location,
            "narrative": self.narrative,
            "screening": dict(self.screening),
        }
        if self.priority is not None:
            body["priority"] = self.priority
        if self.caller is not None:
            body["caller"] = dict(self.caller)
        return body


# --- Reading: the tolerant accessors -------------------------------------------------------
def _get(obj, name: str):
    """obj[name], or the same key as the older samples capitalise it (`EIDOVersion`,
    `LastUpdateTimeStamp`, `updatedCBNIdentifierUri`); None when obj is not an object."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    folded = name.casefold()
    for key, value in obj.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def _components(obj, *names: str) -> list[dict]:
    """A component, given as one object or as a list, always as a list of objects."""
    for name in names:
        value = _get(obj, name)
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return [item for item in value[:_LIST_MAX] if isinstance(item, dict)]
    return []


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _clean(text: str) -> str:
    # NUL and lone surrogates are valid in JSON strings but not in a database text column.
    return _CONTROL.sub("", text)


def _text(value, depth: int = 0) -> str:
    """A string as an EIDO writes one: plain, NIEM's `{"value": …}`, a number for a code, or a
    list of these (joined by spaces)."""
    if isinstance(value, str):
        return _clean(value[:_TEXT_MAX]).strip()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return str(value)
    if depth >= _DEPTH_MAX:
        return ""
    if isinstance(value, dict):
        return _text(_get(value, "value"), depth + 1)
    if isinstance(value, list):
        return " ".join(filter(None, (_text(item, depth + 1) for item in value[:_LIST_MAX])))
    return ""


def _texts(value) -> list[str]:
    """Each entry of a string-or-list field (`personIncidentRoleRegistryText`, `agencyType`)."""
    items = value[:_LIST_MAX] if isinstance(value, list) else [value]
    return [text for text in (_text(item) for item in items) if text]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def _ref_ids(value) -> list[str]:
    """The ids a reference points at: `{"$ref": id}` or a list of them (`#id` tolerated)."""
    items = value[:_LIST_MAX] if isinstance(value, list) else [value]
    ids = []
    for item in items:
        ref = _get(item, "$ref") if isinstance(item, dict) else item
        if isinstance(ref, str) and ref.strip():
            ids.append(ref.strip().removeprefix("#"))
    return ids


def _by_id(components: list[dict]) -> dict[str, dict]:
    found = {}
    for component in components:
        cid = _get(component, "$id")
        if isinstance(cid, str):
            found.setdefault(cid.strip(), component)
    return found


def _referenced(component, key: str, candidates: list[dict]) -> list[dict]:
    index = _by_id(candidates)
    return [index[ref] for ref in _ref_ids(_get(component, key)) if ref in index]


def _timestamp(value, field: str) -> datetime:
    """A timestamp the mapping relies on, in UTC; refused when it does not parse or says no offset."""
    example = "Not an ISO 8601 timestamp (e.g. 2026-11-22T14:03:11-07:00)."
    if not isinstance(value, str) or len(value) > 64:
        raise EidoError(field, example)
    try:
        parsed = parse_datetime(value.strip())
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise EidoError(field, example)
    if parsed.utcoffset() is None:
        raise EidoError(field, "The timestamp has no offset: add Z or ±hh:mm.")
    if out_of_range(parsed):
        raise EidoError(field, OUT_OF_RANGE)
    # In UTC from here on: comparing two offsets must not depend on them.
    return parsed.astimezone(UTC)


# --- Reading: the EIDO ---------------------------------------------------------------------
def eido_to_incident(document) -> EidoIncident:
    """The incident an EIDO describes, ready for the incident API.

    Promises: never raises anything but EidoError, whatever it is given; unknown keys, either
    capitalisation of a key, a component as an object or a list, a malformed PIDF-LO are all
    read as far as they can be. An EIDO that says nothing of a call type, a place or screening
    still gives an incident (empty call type, empty address, screening null).
    Refuses (EidoError): not a JSON object; no `$id`, or one over 64 characters; no
    `lastUpdateTimeStamp` (every EIDO carries one, and the stale re-issue rule needs it); a
    timestamp the mapping reads that does not parse or has no offset."""
    if not isinstance(document, dict):
        raise EidoError("non_field_errors", "Not an EIDO: the body must be a JSON object.")
    external_id = _external_id(document)
    last_update = _last_update(document)
    incidents = _components(document, "incidentComponent")
    incident = next((i for i in incidents if _call_type_codes(i)), incidents[0] if incidents else {})
    calls = _components(document, "callComponent")
    codes = _call_type_codes(incident)
    return EidoIncident(
        external_id=external_id,
        source=_source(calls, _components(document, "agencyComponent")),
        call_type=codes[0] if codes else "",
        call_type_codes=codes,
        priority=_priority(incident, calls),
        received_at=_call_start(calls) or last_update,
        location=_location(document, incident),
        caller=_caller(document, calls),
        narrative=_narrative(document),
        screening=_screening(document),
        last_update=last_update,
    )


def _external_id(document: dict) -> str:
    value = _get(document, "$id")
    if value is not None and not isinstance(value, str):
        raise EidoError("$id", "Must be a string: the EIDO's identifier.")
    value = _clean(value or "").strip()
    if not value:
        raise EidoError("$id", "Required: the EIDO's identifier, which becomes the incident's external_id.")
    if len(value) > EXTERNAL_ID_MAX:
        raise EidoError("$id", f"At most {EXTERNAL_ID_MAX} characters (this one has {len(value)}).")
    return value


def _last_update(document: dict) -> datetime:
    value = _get(document, "lastUpdateTimeStamp")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise EidoError("lastUpdateTimeStamp", "Required: when this EIDO was last updated.")
    return _timestamp(value, "lastUpdateTimeStamp")


def _call_type_codes(incident) -> tuple[str, ...]:
    # The internal code first: the call-type catalogue holds the sending CAD's own codes
    # (PRODUCT.md), which the common registry text only approximates.
    codes = []
    for key in ("incidentTypeInternalCode", "incidentTypeCommonRegistryText"):
        code = _clip(_text(_get(incident, key)), CALL_TYPE_MAX)
        if code and code not in codes:
            codes.append(code)
    return tuple(codes)


_CALL_SOURCE_KEYS = (
    "localCallType",
    "standardPrimaryCallType",
    "standardSecondaryCallType",
    "queueIdentifier",
)
_AGENCY_SOURCE_KEYS = ("agencyType", "agencyRoleDescriptionRegistryText")
_SAYS_988 = re.compile(r"(?<!\d)9-?8-?8(?!\d)")
_SAYS_911 = re.compile(r"(?<!\d)9-?1-?1(?!\d)")


def _source(calls: list[dict], agencies: list[dict]) -> str:
    """988 when the call (or, failing that, an agency) says so; 911 otherwise."""
    call_words = [_text(_get(call, key)) for call in calls for key in _CALL_SOURCE_KEYS]
    agency_words = [
        word for agency in agencies for key in _AGENCY_SOURCE_KEYS for word in _texts(_get(agency, key))
    ]
    for words in (call_words, agency_words):
        said = " ".join(words)
        if _SAYS_988.search(said):
            return "988"
        if _SAYS_911.search(said):
            return "911"
    return "911"


_CALL_PRIORITY = {"highest": 1, "high": 2, "normal": 3, "low": 4, "lowest": 5}
# incidentCommonPriorityNumber for each of the API's priorities: 10 is NENA's most urgent.
_COMMON_PRIORITY = {1: 10, 2: 8, 3: 6, 4: 4, 5: 2}


def _priority(incident, calls: list[dict]) -> int | None:
    """1–5 from NENA's 0–10 incident priority (in pairs: 9–10 is 1 … 0–2 is 5), else from the
    call's five-step priorityIdentifier; None when neither is given."""
    number = _get(incident, "incidentCommonPriorityNumber")
    if isinstance(number, str) and number.strip().isdigit() and len(number.strip()) <= 2:
        number = int(number)
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= 10:
        return max(1, min(5, 5 - (number - 1) // 2))
    for call in calls:
        step = _CALL_PRIORITY.get(_text(_get(call, "priorityIdentifier")).casefold())
        if step is not None:
            return step
    return None


def _call_start(calls: list[dict]) -> datetime | None:
    """When the first call about the incident began."""
    starts = []
    for index, call in enumerate(calls):
        value = _get(call, "callStartTimestamp")
        field = f"callComponent[{index}].callStartTimestamp"
        if value is None or value == "":
            # The 0.0.3 schema: activityDateRange.startDate[].time[].value (NIEM nc:DateRangeType).
            start = _first(_get(_get(call, "activityDateRange"), "startDate"))
            value = _get(_first(_get(start, "time")), "value")
            field = f"callComponent[{index}].activityDateRange.startDate"
        if value is not None and not (isinstance(value, str) and not value.strip()):
            starts.append(_timestamp(value, field))
    return min(starts, default=None)


def _first(value):
    return value[0] if isinstance(value, list) and value else value


# --- Reading: the location -----------------------------------------------------------------
_LOCATION_TYPES_FIRST = ("currentincident", "initial")


def _location(document: dict, incident) -> dict:
    """The place: the locations the incident component points at, else every location (the
    incident's own type first). Address from the first civic address, coordinates from the first
    point, details from what else the civic address and the description say."""
    locations = _components(document, "locationComponent", "locationInformationComponent")
    candidates = _referenced(incident, "locationReference", locations)
    if not candidates:
        rank = {kind: n for n, kind in enumerate(_LOCATION_TYPES_FIRST)}
        candidates = sorted(
            locations,
            key=lambda loc: rank.get(_text(_get(loc, "locationTypeDescriptionRegistryText")).casefold(), 9),
        )
    civic, point, description = None, None, ""
    for loc in candidates:
        found_civic, found_point = _pidf_lo(_get(loc, "locationByValue"))
        if found_civic and (civic is None or (not _civic_address(civic) and _civic_address(found_civic))):
            civic = found_civic
        point = point or found_point
        description = description or _text(_get(loc, "locationDescriptionText"))
    civic = civic or {}
    address = _civic_address(civic)
    details = _civic_details(civic)
    if address:
        details = [description, *details] if description else details
    else:
        address = description
    return {
        "address": _clip(address, ADDRESS_MAX),
        "latitude": point[0] if point else None,
        "longitude": point[1] if point else None,
        "details": _clip("; ".join(details), DETAILS_MAX),
    }


_STREET_PARTS = ("HNO", "HNS", "PRD", "PRM", "RD", "STS", "POD", "POM")
_DETAIL_PARTS = (
    ("NAM", "{}"),
    ("BLD", "Building {}"),
    ("FLR", "Floor {}"),
    ("UNIT", "Unit {}"),
    ("ROOM", "Room {}"),
    ("SEAT", "Seat {}"),
    ("LMK", "Near {}"),
    ("LOC", "{}"),
)


def _civic_address(civic: dict) -> str:
    """House number, street and suffix, city, state and postal code: "42 W Cellular St, Wilmington, DE"."""
    parts = dict(civic)
    if not parts.get("RD") and parts.get("A6"):
        parts["RD"] = parts["A6"]  # RFC 4119 named the street A6; RFC 5139 moved it to RD
    street = " ".join(parts[key] for key in _STREET_PARTS if parts.get(key))
    region = " ".join(parts[key] for key in ("A1", "PC") if parts.get(key))
    return ", ".join(part for part in (street, parts.get("A3", ""), region) if part)


def _civic_details(civic: dict) -> list[str]:
    return [label.format(civic[key]) for key, label in _DETAIL_PARTS if civic.get(key)]


_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_LON_LAT_ORDER = re.compile(r"CRS:?84", re.IGNORECASE)


def _pidf_lo(value) -> tuple[dict, tuple[float, float] | None]:
    """The civic address (element → text) and the point (lat, lon) of a PIDF-LO given by value."""
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str)), None)
    if not isinstance(value, str) or not value.strip() or len(value) > _TEXT_MAX:
        return {}, None
    # Entity declarations are how XML is made to expand or to reach outside: no PIDF-LO needs one.
    if _DOCTYPE.search(value):
        return {}, None
    try:
        root = ET.fromstring(value.strip())
    except (ET.ParseError, ValueError, LookupError):
        # Not well-formed (an undeclared prefix, a missing ">": NENA's own sample has both).
        return _pidf_lo_by_pattern(value)
    return _civic_from_tree(root), _point_from_tree(root)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _civic_from_tree(root) -> dict:
    for element in root.iter():
        if _local(element.tag) == "civicAddress":
            civic = {}
            for child in element:
                text = _clean((child.text or "")[:1000]).strip()
                if text:
                    civic.setdefault(_local(child.tag), text)
            return civic
    return {}


def _point_from_tree(root) -> tuple[float, float] | None:
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in root.iter():
        if _local(element.tag) == "pos":
            srs, up = "", element
            while up is not None and not srs:
                srs = up.get("srsName") or ""
                up = parents.get(up)
            point = _point(element.text, srs)
            if point is not None:
                return point
    return None


_POS = re.compile(r"<(?:[\w.-]+:)?pos(?:\s[^<>]*)?>([^<]{0,200})</(?:[\w.-]+:)?pos\s*>")
_SRS = re.compile(r"srsName\s*=\s*[\"']([^\"'<>]{0,200})[\"']")
_CIVIC_START = re.compile(r"<(?:[\w.-]+:)?civicAddress(?:\s[^<>]*)?>")
_CIVIC_END = re.compile(r"</(?:[\w.-]+:)?civicAddress\s*>")
_ELEMENT = re.compile(r"<(?:[\w.-]+:)?([A-Za-z][\w.-]*)(?:\s[^<>]*)?>([^<]{0,1000})</")


def _pidf_lo_by_pattern(text: str) -> tuple[dict, tuple[float, float] | None]:
    """What can still be read from a PIDF-LO that is not well-formed: the civic elements and the
    first gml:pos, found by pattern (each bounded, so no input makes this slow)."""
    civic = {}
    start = _CIVIC_START.search(text)
    if start:
        end = _CIVIC_END.search(text, start.end())
        inner = text[start.end() : end.start() if end else start.end() + 5000]
        for name, value in _ELEMENT.findall(inner[:5000]):
            value = _clean(html.unescape(value)).strip()
            if value:
                civic.setdefault(name, value)
    point = None
    pos = _POS.search(text)
    if pos:
        srs = ""
        for match in _SRS.finditer(text, 0, pos.start()):
            srs = match.group(1)
        point = _point(html.unescape(pos.group(1)), srs)
    return civic, point


def _point(text, srs: str) -> tuple[float, float] | None:
    parts = (text or "").split()
    if len(parts) < 2 or len(parts[0]) > 40 or len(parts[1]) > 40:
        return None
    try:
        first, second = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    latitude, longitude = (second, first) if _LON_LAT_ORDER.search(srs) else (first, second)
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


# --- Reading: caller, notes, screening -----------------------------------------------------
def _caller(document: dict, calls: list[dict]) -> dict | None:
    """The person whose role is Caller: name, and the phone from a `tel:` callback URI (the
    person's, else the call's, which by definition reaches the caller)."""
    persons = _components(document, "personComponent", "personInformationComponent")
    callbacks = _components(document, "callbackComponent")
    caller = next((person for person in persons if _is_caller(person)), None)
    name = _person_name(caller) if caller is not None else ""
    phone = _callback_phone(caller, callbacks) if caller is not None else ""
    for call in calls:
        if phone:
            break
        phone = _callback_phone(call, callbacks) or _tel(
            _get(call, "callerCallBackInformationUrl"), _get(call, "deviceCallBackInformationUrl")
        )
    if not name and not phone:
        return None
    return {"name": _clip(name, NAME_MAX), "phone": _clip(phone, PHONE_MAX)}


def _is_caller(person: dict) -> bool:
    roles = _texts(_get(person, "personIncidentRoleRegistryText"))
    return any(role.casefold() == "caller" for role in roles)


def _person_name(person: dict) -> str:
    names = _get(_get(person, "ncPersonComponent"), "name")
    entry = _first(names)
    if isinstance(entry, str):
        return _text(entry)
    full = _text(_get(entry, "personFullName"))
    if full:
        return full
    parts = (_text(_get(entry, key)) for key in ("personGivenName", "personMiddleName", "personSurName"))
    return " ".join(part for part in parts if part)


def _callback_phone(component: dict, callbacks: list[dict]) -> str:
    for callback in _referenced(component, "callBackReference", callbacks):
        updated = _get(callback, "updatedCbn")
        updated_uris = [_get(item, "updatedCbnIdentifierUri") for item in _listed(updated)]
        phone = _tel(_get(callback, "callBackInformationUri"), *updated_uris)
        if phone:
            return phone
    return ""


def _listed(value) -> list:
    return value[:_LIST_MAX] if isinstance(value, list) else [value]


def _tel(*values) -> str:
    """The number of the first `tel:` URI among these (strings or lists of strings)."""
    for value in values:
        for uri in _listed(value):
            if isinstance(uri, str) and uri.strip()[:4].casefold() == "tel:":
                number = _clean(unquote(uri.strip()[4:200].split(";", 1)[0])).strip()
                if any(ch.isdigit() for ch in number):
                    return number
    return ""


_LINE, _PARAGRAPH = "\x01", "\x02"  # where a block ends; _clean() keeps both out of the text itself
_BREAKS = re.compile(r"\s*(?:[\x01\x02]\s*)+")
_LOOKS_LIKE_HTML = re.compile(r"<[A-Za-z/!]")


class _PlainText(HTMLParser):
    """The text of an HTML5 note, laid out as a browser would: whitespace in the markup collapses,
    a block element is a line, a paragraph is followed by a blank line, <br> is a line break."""

    _BLOCKS = frozenset(
        ("div", "li", "tr", "ul", "ol", "table", "blockquote", "pre", "hr", "section", "article")
        + tuple(f"h{level}" for level in range(1, 7))
    )
    _HIDDEN = frozenset(("script", "style", "template"))

    def __init__(self, *, keep_lines: bool):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.pre = 1 if keep_lines else 0

    def _block(self, tag):
        if tag == "p":
            self.parts.append(_PARAGRAPH)
        elif tag in self._BLOCKS:
            self.parts.append(_LINE)

    def handle_starttag(self, tag, attrs):
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        self._block(tag)
        self.pre += tag == "pre"

    def handle_endtag(self, tag):
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        self._block(tag)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data):
        if not self.hidden:
            data = _clean(data)
            self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = _BREAKS.sub(lambda m: "\n\n" if _PARAGRAPH in m.group() else "\n", "".join(self.parts))
        lines = [" ".join(line.split()) for line in joined.splitlines()]
        tidy: list[str] = []
        for line in lines:
            if line or (tidy and tidy[-1]):
                tidy.append(line)
        return "\n".join(tidy).strip()


def plain_text(markup: str) -> str:
    """A note as plain text: HTML removed, entities decoded, whitespace tidied (runs of spaces as
    one, at most one blank line). A note without any tag keeps its own line breaks."""
    markup = markup[:_TEXT_MAX]
    parser = _PlainText(keep_lines=not _LOOKS_LIKE_HTML.search(markup))
    parser.feed(markup)
    parser.close()
    return parser.text()


def _narrative(document: dict) -> str:
    """Every note, in the EIDO's order, as plain text."""
    notes, length = [], 0
    for note in _components(document, "notesComponent"):
        comment = _get(note, "notesActionComments")
        text = plain_text(comment if isinstance(comment, str) else _text(comment))
        if text:
            notes.append(text)
            length += len(text) + 2
            if length > NARRATIVE_MAX:
                break
    return _clip("\n\n".join(notes), NARRATIVE_MAX)


_CAUTION_KEYS = (
    "cautionTypeCommonRegistryText",
    "cautionTypeInternalText",
    "cautionTypeCommonSubRegistryText",
)
_WEAPONS = re.compile(r"weapon|firearm|\bguns?\b|knife|knives", re.IGNORECASE)
_VIOLENCE = re.compile(r"violen|assault|combative", re.IGNORECASE)


def _screening(document: dict) -> dict:
    """Null (not asked) for every question, except what the EIDO states outright: a caution about
    weapons or violence, an item that is a weapon. Nothing here ever answers "no"."""
    screening = dict.fromkeys(SCREENING_KEYS)
    for caution in _components(document, "cautionComponent"):
        said = " ".join(_text(_get(caution, key)) for key in _CAUTION_KEYS)
        if _WEAPONS.search(said):
            screening["weapons"] = True
        if _VIOLENCE.search(said):
            screening["violence"] = True
    for item in _components(document, "itemComponent"):
        flags = _listed(_get(_get(item, "ncItemType"), "isWeapon"))
        if any(flag is True or _get(flag, "value") is True for flag in flags):
            screening["weapons"] = True
    return screening


# --- Writing -------------------------------------------------------------------------------
def incident_to_eido(
    incident_data: dict,
    *,
    units: list[dict],
    disposition: dict | None,
    issuer: str = DEFAULT_ISSUER,
    common_type: str = "",
) -> dict:
    """The incident as an EIDO (the 1.0 spelling), from the dicts the API already builds.

    `incident_data`: `incident_representation(incident)`. `units`: the assigned units, each a
    dict with its callsign (`unit`, as an assignment answers it, or `callsign`) and `status`.
    `disposition`: `{"code", "text"}` or None; written only once the incident is closed or
    cancelled. `issuer` names this system in the EIDO (`issuingElementIdentification`).
    `common_type`: the call type's APCO common incident type, when the catalogue knows it.
    Promises: the result reads back through `eido_to_incident` to the same external_id, call
    type, received_at, priority, address, coordinates, details and narrative."""
    doc_id = _text(incident_data.get("external_id")) or _text(incident_data.get("id"))
    received = utc_iso(incident_data.get("received_at"))
    updated = utc_iso(incident_data.get("updated_at")) or received
    status = _text(incident_data.get("status"))

    def prologue(kind: str, at: str | None = None) -> dict:
        return {
            "$id": f"{doc_id}:{kind}",
            "lastUpdateTimeStamp": at or updated,
            "updatedByAgencyReference": {"$ref": issuer},
        }

    document = {
        "$id": doc_id,
        "lastUpdateTimeStamp": updated,
        "updatedByAgencyReference": {"$ref": issuer},
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": issuer,
        "agencyComponent": [
            {
                "$id": issuer,
                "lastUpdateTimeStamp": updated,
                "updatedByAgencyReference": {"$ref": issuer},
                "agencyRoleDescriptionRegistryText": ["Dispatch"],
            }
        ],
    }
    incident = prologue("incident")
    call_type = _text(incident_data.get("call_type"))
    if call_type:
        incident["incidentTypeInternalCode"] = call_type
    if _text(common_type):
        incident["incidentTypeCommonRegistryText"] = _text(common_type)
    if status:
        incident["incidentStatusInternalText"] = [status]
    priority = incident_data.get("priority")
    if isinstance(priority, int) and not isinstance(priority, bool) and priority in _COMMON_PRIORITY:
        incident["incidentCommonPriorityNumber"] = _COMMON_PRIORITY[priority]
        incident["incidentPriorityInternalText"] = str(priority)
    document["incidentComponent"] = incident

    call = {**prologue("call", received), "callStartTimestamp": received}
    source = _text(incident_data.get("source"))
    if source:
        call["localCallType"] = source
    document["callComponent"] = [call]

    location = _location_component(incident_data.get("location") or {}, prologue("location"))
    if location is not None:
        document["locationComponent"] = [location]
        incident["locationReference"] = call["locationReference"] = [{"$ref": location["$id"]}]

    caller = incident_data.get("caller") or {}
    name, phone = _text(caller.get("name")), _text(caller.get("phone"))
    if name or phone:
        person = {**prologue("caller"), "personIncidentRoleRegistryText": ["Caller"]}
        if name:
            person["ncPersonComponent"] = {"name": [{"personFullName": [{"value": name}]}]}
        if phone:
            callback = {**prologue("callback"), "callBackInformationUri": [_tel_uri(phone)]}
            document["callbackComponent"] = [callback]
            person["callBackReference"] = call["callBackReference"] = {"$ref": callback["$id"]}
        document["personComponent"] = [person]
        incident["personReference"] = call["personReference"] = [{"$ref": person["$id"]}]

    narrative = _text(incident_data.get("narrative"))
    if narrative:
        note = {**prologue("notes"), "notesActionComments": _html_note(narrative)}
        document["notesComponent"] = [note]
        incident["notesReference"] = [{"$ref": note["$id"]}]

    resources = [_resource(unit, prologue) for unit in units]
    resources = [resource for resource in resources if resource is not None]
    if resources:
        document["emergencyResourceComponent"] = resources
        document["dispatchComponent"] = [
            {
                **prologue("dispatch"),
                "agencyReference": {"$ref": issuer},
                "emergencyResourceReference": [{"$ref": r["$id"]} for r in resources],
            }
        ]

    if disposition and status in ("closed", "cancelled"):
        ended = utc_iso(incident_data.get("closed_at") or incident_data.get("cancelled_at"))
        incident["dispositionComponent"] = [
            {
                **prologue("disposition", ended),
                "dispositionCommonRegistryCode": _text(disposition.get("code")),
                "dispositionDescriptionText": _text(disposition.get("text")),
                "dispositionPrimaryIndicator": True,
            }
        ]
    return document


def _location_component(location: dict, component: dict) -> dict | None:
    """The address as the location's text (it is kept whole, not split into civic elements it
    was never given as), the details as the civic address's LOC, the point as a GML point."""
    address = _text(location.get("address"))
    details = _text(location.get("details"))
    latitude, longitude = location.get("latitude"), location.get("longitude")
    located = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude))
    if not (address or details or located):
        return None
    component["locationTypeDescriptionRegistryText"] = "CurrentIncident"
    if address:
        component["locationDescriptionText"] = address
    if details or located:
        component["locationByValue"] = _pidf_lo_document(details, (latitude, longitude) if located else None)
    return component


def _pidf_lo_document(details: str, point: tuple[float, float] | None) -> str:
    presence = ET.Element("presence", {"xmlns": "urn:ietf:params:xml:ns:pidf", "entity": "pres:incident"})
    presence.set("xmlns:gp", "urn:ietf:params:xml:ns:pidf:geopriv10")
    presence.set("xmlns:gml", "http://www.opengis.net/gml")
    presence.set("xmlns:ca", "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr")
    status = ET.SubElement(ET.SubElement(presence, "tuple", {"id": "incident"}), "status")
    info = ET.SubElement(status, "gp:geopriv")
    location_info = ET.SubElement(info, "gp:location-info")
    if point is not None:
        gml_point = ET.SubElement(location_info, "gml:Point", {"srsName": "urn:ogc:def:crs:EPSG::4326"})
        ET.SubElement(gml_point, "gml:pos").text = f"{point[0]!r} {point[1]!r}"
    if details:
        ET.SubElement(ET.SubElement(location_info, "ca:civicAddress"), "ca:LOC").text = details
    ET.SubElement(info, "gp:usage-rules")
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(presence, encoding="unicode")


def _html_note(text: str) -> str:
    """Plain text as the HTML5 notesActionComments holds: escaped, lines as <br>."""
    return "<br>".join(html.escape(line) for line in text.splitlines())


def _tel_uri(phone: str) -> str:
    # A tel: URI allows digits, "+" and the visual separators - . ( ); a space becomes "-".
    return "tel:" + re.sub(r"[^0-9+\-.()]", "", "-".join(phone.split()))


_STEP_STAMPS = (
    "cancelled_at",
    "cleared_at",
    "transporting_at",
    "on_scene_at",
    "en_route_at",
    "acknowledged_at",
    "dispatched_at",
    "status_changed_at",
)


def _resource(unit: dict, prologue) -> dict | None:
    callsign = _text(unit.get("unit")) or _text(unit.get("callsign"))
    if not callsign:
        return None
    status = _text(unit.get("status"))
    changed = next((utc_iso(unit[key]) for key in _STEP_STAMPS if unit.get(key)), None)
    resource = {**prologue(f"unit:{callsign}", changed), "emergencyResourceName": callsign}
    if status:
        resource["primaryUnitStatusRegistryText"] = status
        resource["unitStatusInternal"] = [status]
    return resource
