"""JSON endpoints the tablet's scripts call. Each write the tablet may make offline honours
Idempotency-Key, so a replayed outbox stores each change exactly once. They speak to the
tablet only, so they are left out of the integration API's schema (CONTRACT.md)."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch import services as dispatch_services
from dispatch.api_support import idempotent
from dispatch.models import Assignment
from dispatch.roles import Action, ApiPermission
from dispatch.serializers import AssignmentOut, AssignmentStatusIn
from field import selectors, services
from field.serializers import AcknowledgeIn, BackupIn, EncounterIn, LocationIn, OutcomeIn


def _assignment(request, assignment_id):
    """The caller's own unit's assignment, or 404: another unit's calls do not exist for them."""
    return get_object_or_404(selectors.assignment_list_for_tablet(request.user), pk=assignment_id)


class FieldApiView(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.FIELD_APP


@extend_schema(exclude=True)
class AssignmentStatus(FieldApiView):
    @idempotent("field_assignment_status")
    def post(self, request, assignment_id):
        assignment = _assignment(request, assignment_id)
        payload = AssignmentStatusIn(data=request.data)
        payload.is_valid(raise_exception=True)
        assignment = dispatch_services.assignment_set_status(
            assignment_id=assignment.pk,
            status=payload.validated_data["status"],
            actor=request.user,
            destination=payload.validated_data.get("destination", ""),
            at=payload.validated_data.get("at"),
        )
        return Response(AssignmentOut(assignment).data)


@extend_schema(exclude=True)
class AssignmentAcknowledge(FieldApiView):
    """The HTTP twin of the socket's `ack`, for a tablet whose socket is down."""

    def post(self, request, assignment_id):
        assignment = _assignment(request, assignment_id)
        payload = AcknowledgeIn(data=request.data)
        payload.is_valid(raise_exception=True)
        assignment = dispatch_services.assignment_acknowledge(
            assignment_id=assignment.pk, actor=request.user, at=payload.validated_data.get("at")
        )
        return Response(AssignmentOut(assignment).data)


@extend_schema(exclude=True)
class AssignmentOutcome(FieldApiView):
    @idempotent("field_outcome")
    def post(self, request, assignment_id):
        assignment = _assignment(request, assignment_id)
        payload = OutcomeIn(data=request.data)
        payload.is_valid(raise_exception=True)
        outcome = services.outcome_record(
            assignment_id=assignment.pk,
            fields=payload.to_fields(),
            actor=request.user,
            at=payload.validated_data.get("at"),
        )
        return Response(
            {"id": outcome.pk, "assignment": str(assignment.pk), "disposition": outcome.disposition},
            status=status.HTTP_201_CREATED,
        )


@extend_schema(exclude=True)
class EncounterCreate(FieldApiView):
    @idempotent("field_encounter")
    def post(self, request):
        unit_id = dispatch_services.shift_unit_require(request.user)
        payload = EncounterIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            assignment = services.encounter_start(
                user=request.user,
                unit_id=unit_id,
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
                address=data.get("address", ""),
                call_type_code=data.get("call_type", ""),
                assignment_id=data.get("id"),
                at=data.get("at"),
            )
        except Assignment.DoesNotExist:
            raise Http404 from None
        return Response(AssignmentOut(assignment).data, status=status.HTTP_201_CREATED)


@extend_schema(exclude=True)
class BackupCreate(FieldApiView):
    @idempotent("field_backup")
    def post(self, request):
        unit_id = dispatch_services.shift_unit_require(request.user)
        payload = BackupIn(data=request.data)
        payload.is_valid(raise_exception=True)
        backup = services.backup_request(
            user=request.user,
            unit_id=unit_id,
            kind=payload.validated_data["kind"],
            urgent=payload.validated_data["urgent"],
            at=payload.validated_data.get("at"),
        )
        return Response(services.backup_event_data(backup), status=status.HTTP_201_CREATED)


@extend_schema(exclude=True)
class LocationReport(FieldApiView):
    """Not queued offline: only the newest position matters, and the next report brings it."""

    def post(self, request):
        unit_id = dispatch_services.shift_unit_require(request.user)
        payload = LocationIn(data=request.data)
        payload.is_valid(raise_exception=True)
        unit = dispatch_services.unit_report_location(unit_id=unit_id, **payload.validated_data)
        return Response(dispatch_services.unit_event_data(unit))
