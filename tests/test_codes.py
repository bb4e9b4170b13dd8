"""Codes others understand: each call type's APCO common incident type, each disposition's NEMSIS
unit disposition and NERIS patient care, in the catalogue, the demo, the exports and the EIDO."""

import csv
import io

from django.core.management import call_command
from django.utils import timezone

from dispatch.models import CallType, Incident
from field.models import NEMSIS_UNIT_DISPOSITIONS, Outcome
from tests import factories
from tests.test_report_views import EXPORT, streamed

# NERIS release 1, TypeMedicalPatientCare: every published value.
NERIS_PATIENT_CARE_VALUES = {
    "PATIENT_EVALUATED_CARE_PROVIDED",
    "PATIENT_EVALUATED_REFUSED_CARE",
    "PATIENT_EVALUATED_NO_CARE_REQUIRED",
    "PATIENT_REFUSED_EVALUATION_CARE",
    "PATIENT_SUPPORT_SERVICES_PROVIDED",
    "PATIENT_DEAD_ON_ARRIVAL",
}


def test_every_disposition_has_a_nemsis_unit_disposition_and_a_neris_value_or_none():
    dispositions = set(Outcome.Disposition.values)
    assert set(Outcome.NEMSIS_UNIT_DISPOSITION) == dispositions
    assert set(Outcome.NERIS_PATIENT_CARE) == dispositions
    assert set(Outcome.NEMSIS_UNIT_DISPOSITION.values()) <= set(NEMSIS_UNIT_DISPOSITIONS)
    assert set(Outcome.NERIS_PATIENT_CARE.values()) - {None} <= NERIS_PATIENT_CARE_VALUES


def test_nobody_met_is_never_coded_as_patient_contact():
    for disposition in ("no_contact", "cancelled_before_arrival", "resolved_by_phone"):
        assert Outcome.NEMSIS_UNIT_DISPOSITION[disposition] != "4227001"
        assert Outcome.NERIS_PATIENT_CARE[disposition] is None


def test_a_supervisor_gives_a_call_type_its_apco_code(client, personas, call_types):
    client.force_login(personas["supervisor"])
    welfare = call_types["WELFARE"]
    response = client.post(
        f"/dispatch/supervisor/call-types/{welfare.pk}/",
        {"code": "WELFARE", "name": "Welfare check", "eligible": "on", "apco_code": " welfare "},
    )
    assert response.status_code == 302
    welfare.refresh_from_db()
    assert welfare.apco_code == "WELFARE"
    assert "<code>WELFARE</code>" in client.get("/dispatch/supervisor/").content.decode()


def test_an_apco_code_with_spaces_is_refused_with_a_reason(client, personas, call_types):
    client.force_login(personas["supervisor"])
    welfare = call_types["WELFARE"]
    response = client.post(
        f"/dispatch/supervisor/call-types/{welfare.pk}/",
        {"code": "WELFARE", "name": "Welfare check", "apco_code": "welfare check"},
    )
    assert response.status_code == 400
    assert "Use the APCO code as the standard writes it" in response.content.decode()
    welfare.refresh_from_db()
    assert welfare.apco_code == ""


def test_every_demo_call_type_carries_its_apco_code(db):
    call_command("load_demo", stdout=io.StringIO())
    assert not CallType.objects.filter(apco_code="").exists()
    assert CallType.objects.get(code="MENTAL").apco_code == "EDP"


def test_the_exports_carry_the_apco_type_and_the_nemsis_and_neris_codes(client, personas, call_types):
    CallType.objects.filter(code="WELFARE").update(apco_code="WELFARE")
    unit = factories.UnitFactory(callsign="CR-1")
    incident = factories.incident()
    assignment = incident.assignments.create(unit=unit, status="cleared", dispatched_at=timezone.now())
    Outcome.objects.create(
        assignment=assignment,
        disposition=Outcome.Disposition.TRANSPORTED_SHELTER,
        recorded_by=personas["responder"],
        recorded_at=timezone.now(),
    )
    today = timezone.localdate().isoformat()
    client.force_login(personas["supervisor"])

    def export(kind):
        response = client.post(EXPORT, {"start": today, "end": today, "kind": kind})
        return list(csv.DictReader(io.StringIO(streamed(response))))

    [row] = export("incidents")
    assert (row["call_type"], row["apco_incident_type"]) == ("WELFARE", "WELFARE")
    [row] = export("outcomes")
    assert row["disposition"] == "transported_shelter"
    assert row["nemsis_unit_disposition"] == "4227001"
    assert row["neris_patient_care"] == "PATIENT_SUPPORT_SERVICES_PROVIDED"
    assert Incident.objects.count() == 1
