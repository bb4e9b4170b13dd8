from django.urls import path

from field import api, views

app_name = "field"

urlpatterns = [
    path("", views.home, name="home"),
    path("state", views.state, name="state"),
    path("shift/start", views.shift_start, name="shift_start"),
    path("shift/end", views.shift_end, name="shift_end"),
    path("api/assignments/<uuid:assignment_id>/status", api.AssignmentStatus.as_view(), name="api_status"),
    path("api/assignments/<uuid:assignment_id>/ack", api.AssignmentAcknowledge.as_view(), name="api_ack"),
    path("api/assignments/<uuid:assignment_id>/outcome", api.AssignmentOutcome.as_view(), name="api_outcome"),
    path("api/encounters", api.EncounterCreate.as_view(), name="api_encounters"),
    path("api/backup", api.BackupCreate.as_view(), name="api_backup"),
    path("api/location", api.LocationReport.as_view(), name="api_location"),
]
