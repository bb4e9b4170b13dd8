from django.urls import path

from dispatch import console_views, views

app_name = "dispatch"

urlpatterns = [
    path("", console_views.console, name="console"),
    path("console/<slug:name>/", console_views.console_region, name="console_region"),
    path("console/incidents/<uuid:incident_id>/row/", console_views.incident_row, name="incident_row"),
    path(
        "console/incidents/<uuid:incident_id>/details/",
        console_views.incident_details,
        name="incident_details",
    ),
    path("console/units/<str:callsign>/row/", console_views.unit_row, name="unit_row"),
    path("console/addresses/suggest/", console_views.address_suggestions, name="address_suggestions"),
    path("intake/", console_views.intake, name="intake"),
    path("incidents/<uuid:incident_id>/assign/", console_views.incident_assign, name="incident_assign"),
    path("incidents/<uuid:incident_id>/cancel/", console_views.incident_cancel, name="incident_cancel"),
    path("incidents/<uuid:incident_id>/transfer/", console_views.incident_transfer, name="incident_transfer"),
    path("incidents/<uuid:incident_id>/phone/", console_views.phone_contact, name="phone_contact"),
    path(
        "incidents/<uuid:incident_id>/duplicate/",
        console_views.incident_link_duplicate,
        name="incident_link_duplicate",
    ),
    path("incidents/<uuid:incident_id>/seen/", console_views.urgent_seen, name="urgent_seen"),
    path("alerts/<int:alert_id>/acknowledge/", console_views.alert_acknowledge, name="alert_acknowledge"),
    path("supervisor/", views.supervisor_home, name="supervisor_home"),
    path("supervisor/call-types/new/", views.call_type_edit, name="call_type_new"),
    path("supervisor/call-types/<int:pk>/", views.call_type_edit, name="call_type_edit"),
    path("supervisor/screening/<int:pk>/", views.screening_question_edit, name="screening_edit"),
]
