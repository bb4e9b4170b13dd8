"""NENA EIDO in and out (dispatch/eido.py): documents shaped like NENA's published samples (the 1.0
spelling and the older one), every refusal, a fuzz over malformed documents, the round trip."""

import copy
import json
import time
from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch import services
from dispatch.eido import EidoError, EidoIncident, eido_to_incident, incident_to_eido, plain_text
from dispatch.serializers import IncidentIn, incident_representation
from tests import factories

# Recent, relative to now: the mapping never reads the clock, but the house rule holds anyway.
RECEIVED = (timezone.now() - timedelta(minutes=20)).replace(microsecond=0)
UPDATED = RECEIVED + timedelta(minutes=3)


def cad(moment) -> str:
    """A timestamp as a CAD in Denver writes it: with its -07:00 offset."""
    return factories.cad_timestamp(moment)


def zulu(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def pidf_civic(**elements) -> str:
    civic = "".join(f"<{name}>{value}</{name}>" for name, value in elements.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' entity="pres:caller@cad.example.org"><tuple id="t1"><status><gp:geopriv><gp:location-info>'
        f'<civicAddress xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr">{civic}</civicAddress>'
        "</gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple></presence>"
    )


def pidf_point(pos: str, srs: str = "urn:ogc:def:crs:EPSG::4326") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:gml="http://www.opengis.net/gml" entity="pres:device@cad.example.org">'
        '<tuple id="t2"><status><gp:geopriv><gp:location-info>'
        f'<gml:Point srsName="{srs}"><gml:pos>{pos}</gml:pos></gml:Point>'
        "</gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple></presence>"
    )


def eido(**overrides) -> dict:
    """An EIDO as NENA's "call transfer" sample writes one (the 1.0 spelling): a call with a
    callback, a civic address, the caller, an HTML note; plus an incident component."""
    document = {
        "$id": "urn:emergency:uid:incidentid:4f2a9c1e:cad.denver.example",
        "lastUpdateTimeStamp": cad(UPDATED),
        "updatedByAgencyReference": {"$ref": "psap.denver.example"},
        "eidoVersion": "1.0",
        "issuingElementIdentification": "cad.denver.example",
        "incidentComponent": {
            "$id": "inc-1",
            "lastUpdateTimeStamp": cad(UPDATED),
            "incidentTypeInternalCode": "WELFARE",
            "incidentTypeCommonRegistryText": "Welfare.Check",
            "incidentCommonPriorityNumber": 6,
            "locationReference": [{"$ref": "loc-1"}],
        },
        "callComponent": [
            {
                "$id": "call-1",
                "lastUpdateTimeStamp": cad(UPDATED),
                "standardPrimaryCallType": "emergency",
                "direction": "incoming",
                "callStartTimestamp": cad(RECEIVED),
                "answerDate": cad(RECEIVED + timedelta(seconds=9)),
                "callStateRegistryText": "callAnswered",
                "callBackReference": {"$ref": "cb-1"},
                "personReference": [{"$ref": "person-1"}],
            }
        ],
        "callbackComponent": [
            {
                "$id": "cb-1",
                "lastUpdateTimeStamp": cad(RECEIVED),
                "callBackInformationUri": ["sip:3035550147@carrier.example", "tel:+1-303-555-0147"],
            }
        ],
        "agencyComponent": [
            {
                "$id": "psap.denver.example",
                "agencyRoleDescriptionRegistryText": ["CallReceiving"],
                "agencyType": ["psap"],
            }
        ],
        "locationComponent": [
            {
                "$id": "loc-1",
                "lastUpdateTimeStamp": cad(RECEIVED),
                "locationTypeDescriptionRegistryText": "CurrentIncident",
                "locationByValue": pidf_civic(
                    country="US", A1="CO", A3="Denver", HNO="1550", RD="Court", STS="Pl", PC="80202", FLR="2"
                ),
                "locationDescriptionText": "By the bus shelter",
            }
        ],
        "personComponent": [
            {
                "$id": "person-1",
                "lastUpdateTimeStamp": cad(RECEIVED),
                "personIncidentRoleRegistryText": ["Caller"],
                "ncPersonComponent": {
                    "name": [
                        {"personGivenName": [{"value": "Rosa"}], "personSurName": [{"value": "Marquez"}]}
                    ]
                },
                "callBackReference": {"$ref": "cb-1"},
            }
        ],
        "notesComponent": [
            {
                "$id": "note-1",
                "lastUpdateTimeStamp": cad(RECEIVED),
                "notesActionComments": (
                    "<p>Man   sitting on the <b>sidewalk</b>\n for hours,&nbsp;not answering.</p>"
                ),
            }
        ],
    }
    document.update(overrides)
    return document


# The older spelling (NENA's Sample_EIDO.json and the 0.0.3 schema): capitalised prologue and
# version keys, every component a list, the location and person components under older names.
OLDER_NAMES = {
    "lastUpdateTimeStamp": "LastUpdateTimeStamp",
    "eidoVersion": "EIDOVersion",
    "locationComponent": "locationInformationComponent",
    "personComponent": "personInformationComponent",
}


