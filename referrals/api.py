"""POST/GET /api/v1/referrals/: police records systems (and signed-in officers) file
referrals and read back only their status. Thin views over referrals.services/selectors."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch.api import CONFLICT, ERROR_400, IDEMPOTENCY_HEADER
from dispatch.api_support import idempotent
from dispatch.roles import Action, ApiPermission
from referrals import selectors, services
from referrals.serializers import PoliceReferralIn, PoliceReferralOut


def _out(referral) -> dict:
    return PoliceReferralOut(selectors.referral_officer_view(referral)).data


class ReferralListCreate(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.REFERRAL_FILE

    @extend_schema(
        operation_id="referrals_create",
        request=PoliceReferralIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PoliceReferralOut, 400: ERROR_400, 409: CONFLICT},
        summary="File a police referral: urgency now goes to dispatch at once, later to outreach",
    )
    @idempotent("referrals_create")
    def post(self, request):
        payload = PoliceReferralIn(data=request.data)
        payload.is_valid(raise_exception=True)
        referral = services.referral_file(actor=request.user, data=payload.to_referral_data())
        referral = selectors.referral_list_for_filer(request.user).get(pk=referral.pk)
        return Response(_out(referral), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="referrals_list",
        responses={200: PoliceReferralOut(many=True)},
        summary="The caller's own referrals, newest first, with their status only",
    )
    def get(self, request):
        referrals = selectors.referral_list_for_filer(request.user)[:500]
        return Response([_out(r) for r in referrals])


class ReferralDetail(APIView):
    permission_classes = [ApiPermission]
    role_action = Action.REFERRAL_FILE

    @extend_schema(
        operation_id="referrals_retrieve",
        responses={200: PoliceReferralOut, 404: OpenApiResponse(description="Not one of the caller's")},
    )
    def get(self, request, referral_id):
        referral = get_object_or_404(selectors.referral_list_for_filer(request.user), pk=referral_id)
        return Response(_out(referral))
