from django.urls import path

from referrals import api

urlpatterns = [
    path("referrals/", api.ReferralListCreate.as_view(), name="api-referrals"),
    path("referrals/<uuid:referral_id>/", api.ReferralDetail.as_view(), name="api-referral"),
]