def in_older_spelling(value):
    if isinstance(value, list):
        return [in_older_spelling(item) for item in value]
    if not isinstance(value, dict):
        return value
    renamed = {OLDER_NAMES.get(key, key): in_older_spelling(item) for key, item in value.items()}
    if "incidentComponent" in renamed:
        renamed["incidentComponent"] = [renamed["incidentComponent"]]
    return renamed


# --- Reading: documents shaped like the samples -------------------------------------------
def test_an_eido_in_the_1_0_spelling_becomes_the_incident_it_describes():
    incident = eido_to_incident(eido())

    assert incident.external_id == "urn:emergency:uid:incidentid:4f2a9c1e:cad.denver.example"
    assert incident.source == "911"
    assert incident.call_type == "WELFARE"
    assert incident.priority == 3
    assert incident.received_at == RECEIVED
    assert incident.last_update == UPDATED
    assert incident.location == {
        "address": "1550 Court Pl, Denver, CO 80202",
        "latitude": None,
        "longitude": None,
        "details": "By the bus shelter; Floor 2",
    }
    assert incident.caller == {"name": "Rosa Marquez", "phone": "+1-303-555-0147"}
    assert incident.narrative == "Man sitting on the sidewalk for hours, not answering."
    assert incident.screening == {
        "weapons": None,
        "violence": None,
        "medical_emergency": None,
        "police_only": None,
    }


def test_the_older_spelling_of_the_samples_reads_exactly_the_same():
    older = in_older_spelling(eido())
    assert "LastUpdateTimeStamp" in older and "EIDOVersion" in older
    assert isinstance(older["incidentComponent"], list)

    assert eido_to_incident(older) == eido_to_incident(eido())


def test_a_component_given_as_an_object_reads_as_the_same_component_in_a_list():
    as_objects = eido()
    for name in (
        "callComponent",
        "callbackComponent",
        "locationComponent",
        "personComponent",
        "notesComponent",
    ):
        as_objects[name] = as_objects[name][0]
    as_lists = eido(incidentComponent=[eido()["incidentComponent"]])

    assert eido_to_incident(as_objects) == eido_to_incident(eido()) == eido_to_incident(as_lists)


def test_timestamps_with_z_and_with_an_offset_are_the_same_instant():
    with_offsets = eido_to_incident(eido())
    document = eido(lastUpdateTimeStamp=zulu(UPDATED))
    document["callComponent"][0]["callStartTimestamp"] = zulu(RECEIVED)
    in_utc = eido_to_incident(document)

    assert in_utc.received_at == with_offsets.received_at == RECEIVED
    assert in_utc.last_update == with_offsets.last_update == UPDATED
    assert in_utc.received_at.utcoffset() == timedelta(0)


def test_unknown_keys_are_ignored():
    document = eido(vendorExtension={"beat": "D6", "nested": [1, 2, {"x": None}]})
    document["incidentComponent"]["cadSpecificFlag"] = True

    assert eido_to_incident(document) == eido_to_incident(eido())


def test_an_eido_without_an_incident_component_is_still_an_incident_with_no_call_type():
    document = eido()
    del document["incidentComponent"]
    incident = eido_to_incident(document)

    assert incident.call_type == ""
    assert incident.call_type_codes == ()
    assert incident.priority is None
    assert incident.received_at == RECEIVED
    assert incident.location["address"] == "1550 Court Pl, Denver, CO 80202"


def test_the_cads_internal_code_is_preferred_and_the_registry_text_is_kept_beside_it():
    both = eido_to_incident(eido())
    document = eido()
    del document["incidentComponent"]["incidentTypeInternalCode"]
    registry_only = eido_to_incident(document)

    assert both.call_type_codes == ("WELFARE", "Welfare.Check")
    assert registry_only.call_type == "Welfare.Check"


def test_received_at_is_the_first_calls_start_else_the_eidos_last_update():
    document = eido()
    later_call = {**document["callComponent"][0], "$id": "call-2", "callStartTimestamp": cad(UPDATED)}
    document["callComponent"] = [later_call, document["callComponent"][0]]
    assert eido_to_incident(document).received_at == RECEIVED

    del document["callComponent"]
    assert eido_to_incident(document).received_at == UPDATED


def test_the_older_schemas_activity_date_range_gives_the_call_start():
    document = eido()
    call = document["callComponent"][0]
    del call["callStartTimestamp"]
    call["activityDateRange"] = {"startDate": [{"time": [{"value": zulu(RECEIVED)}]}]}

    assert eido_to_incident(document).received_at == RECEIVED


@pytest.mark.parametrize(
    "number, priority",
    [(10, 1), (9, 1), (8, 2), (7, 2), (6, 3), (5, 3), (4, 4), (3, 4), (2, 5), (1, 5), (0, 5)],
)
def test_nenas_0_to_10_priority_maps_in_pairs_onto_1_to_5(number, priority):
    document = eido()
    document["incidentComponent"]["incidentCommonPriorityNumber"] = number
    assert eido_to_incident(document).priority == priority


