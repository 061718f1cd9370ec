"""WebSocket routes of every app, collected in one list."""

from django.urls import path

from notifications.consumers import NotificationConsumer

websocket_urlpatterns: list = [
    path("ws/v1/notifications/", NotificationConsumer.as_asgi()),
]
