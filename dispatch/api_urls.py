from django.urls import path

from dispatch import api, api_eido, api_webhooks

urlpatterns = [
    path("incidents/", api.IncidentListCreate.as_view(), name="api-incidents"),
    path("incidents/<uuid:incident_id>/", api.IncidentDetail.as_view(), name="api-incident"),
    path("incidents/<uuid:incident_id>/assign", api.IncidentAssign.as_view(), name="api-incident-assign"),
    path("incidents/<uuid:incident_id>/eido", api_eido.IncidentEido.as_view(), name="api-incident-eido"),
    path("eido/", api_eido.EidoPost.as_view(), name="api-eido"),
    path("units/", api.UnitList.as_view(), name="api-units"),
    path("programs/", api.ProgramList.as_view(), name="api-programs"),
    path("webhooks/", api_webhooks.WebhookListCreate.as_view(), name="api-webhooks"),
    path("webhooks/<uuid:webhook_id>/", api_webhooks.WebhookDetail.as_view(), name="api-webhook"),
    path(
        "webhooks/<uuid:webhook_id>/deliveries",
        api_webhooks.WebhookDeliveries.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "assignments/<uuid:assignment_id>/status",
        api.AssignmentStatus.as_view(),
        name="api-assignment-status",
    ),
]