@pytest.mark.parametrize("said", [11, -1, True, "urgent", None, 6.5])
def test_a_priority_that_is_not_on_the_scale_is_left_out(said):
    document = eido()
    document["incidentComponent"]["incidentCommonPriorityNumber"] = said
    assert eido_to_incident(document).priority is None


def test_without_an_incident_priority_the_calls_five_step_priority_is_used():
    document = eido()
    del document["incidentComponent"]["incidentCommonPriorityNumber"]
    document["callComponent"][0]["priorityIdentifier"] = "high"
    assert eido_to_incident(document).priority == 2


@pytest.mark.parametrize(
    "where, key, said",
    [
        ("callComponent", "localCallType", "988"),
        ("callComponent", "queueIdentifier", "988@crisisline.example"),
        ("callComponent", "standardSecondaryCallType", "9-8-8 transfer"),
        ("agencyComponent", "agencyType", ["crisis", "988"]),
    ],
)
def test_a_call_or_agency_that_says_988_is_a_988_call(where, key, said):
    document = eido()
    document[where][0][key] = said
    assert eido_to_incident(document).source == "988"


def test_anything_else_is_a_911_call():
    document = eido()
    del document["agencyComponent"]
    document["callbackComponent"][0]["callBackInformationUri"] = ["tel:+1-988-555-0100"]
    assert eido_to_incident(document).source == "911"


# --- Reading: the location ------------------------------------------------------------------
def location_eido(*locations, referenced=None) -> dict:
    document = eido(locationComponent=list(locations))
    if referenced is None:
        del document["incidentComponent"]["locationReference"]
    else:
        document["incidentComponent"]["locationReference"] = [{"$ref": ref} for ref in referenced]
    return document


def location(id="loc-1", kind="CurrentIncident", **fields) -> dict:
    return {
        "$id": id,
        "lastUpdateTimeStamp": cad(RECEIVED),
        "locationTypeDescriptionRegistryText": kind,
        **fields,
    }


def test_a_civic_address_is_assembled_from_its_parts():
    civic = pidf_civic(
        HNO="42", HNS="B", PRD="W", RD="Cellular", STS="St", POD="NE", A3="Wilmington", A1="DE"
    )
    read = eido_to_incident(location_eido(location(locationByValue=civic))).location

    assert read["address"] == "42 B W Cellular St NE, Wilmington, DE"
    assert read["details"] == ""


def test_the_rest_of_a_civic_address_goes_into_details():
    civic = pidf_civic(
        HNO="1550", RD="Court", STS="Pl", NAM="Civic Center Station", BLD="C", UNIT="4", LOC="rear door"
    )
    read = eido_to_incident(location_eido(location(locationByValue=civic))).location

    assert read["address"] == "1550 Court Pl"
    assert read["details"] == "Civic Center Station; Building C; Unit 4; rear door"


def test_rfc_4119s_street_element_a6_is_still_read():
    civic = pidf_civic(HNO="7", A6="Colfax", STS="Ave", A3="Denver")
    assert (
        eido_to_incident(location_eido(location(locationByValue=civic))).location["address"]
        == "7 Colfax Ave, Denver"
    )


def test_a_gml_point_gives_latitude_then_longitude():
    read = eido_to_incident(location_eido(location(locationByValue=pidf_point("39.7392 -104.9903")))).location

    assert (read["latitude"], read["longitude"]) == (39.7392, -104.9903)
    assert read["address"] == ""


def test_a_three_dimensional_point_keeps_its_latitude_and_longitude():
    point = pidf_point("39.7392 -104.9903 1609", srs="urn:ogc:def:crs:EPSG::4979")
    read = eido_to_incident(location_eido(location(locationByValue=point))).location
    assert (read["latitude"], read["longitude"]) == (39.7392, -104.9903)


def test_a_point_in_crs84_is_longitude_first_and_is_turned_around():
    point = pidf_point("-104.9903 39.7392", srs="urn:ogc:def:crs:OGC:1.3:CRS84")
    read = eido_to_incident(location_eido(location(locationByValue=point))).location
    assert (read["latitude"], read["longitude"]) == (39.7392, -104.9903)


@pytest.mark.parametrize("pos", ["-104.9903 39.7392", "91 10", "nan 10", "inf 10", "39.7", "north west"])
def test_a_point_that_cannot_be_a_latitude_and_longitude_is_left_out(pos):
    read = eido_to_incident(location_eido(location(locationByValue=pidf_point(pos)))).location
    assert (read["latitude"], read["longitude"]) == (None, None)


def test_a_pidf_lo_that_is_not_well_formed_still_gives_its_point():
    # As NENA's Sample_EIDO.json sends it: space before the declaration, prefixes never
    # declared (gs:, con:), an element missing its ">".
    broken = (
        '  <?xml version="1.0" encoding="UTF-8"?> <presence xmlns="urn:ietf:params:xml:ns:pidf"'
        ' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml">'
        '<device id="d1"><gp:geopriv><gp:location-info><gs:Ellipsoid srsName="urn:ogc:def:crs:EPSG::4979">'
        '<gml:pos>39.7392 -104.9903 1609</gml:pos><gs:semiMajorAxis uom="urn:ogc:def:uom:EPSG::9001" 7.7'
        '</gs:semiMajorAxis></gs:Ellipsoid><con:confidence pdf="normal">95</con:confidence>'
        "</gp:location-info></gp:geopriv></device></presence>"
    )
    read = eido_to_incident(location_eido(location(locationByValue=broken))).location
    assert (read["latitude"], read["longitude"]) == (39.7392, -104.9903)


