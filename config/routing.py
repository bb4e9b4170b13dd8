from django.urls import path

from dispatch.consumers import DispatchConsumer
from field.consumers import FieldConsumer, FieldNudgeConsumer
from referrals.consumers import FollowUpConsumer

websocket_urlpatterns = [
    path("ws/dispatch/", DispatchConsumer.as_asgi()),
    path("ws/field/", FieldConsumer.as_asgi()),
    path("ws/field/nudge/", FieldNudgeConsumer.as_asgi()),
    path("ws/followups/", FollowUpConsumer.as_asgi()),
]
