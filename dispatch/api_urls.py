from django.urls import path

from dispatch import api

urlpatterns = [
    path("incidents/", api.IncidentListCreate.as_view(), name="api-incidents"),
    path("incidents/<uuid:incident_id>/", api.IncidentDetail.as_view(), name="api-incident"),
]