def test_a_civic_address_in_a_pidf_lo_that_is_not_well_formed_is_still_read():
    broken = (
        "<presence><ca:civicAddress><ca:HNO>1550</ca:HNO><ca:RD>Court &amp; 15th</ca:RD></ca:civicAddress>"
    )
    read = eido_to_incident(location_eido(location(locationByValue=broken))).location
    assert read["address"] == "1550 Court & 15th"


def test_a_location_with_only_a_description_uses_it_as_the_address():
    read = eido_to_incident(
        location_eido(location(locationDescriptionText="Under the 6th Ave overpass"))
    ).location
    assert read == {
        "address": "Under the 6th Ave overpass",
        "latitude": None,
        "longitude": None,
        "details": "",
    }


def test_civic_address_and_point_in_separate_components_are_put_together():
    read = eido_to_incident(
        location_eido(
            location("loc-civic", locationByValue=pidf_civic(HNO="1550", RD="Court", STS="Pl")),
            location("loc-point", locationByValue=pidf_point("39.74 -104.98")),
        )
    ).location
    assert (read["address"], read["latitude"], read["longitude"]) == ("1550 Court Pl", 39.74, -104.98)


def test_the_locations_the_incident_points_at_win_over_the_callers_device():
    document = location_eido(
        location("loc-caller", kind="Caller", locationByValue=pidf_point("39.70 -104.90")),
        location("loc-scene", locationByValue=pidf_point("39.74 -104.98")),
        referenced=["loc-scene"],
    )
    assert eido_to_incident(document).location["latitude"] == 39.74


def test_without_a_reference_the_current_incident_location_comes_first():
    document = location_eido(
        location("loc-caller", kind="Caller", locationDescriptionText="Caller's home"),
        location("loc-scene", kind="CurrentIncident", locationDescriptionText="Union Station, west doors"),
    )
    assert eido_to_incident(document).location["address"] == "Union Station, west doors"


def test_a_location_by_reference_only_gives_no_place():
    document = location_eido(location(kind="Caller", locationByReferenceUrl="https://lrf.example/abc"))
    assert eido_to_incident(document).location == {
        "address": "",
        "latitude": None,
        "longitude": None,
        "details": "",
    }


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    + "]><presence><civicAddress><RD>&lol9;</RD></civicAddress></presence>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    "<presence><civicAddress><RD>&secret;</RD></civicAddress></presence>"
)


@pytest.mark.parametrize(
    "hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity-expansion", "external-entity"]
)
def test_a_pidf_lo_with_a_doctype_is_not_parsed(hostile):
    started = time.monotonic()
    read = eido_to_incident(
        location_eido(location(locationByValue=hostile, locationDescriptionText="Corner of 15th and Court"))
    ).location

    assert read["address"] == "Corner of 15th and Court"
    assert "lol" not in read["details"] and "root:" not in read["details"]
    assert time.monotonic() - started < 1


# --- Reading: caller, notes, screening -----------------------------------------------------
def test_the_caller_is_the_person_whose_role_is_caller_with_the_phone_of_its_tel_uri():
    document = eido()
    witness = {
        "$id": "person-0",
        "personIncidentRoleRegistryText": ["Witness"],
        "ncPersonComponent": {"name": [{"personFullName": [{"value": "Not The Caller"}]}]},
    }
    document["personComponent"].insert(0, witness)

    assert eido_to_incident(document).caller == {"name": "Rosa Marquez", "phone": "+1-303-555-0147"}


def test_a_full_name_is_preferred_to_its_parts():
    document = eido()
    document["personComponent"][0]["ncPersonComponent"]["name"][0]["personFullName"] = [
        {"value": "Rosa M. Marquez"}
    ]
    assert eido_to_incident(document).caller["name"] == "Rosa M. Marquez"


def test_a_callers_phone_comes_from_the_calls_callback_when_the_person_has_none():
    document = eido()
    del document["personComponent"][0]["callBackReference"]
    assert eido_to_incident(document).caller["phone"] == "+1-303-555-0147"


def test_a_tel_uris_parameters_are_not_part_of_the_phone():
    document = eido()
    document["callbackComponent"][0]["callBackInformationUri"] = ["tel:+1-303-555-0147;ext=22"]
    assert eido_to_incident(document).caller["phone"] == "+1-303-555-0147"


def test_a_sip_uri_alone_gives_no_phone():
    document = eido()
    document["callbackComponent"][0]["callBackInformationUri"] = ["sip:3035550147@carrier.example"]
    assert eido_to_incident(document).caller == {"name": "Rosa Marquez", "phone": ""}


