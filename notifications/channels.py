"""The live WebSocket channel: one group per user, one helper to send to it.

Consumers join `user_group(user.id)`; services call `user_broadcast_on_commit`,
so a rolled-back transaction never reaches a browser.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"notifications.user.{user_id}"


def user_broadcast(*, user_id: int, payload: dict) -> None:
    """Sends `payload` to every open socket of the user now. Raises if the layer is down."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(user_group(user_id), {"type": "push", "payload": payload})


def user_broadcast_on_commit(*, user_id: int, payload: dict) -> None:
    transaction.on_commit(lambda: user_broadcast(user_id=user_id, payload=payload))
