from django.urls import path

from dispatch import console_views, views, webhook_views

app_name = "dispatch"

urlpatterns = [
    path("", console_views.console, name="console"),
    path("console/<slug:name>/", console_views.console_region, name="console_region"),
    path("intake/", console_views.intake, name="intake"),
    path("incidents/<uuid:incident_id>/assign/", console_views.incident_assign, name="incident_assign"),
    path("incidents/<uuid:incident_id>/cancel/", console_views.incident_cancel, name="incident_cancel"),
    path("incidents/<uuid:incident_id>/transfer/", console_views.incident_transfer, name="incident_transfer"),
    path("incidents/<uuid:incident_id>/phone/", console_views.phone_contact, name="phone_contact"),
    path("alerts/<int:alert_id>/acknowledge/", console_views.alert_acknowledge, name="alert_acknowledge"),
    path("supervisor/", views.supervisor_home, name="supervisor_home"),
    path("supervisor/call-types/new/", views.call_type_edit, name="call_type_new"),
    path("supervisor/call-types/<int:pk>/", views.call_type_edit, name="call_type_edit"),
    path("supervisor/screening/<int:pk>/", views.screening_question_edit, name="screening_edit"),
    path("supervisor/webhooks/", webhook_views.webhooks, name="webhooks"),
    path(
        "supervisor/webhooks/deliveries/<int:delivery_id>/retry/",
        webhook_views.webhook_delivery_retry,
        name="webhook_delivery_retry",
    ),
]