def test_the_older_schemas_caller_callback_url_is_read():
    document = eido()
    del document["callbackComponent"], document["personComponent"]
    del document["callComponent"][0]["callBackReference"]
    document["callComponent"][0]["callerCallBackInformationUrl"] = "tel:3035550147"

    assert eido_to_incident(document).caller == {"name": "", "phone": "3035550147"}


def test_an_eido_that_names_no_caller_has_none():
    document = eido()
    del document["callbackComponent"], document["personComponent"]
    assert eido_to_incident(document).caller is None


def test_notes_lose_their_html_and_keep_their_lines():
    document = eido()
    document["notesComponent"] = [
        {
            "$id": "n1",
            "notesActionComments": "<div>Caller says:<br/>he&#39;s been there <i>since 6&nbsp;am</i></div>",
        },
        {
            "$id": "n2",
            "notesActionComments": "<ul><li>no weapons seen</li><li>calm</li></ul><script>alert(1)</script>",
        },
    ]
    assert eido_to_incident(document).narrative == (
        "Caller says:\nhe's been there since 6 am\n\nno weapons seen\ncalm"
    )


def test_a_note_without_markup_keeps_its_own_line_breaks():
    document = eido(
        notesComponent=[{"$id": "n1", "notesActionComments": "Caller on scene.\nWill wait &amp; watch."}]
    )
    assert eido_to_incident(document).narrative == "Caller on scene.\nWill wait & watch."


def test_line_breaks_inside_markup_are_only_spaces():
    assert plain_text("<p>one\ntwo</p><p>three</p>") == "one two\n\nthree"


def test_whitespace_in_a_note_is_tidied():
    assert plain_text("  one\t\t two  \n\n\n\n three\r\n  ") == "one two\n\nthree"


def test_a_narrative_longer_than_the_api_takes_is_cut_not_refused():
    document = eido(notesComponent=[{"$id": f"n{n}", "notesActionComments": "x" * 3000} for n in range(6)])
    assert len(eido_to_incident(document).narrative) == 10_000


def test_screening_is_unknown_unless_the_eido_says_so():
    assert set(eido_to_incident(eido()).screening.values()) == {None}


def test_a_weapons_caution_answers_the_weapons_question_and_no_other():
    document = eido(
        cautionComponent=[
            {
                "$id": "c1",
                "cautionTypeInternalText": "Subject known to carry a knife",
                "cautionSeverity": "high",
            }
        ]
    )
    assert eido_to_incident(document).screening == {
        "weapons": True,
        "violence": None,
        "medical_emergency": None,
        "police_only": None,
    }


def test_an_item_that_is_a_weapon_answers_the_weapons_question():
    document = eido(itemComponent=[{"$id": "i1", "ncItemType": {"isWeapon": [{"value": True}]}}])
    assert eido_to_incident(document).screening["weapons"] is True


def test_what_exceeds_the_apis_limits_is_cut_not_refused():
    document = eido()
    document["incidentComponent"]["incidentTypeInternalCode"] = "C" * 40
    document["personComponent"][0]["ncPersonComponent"]["name"] = [{"personFullName": "N" * 300}]
    document["callbackComponent"][0]["callBackInformationUri"] = ["tel:+1" + "5" * 60]
    document["locationComponent"][0]["locationDescriptionText"] = "D" * 600
    incident = eido_to_incident(document)

    assert len(incident.call_type) == 32
    assert len(incident.caller["name"]) == 200
    assert len(incident.caller["phone"]) == 40
    assert len(incident.location["details"]) == 500


def test_control_characters_never_reach_the_incident():
    document = eido()
    document["notesComponent"][0]["notesActionComments"] = "one\x00two\ud800"
    document["personComponent"][0]["ncPersonComponent"]["name"] = [{"personFullName": "Ro\x00sa"}]
    incident = eido_to_incident(document)

    assert incident.narrative == "onetwo"
    assert incident.caller["name"] == "Rosa"


def test_the_incident_input_passes_the_incident_apis_own_validation():
    serializer = IncidentIn(data=eido_to_incident(eido()).as_incident_input())

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["received_at"] == RECEIVED
    assert serializer.validated_data["location"]["address"] == "1550 Court Pl, Denver, CO 80202"


# --- The stale re-issue rule ---------------------------------------------------------------
def test_an_eido_last_updated_before_the_stored_one_is_stale():
    stored = eido_to_incident(eido()).last_update
    older = eido_to_incident(eido(lastUpdateTimeStamp=cad(UPDATED - timedelta(seconds=1))))
    newer = eido_to_incident(eido(lastUpdateTimeStamp=cad(UPDATED + timedelta(seconds=1))))

    assert older.is_older_than(stored)
    assert not newer.is_older_than(stored)


def test_the_same_last_update_again_is_not_stale():
    stored = eido_to_incident(eido()).last_update
    assert not eido_to_incident(eido()).is_older_than(stored)


