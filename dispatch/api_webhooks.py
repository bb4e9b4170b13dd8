"""Webhooks over the integration API (CONTRACT.md 1.1, "Webhooks"): a machine client manages
its own subscriptions and reads their deliveries. Thin views over dispatch.services and
dispatch.selectors."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch import selectors, services
from dispatch.api import CONFLICT, ERROR_400, IDEMPOTENCY_HEADER
from dispatch.api_support import idempotent
from dispatch.roles import Action, ApiPermission
from dispatch.serializers import WebhookCreatedOut, WebhookDeliveryOut, WebhookIn, WebhookOut

NOT_FOUND = OpenApiResponse(description="No such webhook of this client")


def _own(request, webhook_id):
    return get_object_or_404(selectors.webhook_list_for(request.user.api_client), pk=webhook_id)


class WebhookListCreate(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.WEBHOOK_SUBSCRIBE

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: WebhookCreatedOut, 400: ERROR_400, 409: CONFLICT},
        summary="Subscribe to events; the answer holds the signing secret, shown only here",
        description=(
            "A cad client may subscribe to incident.created, incident.updated, assignment.created, "
            "assignment.updated, assignment.cancelled and unit.updated (of its own incidents); a police "
            "client only to referral.updated (of its own referrals)."
        ),
    )
    @idempotent("webhooks_create")
    def post(self, request):
        payload = WebhookIn(data=request.data)
        payload.is_valid(raise_exception=True)
        subscription = services.webhook_subscribe(
            client=request.user.api_client,
            url=payload.validated_data["url"],
            events=payload.validated_data["events"],
        )
        return Response(WebhookCreatedOut(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="webhooks_list", responses={200: WebhookOut(many=True)})
    def get(self, request):
        return Response(WebhookOut(selectors.webhook_list_for(request.user.api_client), many=True).data)


class WebhookDetail(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.WEBHOOK_SUBSCRIBE

    @extend_schema(operation_id="webhooks_retrieve", responses={200: WebhookOut, 404: NOT_FOUND})
    def get(self, request, webhook_id):
        return Response(WebhookOut(_own(request, webhook_id)).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        responses={204: None, 404: NOT_FOUND},
        summary="Unsubscribe: nothing more is sent, not even what was still owed",
    )
    def delete(self, request, webhook_id):
        services.webhook_unsubscribe(subscription=_own(request, webhook_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveries(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.WEBHOOK_SUBSCRIBE

    @extend_schema(
        operation_id="webhooks_deliveries",
        responses={200: WebhookDeliveryOut(many=True), 404: NOT_FOUND},
        summary="The webhook's latest deliveries, newest event first: status, answer, when, next try",
    )
    def get(self, request, webhook_id):
        deliveries = selectors.webhook_deliveries_recent(_own(request, webhook_id))
        return Response(WebhookDeliveryOut(deliveries, many=True).data)
