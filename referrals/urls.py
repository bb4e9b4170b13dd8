from django.urls import path

from referrals import views

app_name = "referrals"

urlpatterns = [
    path("officer/", views.officer_home, name="officer_home"),
    path("follow-ups/", views.case_manager_home, name="case_manager_home"),
]