def test_staleness_compares_instants_not_the_written_clock_times():
    # 10:00 at -07:00 is 17:00 UTC: later than 16:30Z although "10:00" reads earlier.
    stored = eido_to_incident(eido(lastUpdateTimeStamp=zulu(UPDATED - timedelta(minutes=30)))).last_update
    assert not eido_to_incident(eido(lastUpdateTimeStamp=cad(UPDATED))).is_older_than(stored)
    assert eido_to_incident(eido(lastUpdateTimeStamp=cad(UPDATED - timedelta(minutes=31)))).is_older_than(
        stored
    )


def test_nothing_stored_is_never_stale():
    assert not eido_to_incident(eido()).is_older_than(None)


# --- Refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize("document", [[], "EIDO", None, 42, True, ["$id"]])
def test_what_is_not_a_json_object_is_refused(document):
    with pytest.raises(EidoError) as refused:
        eido_to_incident(document)
    assert refused.value.detail == {"non_field_errors": ["Not an EIDO: the body must be a JSON object."]}


def refusal(document) -> EidoError:
    with pytest.raises(EidoError) as refused:
        eido_to_incident(document)
    return refused.value


def without(key) -> dict:
    document = eido()
    del document[key]
    return document


@pytest.mark.parametrize("document", [without("$id"), eido(**{"$id": ""}), eido(**{"$id": "   "})])
def test_an_eido_without_an_id_is_refused(document):
    error = refusal(document)
    assert error.field == "$id"
    assert error.message.startswith("Required")


def test_an_id_that_is_not_a_string_is_refused():
    assert refusal(eido(**{"$id": 12345})).detail == {"$id": ["Must be a string: the EIDO's identifier."]}


def test_an_id_longer_than_an_external_id_is_refused():
    assert eido_to_incident(eido(**{"$id": "x" * 64})).external_id == "x" * 64
    assert refusal(eido(**{"$id": "x" * 65})).detail == {"$id": ["At most 64 characters (this one has 65)."]}


def test_an_eido_without_a_last_update_is_refused():
    assert refusal(without("lastUpdateTimeStamp")).field == "lastUpdateTimeStamp"


@pytest.mark.parametrize(
    "stamp", ["yesterday", "2026-02-30T10:00:00Z", "2026-11-22T25:00:00Z", "", 1767225600, "T" * 500]
)
def test_a_last_update_that_does_not_parse_is_refused(stamp):
    assert refusal(eido(lastUpdateTimeStamp=stamp)).field == "lastUpdateTimeStamp"


def test_a_timestamp_without_an_offset_is_refused():
    naive = RECEIVED.replace(tzinfo=None).isoformat()
    assert refusal(eido(lastUpdateTimeStamp=naive)).detail == {
        "lastUpdateTimeStamp": ["The timestamp has no offset: add Z or ±hh:mm."]
    }


def test_a_call_start_that_does_not_parse_is_refused_and_named():
    document = eido()
    document["callComponent"][0]["callStartTimestamp"] = "around noon"
    assert refusal(document).field == "callComponent[0].callStartTimestamp"


def test_a_timestamp_at_the_end_of_the_calendar_is_refused_not_overflowed():
    assert refusal(eido(lastUpdateTimeStamp="0001-01-01T00:00:00+05:00")).field == "lastUpdateTimeStamp"


def test_timestamps_the_mapping_does_not_read_are_not_checked():
    # NENA's call transfer sample itself has a person component stamped without an offset.
    document = eido()
    document["personComponent"][0]["lastUpdateTimeStamp"] = "2026-02-30T99"
    assert eido_to_incident(document).caller["name"] == "Rosa Marquez"


# --- Fuzz: only EidoError or an incident, for anything at all -------------------------------
EIDO_KEYS = [
    "$id", "$ref", "lastUpdateTimeStamp", "LastUpdateTimeStamp", "eidoVersion", "incidentComponent",
    "callComponent", "callbackComponent", "locationComponent", "locationInformationComponent",
    "personComponent", "notesComponent", "agencyComponent", "cautionComponent", "itemComponent",
    "incidentTypeInternalCode", "incidentTypeCommonRegistryText", "incidentCommonPriorityNumber",
    "callStartTimestamp", "activityDateRange", "startDate", "time", "value", "priorityIdentifier",
    "localCallType", "queueIdentifier", "agencyType", "locationReference", "callBackReference",
    "locationByValue", "locationDescriptionText", "locationTypeDescriptionRegistryText",
    "personIncidentRoleRegistryText", "ncPersonComponent", "name", "personFullName", "personGivenName",
    "callBackInformationUri", "updatedCbn", "updatedCbnIdentifierUri", "callerCallBackInformationUrl",
    "notesActionComments", "cautionTypeInternalText", "ncItemType", "isWeapon",
]  # fmt: skip
NASTY_STRINGS = [
    "", " ", "Caller", "988", "tel:", "tel:+1-303-555-0100", "tel:%ZZ", "tel:\x00", "#loc-1", "loc-1",
    "2026-11-22T14:03:11-07:00", "2026-11-22T14:03:11Z", "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00", "2026-11-22T14:03:11", "<p>x</p>", "<![if", "<script>", "&#x110000;",
    "<gml:pos>1 2</gml:pos>", pidf_point("39.74 -104.98"), pidf_civic(HNO="1", RD="Main"), BILLION_LAUGHS,
    "<civicAddress>" * 50, "<pos>" * 50 + "1 2" + "</pos>" * 50, "\ud800", "x" * 70, "1e400 1e400",
]  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(NASTY_STRINGS)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(EIDO_KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def reads_or_refuses(document):
    try:
        result = eido_to_incident(document)
    except EidoError as error:
        assert isinstance(error.field, str) and isinstance(error.message, str)
        return
    assert isinstance(result, EidoIncident)
    json.dumps(result.as_incident_input())  # what the endpoint will hand on is plain JSON


@FUZZ
@given(json_values)
def test_any_json_value_is_read_or_refused_with_an_eido_error(document):
    reads_or_refuses(document)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


BASES = [eido(), in_older_spelling(eido())]


@FUZZ
@given(st.data())
def test_a_sample_shaped_eido_with_any_part_replaced_is_read_or_refused(data):
    document = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(list(paths(document))[1:]))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(json_values)
    reads_or_refuses(document)


