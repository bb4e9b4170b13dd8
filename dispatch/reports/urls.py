from django.urls import path

from dispatch.reports import exports, views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("call-types/", views.call_type_analysis, name="call_type_analysis"),
    path("month/", views.month_report, name="month"),
    path("programs/", views.programs_side_by_side, name="programs"),
    path("export/", exports.export, name="export"),
]
