from django.urls import path

from dispatch import console_views, views

app_name = "dispatch"

urlpatterns = [
    path("", console_views.console, name="console"),
    path("supervisor/", views.supervisor_home, name="supervisor_home"),
    path("supervisor/call-types/new/", views.call_type_edit, name="call_type_new"),
    path("supervisor/call-types/<int:pk>/", views.call_type_edit, name="call_type_edit"),
    path("supervisor/screening/<int:pk>/", views.screening_question_edit, name="screening_edit"),
]