def deeply_nested(depth):
    value = "innermost"
    for _ in range(depth):
        value = [value]
    return {"value": value}


@pytest.mark.parametrize(
    "where",
    [
        "$id",
        "incidentComponent",
        "notesActionComments",
        "incidentTypeInternalCode",
        "personFullName",
        "locationByValue",
    ],
)
def test_deep_nesting_anywhere_is_read_or_refused(where):
    document = eido()
    nested = deeply_nested(50_000)
    if where in ("$id", "incidentComponent"):
        document[where] = nested
    elif where == "notesActionComments":
        document["notesComponent"][0][where] = nested
    elif where == "incidentTypeInternalCode":
        document["incidentComponent"][where] = nested
    elif where == "personFullName":
        document["personComponent"][0]["ncPersonComponent"]["name"] = [{where: nested}]
    else:
        document["locationComponent"][0][where] = nested
    reads_or_refuses(document)


@pytest.mark.parametrize(
    "huge",
    [
        "<p>" * 200_000,
        "x" * 5_000_000,
        "<a>" * 60_000 + "</a>" * 60_000,
        "<civicAddress>" + "<RD>x</RD>" * 50_000,
        "<pos>" + " 1" * 500_000,
    ],
    ids=["open-tags", "long-text", "deep-xml", "wide-civic", "long-pos"],
)
def test_huge_strings_anywhere_are_read_quickly(huge):
    document = eido()
    document["notesComponent"][0]["notesActionComments"] = huge
    document["locationComponent"][0]["locationByValue"] = huge
    document["incidentComponent"]["incidentTypeInternalCode"] = huge
    document["personComponent"][0]["ncPersonComponent"]["name"] = [{"personFullName": huge}]
    started = time.monotonic()
    reads_or_refuses(document)
    assert time.monotonic() - started < 5


# --- Writing, and the round trip -------------------------------------------------------------
def incident_data(**overrides) -> dict:
    """An incident as `incident_representation` answers it."""
    data = {
        "id": "5b1f6f0e-8f8a-4c55-9d7e-2f1f0e6c9a01",
        "external_id": "CAD-2041",
        "source": "911",
        "call_type": "WELFARE",
        "priority": 3,
        "received_at": zulu(RECEIVED),
        "location": {
            "address": "1550 Court Pl",
            "latitude": 39.74,
            "longitude": -104.98,
            "details": "2nd floor",
        },
        "caller": {"name": "Rosa Marquez", "phone": "303-555-0147"},
        "narrative": "Man sitting on the sidewalk for hours.\nCaller will wait <nearby> & watch.",
        "screening": {"weapons": False, "violence": False, "medical_emergency": False, "police_only": False},
        "tandem": [],
        "status": "assigned",
        "assignments": [],
        "cancelled_at": None,
        "closed_at": None,
        "created_at": zulu(RECEIVED),
        "updated_at": zulu(UPDATED),
    }
    data.update(overrides)
    return data


def round_trip(data, **kwargs) -> EidoIncident:
    document = incident_to_eido(data, units=kwargs.get("units", []), disposition=kwargs.get("disposition"))
    return eido_to_incident(json.loads(json.dumps(document)))


def test_an_exported_incident_reads_back_to_the_same_incident():
    back = round_trip(incident_data())

    assert back.external_id == "CAD-2041"
    assert back.call_type == "WELFARE"
    assert back.received_at == RECEIVED
    assert back.last_update == UPDATED
    assert back.priority == 3
    assert back.source == "911"
    assert back.location == {
        "address": "1550 Court Pl",
        "latitude": 39.74,
        "longitude": -104.98,
        "details": "2nd floor",
    }
    assert back.caller == {"name": "Rosa Marquez", "phone": "303-555-0147"}
    assert back.narrative == "Man sitting on the sidewalk for hours.\nCaller will wait <nearby> & watch."


@pytest.mark.parametrize("priority", [1, 2, 3, 4, 5, None])
def test_every_priority_survives_the_round_trip(priority):
    assert round_trip(incident_data(priority=priority)).priority == priority


def test_a_988_call_stays_a_988_call():
    assert round_trip(incident_data(source="988")).source == "988"


