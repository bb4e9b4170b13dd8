from django.urls import path

from dispatch import (
    account_views,
    console_views,
    program_views,
    screening_views,
    supervisor_views,
    webhook_views,
)

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
    path("intake/form/", console_views.intake_form, name="intake_form"),
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
    path("supervisor/", screening_views.catalogue, name="supervisor_home"),
    path("supervisor/call-types/new/", screening_views.call_type_edit, name="call_type_new"),
    path("supervisor/call-types/<int:pk>/", screening_views.call_type_edit, name="call_type_edit"),
    path("supervisor/screening/<int:pk>/", screening_views.screening_question_edit, name="screening_edit"),
    path("supervisor/programs/", program_views.programs, name="supervisor_programs"),
    path("supervisor/programs/new/", program_views.program_new, name="supervisor_program_new"),
    path("supervisor/programs/<slug:slug>/", program_views.program_edit, name="supervisor_program_edit"),
    path(
        "supervisor/programs/<slug:slug>/call-types/<int:pk>/",
        screening_views.program_call_type_edit,
        name="program_call_type_edit",
    ),
    path(
        "supervisor/programs/<slug:slug>/screening/<int:pk>/",
        screening_views.program_question_edit,
        name="program_question_edit",
    ),
    # Program administration
    path("supervisor/units/", supervisor_views.units, name="supervisor_units"),
    path(
        "supervisor/units/<int:unit_id>/rename", supervisor_views.unit_rename, name="supervisor_unit_rename"
    ),
    path(
        "supervisor/units/<int:unit_id>/service",
        supervisor_views.unit_service,
        name="supervisor_unit_service",
    ),
    path(
        "supervisor/units/<int:unit_id>/retire", supervisor_views.unit_retire, name="supervisor_unit_retire"
    ),
    path("supervisor/people/", supervisor_views.people, name="supervisor_people"),
    path("supervisor/people/new/", supervisor_views.person_new, name="supervisor_person_new"),
    path("supervisor/people/<int:user_id>/", supervisor_views.person, name="supervisor_person"),
    path(
        "supervisor/people/<int:user_id>/password",
        supervisor_views.person_password,
        name="supervisor_person_password",
    ),
    path(
        "supervisor/people/<int:user_id>/active",
        supervisor_views.person_active,
        name="supervisor_person_active",
    ),
    path("supervisor/lockouts/", account_views.lockouts, name="supervisor_lockouts"),
    path(
        "supervisor/lockouts/<int:attempt_id>/lift",
        account_views.lockout_lift_view,
        name="supervisor_lockout_lift",
    ),
    path("supervisor/shifts/", supervisor_views.shifts, name="supervisor_shifts"),
    path("supervisor/webhooks/", webhook_views.webhooks, name="webhooks"),
    path(
        "supervisor/webhooks/deliveries/<int:delivery_id>/retry/",
        webhook_views.webhook_delivery_retry,
        name="webhook_delivery_retry",
    ),
]
