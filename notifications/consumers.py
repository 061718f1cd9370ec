"""The live notification feed at /ws/v1/notifications/ (JWT via users.channels_auth)."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications.channels import user_group

# 4401 mirrors HTTP 401 in the private-use close code range, so clients can tell it apart.
CLOSE_UNAUTHENTICATED = 4401


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # Clients keep idle proxies from closing the socket with pings; nothing else is accepted.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def push(self, event):
        await self.send_json(event["payload"])