def test_an_incident_without_coordinates_details_caller_or_narrative_round_trips():
    data = incident_data(
        location={"address": "Union Station", "latitude": None, "longitude": None, "details": ""},
        caller={"name": "", "phone": ""},
        narrative="",
    )
    document = incident_to_eido(data, units=[], disposition=None)
    back = eido_to_incident(document)

    assert "locationByValue" not in document["locationComponent"][0]
    assert back.location == {"address": "Union Station", "latitude": None, "longitude": None, "details": ""}
    assert back.caller is None
    assert back.narrative == ""


def test_the_export_writes_the_location_as_text_and_a_gml_point():
    location = incident_to_eido(incident_data(), units=[], disposition=None)["locationComponent"][0]

    assert location["locationDescriptionText"] == "1550 Court Pl"
    assert "<gml:pos>39.74 -104.98</gml:pos>" in location["locationByValue"]
    assert 'srsName="urn:ogc:def:crs:EPSG::4326"' in location["locationByValue"]


def test_a_console_incident_without_an_external_id_is_identified_by_its_id():
    data = incident_data(external_id="")
    assert incident_to_eido(data, units=[], disposition=None)["$id"] == data["id"]


def test_each_assigned_unit_is_an_emergency_resource_with_its_status():
    units = [
        {"unit": "CR-1", "status": "on_scene", "on_scene_at": zulu(UPDATED), "dispatched_at": zulu(RECEIVED)},
        {"callsign": "CR-2", "status": "en_route"},
    ]
    document = incident_to_eido(incident_data(), units=units, disposition=None)
    resources = document["emergencyResourceComponent"]

    assert [(r["emergencyResourceName"], r["unitStatusInternal"]) for r in resources] == [
        ("CR-1", ["on_scene"]),
        ("CR-2", ["en_route"]),
    ]
    assert resources[0]["lastUpdateTimeStamp"] == zulu(UPDATED)
    assert document["dispatchComponent"][0]["emergencyResourceReference"] == [
        {"$ref": r["$id"]} for r in resources
    ]


def test_no_units_means_no_emergency_resources():
    document = incident_to_eido(incident_data(), units=[], disposition=None)
    assert "emergencyResourceComponent" not in document and "dispatchComponent" not in document


def test_the_disposition_is_written_once_the_incident_is_closed():
    disposition = {"code": "RSOS", "text": "Resolved on scene"}
    open_incident = incident_to_eido(incident_data(), units=[], disposition=disposition)
    closed = incident_to_eido(
        incident_data(status="closed", closed_at=zulu(UPDATED)), units=[], disposition=disposition
    )

    assert "dispositionComponent" not in open_incident["incidentComponent"]
    [written] = closed["incidentComponent"]["dispositionComponent"]
    assert (written["dispositionCommonRegistryCode"], written["dispositionDescriptionText"]) == (
        "RSOS",
        "Resolved on scene",
    )
    assert written["lastUpdateTimeStamp"] == zulu(UPDATED)


def test_a_closed_incident_without_a_disposition_has_none():
    closed = incident_to_eido(incident_data(status="closed"), units=[], disposition=None)
    assert "dispositionComponent" not in closed["incidentComponent"]


@pytest.mark.django_db
def test_a_stored_incident_with_its_assignment_round_trips_through_the_eido():
    factories.CallTypeFactory(code="WELFARE")
    unit = factories.UnitFactory(callsign="CR-7")
    fields = services.IncidentFields(
        source="911",
        call_type_code="WELFARE",
        received_at=timezone.now() - timedelta(minutes=5),
        priority=2,
        address="1550 Court Pl",
        latitude=39.7392,
        longitude=-104.9903,
        location_details="2nd floor, by the elevator",
        caller_name="Rosa Marquez",
        caller_phone="303-555-0147",
        narrative="Man sitting on the sidewalk.\n\nCaller will wait at the corner.",
        screen_weapons=False,
        screen_violence=False,
        screen_medical_emergency=False,
        screen_police_only=False,
    )
    incident = services.incident_create(fields=fields, actor=None, external_id="CAD-77")
    assignment = services.assignment_create(incident_id=incident.pk, callsign=unit.callsign, actor=None)
    services.assignment_set_status(assignment_id=assignment.pk, status="en_route", actor=None)
    incident.refresh_from_db()
    data = incident_representation(incident)

    document = incident_to_eido(data, units=data["assignments"], disposition=None)
    back = eido_to_incident(json.loads(json.dumps(document)))

    assert back.external_id == "CAD-77"
    assert back.call_type == "WELFARE"
    assert back.received_at == incident.received_at
    assert back.location == {
        "address": "1550 Court Pl",
        "latitude": 39.7392,
        "longitude": -104.9903,
        "details": "2nd floor, by the elevator",
    }
    assert back.narrative == "Man sitting on the sidewalk.\n\nCaller will wait at the corner."
    assert back.last_update == incident.updated_at
    [resource] = document["emergencyResourceComponent"]
    assert (resource["emergencyResourceName"], resource["unitStatusInternal"]) == ("CR-7", ["en_route"])
