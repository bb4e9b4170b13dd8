"""The integration API of CONTRACT.md: thin views over dispatch.services and selectors."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch import selectors, services
from dispatch.api_support import idempotent
from dispatch.models import Incident, Unit
from dispatch.roles import Action, ApiPermission, programs_for
from dispatch.serializers import (
    AssignIn,
    AssignmentOut,
    AssignmentStatusIn,
    IncidentIn,
    IncidentListQuery,
    IncidentOut,
    ProgramOut,
    UnitOut,
)

ERROR_400 = OpenApiResponse(description="Invalid input: {field: [messages]}")
CONFLICT = inline_serializer("Conflict", {"code": serializers.CharField(), "detail": serializers.CharField()})
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="A UUID; a replay with the same key from the same caller returns the first answer.",
)


class IncidentListCreate(APIView):
    permission_classes = [ApiPermission]
    role_actions = {"GET": Action.INCIDENT_READ, "POST": Action.INCIDENT_POST}

    @extend_schema(
        operation_id="incidents_create",
        request=IncidentIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: IncidentOut, 200: IncidentOut, 400: ERROR_400, 409: CONFLICT},
        summary="Create an incident, or update the one this client sent with the same external_id",
    )
    @idempotent("incidents_create")
    def post(self, request):
        payload = IncidentIn(data=request.data)
        payload.is_valid(raise_exception=True)
        incident, created = services.incident_upsert_from_api(
            client=request.user.api_client, data=payload.validated_data
        )
        if created and not payload.validated_data.get("cancelled"):
            # Just written as it stands, with no assignment yet: shown as its incident.created
            # event shows it (the API's own representation), without reading it back. One that
            # arrived cancelled was changed again after: read back.
            return Response(
                services.incident_event_data(incident, assignments=[]), status=status.HTTP_201_CREATED
            )
        incident = selectors.incident_list_visible(request.user).get(pk=incident.pk)
        return Response(
            IncidentOut(incident).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        operation_id="incidents_list",
        parameters=[IncidentListQuery],
        responses={200: IncidentOut(many=True), 400: ERROR_400},
        summary="Incidents the caller may see, newest first",
    )
    def get(self, request):
        query = IncidentListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        incidents = selectors.incident_list_visible(request.user).order_by("-received_at")
        if "external_id" in query.validated_data:
            incidents = incidents.filter(external_id=query.validated_data["external_id"])
        if "status" in query.validated_data:
            incidents = incidents.filter(status=query.validated_data["status"])
        return Response(IncidentOut(incidents[:500], many=True).data)


class IncidentDetail(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.INCIDENT_READ

    @extend_schema(operation_id="incidents_retrieve", responses={200: IncidentOut})
    def get(self, request, incident_id):
        incident = get_object_or_404(selectors.incident_list_visible(request.user), pk=incident_id)
        return Response(IncidentOut(incident).data)


class UnitList(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.UNIT_READ

    @extend_schema(operation_id="units_list", responses={200: UnitOut(many=True)})
    def get(self, request):
        return Response(UnitOut(selectors.unit_list(request.user), many=True).data)


class IncidentAssign(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.ASSIGN

    @extend_schema(
        operation_id="incidents_assign",
        request=AssignIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: AssignmentOut,
            400: ERROR_400,
            404: OpenApiResponse(description="No such incident"),
            409: CONFLICT,
        },
        summary="Send a unit to an incident",
    )
    @idempotent("incidents_assign")
    def post(self, request, incident_id):
        visible = selectors.incident_list_visible(request.user)
        payload = AssignIn(data=request.data)
        if not payload.is_valid():
            # An incident the caller may not see is a 404 whatever the body says.
            get_object_or_404(visible.values_list("pk", flat=True), pk=incident_id)
            raise serializers.ValidationError(payload.errors)
        callsign = payload.validated_data["unit"]
        try:
            # The service reads, locks and checks the incident among those the caller may see.
            assignment = services.assignment_create(
                incidents=visible,
                incident_id=incident_id,
                callsign=callsign,
                actor=request.user,
                override_reason=payload.validated_data.get("override_reason", ""),
            )
        except Incident.DoesNotExist as exc:
            raise Http404 from exc
        except Unit.DoesNotExist as exc:
            raise serializers.ValidationError({"unit": [f"No unit {callsign!r}."]}) from exc
        return Response(AssignmentOut(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentStatus(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.ASSIGNMENT_STATUS

    @extend_schema(
        operation_id="assignments_status",
        request=AssignmentStatusIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: AssignmentOut, 400: ERROR_400, 409: CONFLICT},
        summary="Move an assignment to its next status",
    )
    @idempotent("assignments_status")
    def post(self, request, assignment_id):
        assignment = get_object_or_404(selectors.assignment_list_visible(request.user), pk=assignment_id)
        payload = AssignmentStatusIn(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            assignment = services.assignment_set_status(
                assignment_id=assignment.pk,
                status=payload.validated_data["status"],
                actor=request.user,
                destination=payload.validated_data.get("destination", ""),
                at=payload.validated_data.get("at"),
            )
        except services.ServiceConflict as conflict:
            raise _in_contract_terms(conflict) from conflict
        return Response(AssignmentOut(assignment).data)


# CONTRACT.md names fewer refusal codes than the services tell apart: a step refused for a
# cancelled assignment is, in the contract's words, a step the current status does not allow.
CONTRACT_CODES = {"assignment_cancelled": "illegal_transition"}


def _in_contract_terms(conflict: services.ServiceConflict) -> services.ServiceConflict:
    code = CONTRACT_CODES.get(conflict.code)
    return conflict if code is None else services.ServiceConflict(code, conflict.detail)


class ProgramList(APIView):
    """CONTRACT.md "Programs": the programs the caller may see."""

    permission_classes = [ApiPermission]
    role_action = Action.PROGRAM_LIST

    @extend_schema(
        operation_id="programs_list",
        responses={200: ProgramOut(many=True)},
        summary="The programs the caller may see (a statewide client: every program)",
    )
    def get(self, request):
        programs = programs_for(request.user, Action.PROGRAM_LIST).order_by("slug")
        return Response(ProgramOut(programs, many=True).data)
