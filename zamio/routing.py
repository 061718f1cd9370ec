"""WebSocket routes of every app, collected in one list."""

from django.urls import path

from detections.consumers import PlaysConsumer
from notifications.consumers import NotificationConsumer

websocket_urlpatterns: list = [
    path("ws/v1/notifications/", NotificationConsumer.as_asgi()),
    path("ws/v1/plays/", PlaysConsumer.as_asgi()),
]
