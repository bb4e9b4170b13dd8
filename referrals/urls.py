from django.urls import path

from referrals import views

app_name = "referrals"

urlpatterns = [
    # Officers
    path("officer/", views.officer_home, name="officer_home"),
    path("officer/new/", views.referral_new, name="referral_new"),
    path("officer/<uuid:referral_id>/", views.officer_referral, name="officer_referral"),
    # Responders: the outreach queue
    path("outreach/", views.outreach_list, name="outreach"),
    path("outreach/<uuid:referral_id>/claim", views.outreach_claim, name="outreach_claim"),
    path("outreach/<uuid:referral_id>/release", views.outreach_release, name="outreach_release"),
    # Case managers
    path("follow-ups/", views.case_manager_home, name="case_manager_home"),
    path("follow-ups/new/", views.follow_up_new, name="follow_up_new"),
    path("follow-ups/<int:follow_up_id>/", views.follow_up_detail, name="follow_up"),
    path("follow-ups/<int:follow_up_id>/claim", views.follow_up_claim, name="follow_up_claim"),
    path("follow-ups/<int:follow_up_id>/attempts", views.follow_up_attempt, name="follow_up_attempt"),
    path("follow-ups/<int:follow_up_id>/status", views.follow_up_transition, name="follow_up_transition"),
    path("follow-ups/<int:follow_up_id>/details", views.follow_up_details, name="follow_up_details"),
    # People
    path("people/", views.people, name="people"),
    path("people/merge/", views.person_merge, name="person_merge"),
    path("people/audit/", views.person_audit, name="person_audit"),
    path("people/<int:person_id>/", views.person_detail, name="person"),
    # The service directory
    path("directory/", views.directory, name="directory"),
    path("directory/organizations/new/", views.organization_edit, name="organization_new"),
    path("directory/organizations/<int:pk>/", views.organization_edit, name="organization_edit"),
    path("directory/services/new/", views.service_edit, name="service_new"),
    path("directory/services/<int:pk>/", views.service_edit, name="service_edit"),
]
