"""NENA EIDO over the integration API (CONTRACT.md 1.1, "NENA EIDO"): thin views over
dispatch.eido (the translation), dispatch.services and dispatch.selectors."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch import selectors, services
from dispatch.api import CONFLICT, ERROR_400, IDEMPOTENCY_HEADER
from dispatch.api_support import idempotent
from dispatch.eido import EidoError, eido_to_incident
from dispatch.roles import Action, ApiPermission
from dispatch.serializers import EidoIncidentIn, IncidentOut

EIDO_EXAMPLE = OpenApiExample(
    "An EIDO with an incident, a call and a civic address",
    value={
        "$id": "CAD-2026-000123",
        "eidoVersion": "1.0",
        "lastUpdateTimeStamp": "2026-11-22T14:05:00-07:00",
        "incidentComponent": {"$id": "inc-1", "incidentTypeInternalCode": "WELFARE"},
        "callComponent": [{"$id": "call-1", "callStartTimestamp": "2026-11-22T14:03:11-07:00"}],
        "locationComponent": [{"$id": "loc-1", "locationDescriptionText": "1550 Court Pl"}],
    },
    request_only=True,
)


class EidoPost(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.INCIDENT_POST

    @extend_schema(
        operation_id="eido_create",
        request=OpenApiTypes.OBJECT,
        parameters=[IDEMPOTENCY_HEADER],
        examples=[EIDO_EXAMPLE],
        responses={201: IncidentOut, 200: IncidentOut, 400: ERROR_400, 409: CONFLICT},
        summary="Create or update an incident from a NENA-STA-021 EIDO (its $id is the external_id)",
        description=(
            "Either spelling of the published samples (eidoVersion/EIDOVersion, lastUpdateTimeStamp/"
            "LastUpdateTimeStamp), a component as an object or a list. An EIDO without a call type or "
            "screening is stored pending; one last updated before the one stored changes nothing (200)."
        ),
    )
    @idempotent("eido_create")
    def post(self, request):
        try:
            eido = eido_to_incident(request.data)
        except EidoError as error:
            raise serializers.ValidationError(error.detail) from error
        body = eido.as_incident_input()
        body["call_type"] = selectors.call_type_code_for(eido.call_type_codes)
        payload = EidoIncidentIn(data=body)
        payload.is_valid(raise_exception=True)
        incident, created = services.incident_upsert_from_eido(
            client=request.user.api_client, eido=eido, data=payload.validated_data
        )
        incident = selectors.incident_list_visible(request.user).get(pk=incident.pk)
        return Response(
            IncidentOut(incident).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class IncidentEido(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.INCIDENT_READ

    @extend_schema(
        operation_id="incidents_eido",
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="No such incident")},
        summary="The incident as a NENA EIDO: incident, location, notes, units and disposition",
    )
    def get(self, request, incident_id):
        incident = get_object_or_404(selectors.incident_list_visible(request.user), pk=incident_id)
        return Response(selectors.incident_eido(incident))
