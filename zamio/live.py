"""The one way services talk to live WebSocket clients: named groups and an on-commit broadcast.

Group names come only from the helpers below, so a consumer joining a group and a
service sending to it can never disagree on spelling. Consumers decide which groups
a connection may join (by role and ownership); services name the groups an event
concerns and know nothing about who listens.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)


def station_group(station_id: int) -> str:
    return f"plays.station.{station_id}"


def track_group(track_id: int) -> str:
    return f"plays.track.{track_id}"


def artist_group(artist_id: int) -> str:
    return f"plays.artist.{artist_id}"


def publisher_group(publisher_id: int) -> str:
    return f"plays.publisher.{publisher_id}"


def staff_group() -> str:
    return "plays.staff"


def broadcast(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    """Sends one event to each group now. Prefer `broadcast_on_commit` inside a transaction."""
    layer = get_channel_layer()
    if layer is None:
        return
    # Round-trip through JSON so Decimals and datetimes reach clients as strings.
    message = {
        "type": "live.event",
        "event": event,
        "payload": json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
    }
    send = async_to_sync(layer.group_send)
    for group in dict.fromkeys(groups):
        try:
            send(group, message)
        except Exception:
            logger.exception("live broadcast of %s to %s failed", event, group)


def broadcast_on_commit(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    """Sends the event once the current transaction commits; nothing on rollback."""
    transaction.on_commit(lambda: broadcast(groups=groups, event=event, payload=payload))
