"""The CSV exports of the program's records: every export is audited before its first byte."""

import csv
from itertools import islice

from asgiref.sync import sync_to_async
from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Case, CharField, Value, When
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dispatch.models import Assignment, ExportAudit, Program
from dispatch.reports import engine
from dispatch.reports.forms import ReportFilterForm
from dispatch.roles import Action, may, role_required
from field.models import Outcome


# --- CSV exports ----------------------------------------------------------------------------------
class ExportForm(ReportFilterForm):
    kind = forms.ChoiceField(choices=ExportAudit.Kind.choices)
    identifiers = forms.BooleanField(required=False, label="Include personal identifiers")


def _when(value):
    return timezone.localtime(value, engine.program_zone()).isoformat() if value else ""


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


# Each export: its rows (values_list fields), its header, how a row becomes CSV cells; the
# personal identifiers are separate fields, read only when asked for.
INCIDENT_FIELDS = [
    ("id", "id"),
    ("received_at", "received_at"),
    ("source", "source"),
    ("call_type_code", "call_type"),
    ("call_type__apco_code", "apco_incident_type"),
    ("priority", "priority"),
    ("eligible", "eligible"),
    ("eligibility_reasons", "eligibility_reasons"),
    ("status", "status"),
    ("closed_at", "closed_at"),
    ("cancelled_at", "cancelled_at"),
]
INCIDENT_IDENTIFIERS = [
    ("caller_name", "caller_name"),
    ("caller_phone", "caller_phone"),
    ("address", "address"),
]
ASSIGNMENT_FIELDS = [
    ("id", "id"),
    ("incident_id", "incident_id"),
    ("unit__callsign", "unit"),
    ("status", "status"),
    ("incident__received_at", "received_at"),
    *((name, name) for name in Assignment.TIMESTAMPS),
    ("transport_destination", "transport_destination"),
]
OUTCOME_FIELDS = [
    ("assignment_id", "assignment_id"),
    ("assignment__incident_id", "incident_id"),
    ("self_initiated", "self_initiated"),
    ("disposition", "disposition"),
    ("nemsis_unit_disposition", "nemsis_unit_disposition"),
    ("neris_patient_care", "neris_patient_care"),
    ("services_provided", "services_provided"),
    ("people_contacted", "people_contacted"),
    ("police_involvement", "police_involvement"),
    ("ems_involvement", "ems_involvement"),
    ("transport_destination", "transport_destination"),
    ("follow_up_id", "follow_up_id"),
    ("recorded_at", "recorded_at"),
]
OUTCOME_IDENTIFIERS = [
    ("person_id", "person_id"),
    ("person__name", "person_name"),
    ("person__alias", "person_alias"),
    ("person__date_of_birth", "person_date_of_birth"),
    ("person__phone", "person_phone"),
]


def _coded(mapping: dict) -> Case:
    """A disposition's code in another standard (Outcome's NEMSIS and NERIS tables), computed
    by the database so the rows still stream as plain values."""
    return Case(
        *(When(disposition=disposition, then=Value(code)) for disposition, code in mapping.items() if code),
        default=Value(""),
        output_field=CharField(),
    )


TIMESTAMPS = {"received_at", "closed_at", "incident__received_at", "recorded_at", *Assignment.TIMESTAMPS}


def _export_queryset(kind: str, filters: engine.ReportFilters, identifiers: bool):
    """Everything whose incident was received in range (encounters included: an export is the
    record, not a metric), with the dashboard's filters."""
    incidents = engine.incidents_in_range(filters)
    if kind == ExportAudit.Kind.INCIDENTS:
        qs, fields = (
            incidents.order_by("received_at", "id"),
            INCIDENT_FIELDS + (INCIDENT_IDENTIFIERS if identifiers else []),
        )
    elif kind == ExportAudit.Kind.ASSIGNMENTS:
        qs = Assignment.objects.filter(incident__in=incidents.values("pk")).order_by("dispatched_at", "id")
        fields = ASSIGNMENT_FIELDS
        if filters.unit_id:
            qs = qs.filter(unit_id=filters.unit_id)
    else:
        qs = (
            Outcome.objects.filter(assignment__incident__in=incidents.values("pk"))
            .annotate(
                nemsis_unit_disposition=_coded(Outcome.NEMSIS_UNIT_DISPOSITION),
                neris_patient_care=_coded(Outcome.NERIS_PATIENT_CARE),
            )
            .order_by("recorded_at", "id")
        )
        fields = OUTCOME_FIELDS + (OUTCOME_IDENTIFIERS if identifiers else [])
        if filters.unit_id:
            qs = qs.filter(assignment__unit_id=filters.unit_id)
    names = [name for name, _ in fields]
    return qs.values_list(*names), [header for _, header in fields], [n in TIMESTAMPS for n in names]


class _Echo:
    """csv.writer writes into this and hands each line back, so lines can be streamed."""

    def write(self, value):
        return value


CHUNK_SIZE = 2000


def _take(rows, count: int) -> list:
    return list(islice(rows, count))


async def _csv_lines(queryset, header, stamps):
    """The CSV, one chunk of CHUNK_SIZE rows at a time, read while it is sent: Daphne streams
    each chunk as it comes instead of reading every row into memory first. The rows come from
    queryset.iterator(chunk_size=...) (a server-side cursor on PostgreSQL), advanced in the
    request's database thread."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    rows = queryset.iterator(chunk_size=CHUNK_SIZE)
    while chunk := await sync_to_async(_take)(rows, CHUNK_SIZE):
        yield "".join(
            writer.writerow([_when(v) if stamp else _plain(v) for v, stamp in zip(row, stamps, strict=True)])
            for row in chunk
        )


@require_POST
@role_required(Action.PROGRAM_DATA)
def export(request):
    """A CSV of incidents, assignments or outcomes for a range, streamed. Personal identifiers
    only when the box is ticked (and the role may); every export is recorded in ExportAudit,
    written before the first row is sent."""
    form = ExportForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(request, "reports/dashboard_export_error.html", {"form": form}, status=400)
    filters = form.filters()
    kind = form.cleaned_data["kind"]
    identifiers = form.cleaned_data["identifiers"]
    if identifiers and not may(request.user, Action.PROGRAM_DATA_IDENTIFIERS):
        raise PermissionDenied
    ExportAudit.objects.create(
        user=request.user,
        kind=kind,
        range_start=filters.start,
        range_end=filters.end,
        with_identifiers=identifiers,
        filters={k: v for k, v in filters.as_dict().items() if k not in ("start", "end", "program_ids")},
        programs=list(filters.program_ids)
        if filters.program_ids is not None
        else list(Program.objects.values_list("pk", flat=True)),
    )
    queryset, header, stamps = _export_queryset(kind, filters, identifiers)
    suffix = "-identified" if identifiers else ""
    name = f"{kind}-{filters.start.isoformat()}-{filters.end.isoformat()}{suffix}.csv"
    response = StreamingHttpResponse(
        _csv_lines(queryset, header, stamps), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
