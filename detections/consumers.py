"""The live play feed at /ws/v1/plays/ (JWT via users.channels_auth, in zamio/asgi.py).

A connection joins the groups its account may hear, decided once at connect: a station
account its station's, an artist its own, a publisher its own, staff all. Services
broadcast to groups by what an event concerns (zamio.live); this consumer never
decides per event, so nobody can hear a group they were not let into.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from zamio import live

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _groups_for(user) -> list[str]:
    from artists.models import Artist, Publisher
    from stations.selectors import station_ids_for_user
    from users.models import Role

    if user.role == Role.ADMIN:
        return [live.staff_group()]
    if user.role == Role.STATION:
        return [live.station_group(i) for i in station_ids_for_user(user=user)]
    if user.role == Role.ARTIST:
        return [
            live.artist_group(i)
            for i in Artist.objects.filter(user=user).values_list("pk", flat=True)
        ]
    if user.role == Role.PUBLISHER:
        return [
            live.publisher_group(i)
            for i in Publisher.objects.filter(user=user).values_list("pk", flat=True)
        ]
    return []


class PlaysConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined = await _groups_for(user)
        if not self.groups_joined:
            # A station account not yet linked to a station, an artist without a profile:
            # nothing to hear, and saying so beats a silent socket.
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # A bearer subprotocol, if the client used one, must be echoed to be accepted.
        protocols = self.scope.get("subprotocols") or []
        await self.accept(subprotocol=protocols[0] if protocols else None)
        await self.send_json({"type": "welcome", "groups": len(self.groups_joined)})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, message):
        await self.send_json(
            {"type": "event", "event": message["event"], "payload": message["payload"]}
        )
