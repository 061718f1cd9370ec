"""Who is listening, without storing who they are: keyed hashes of client ids and IPs."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 with SECRET_KEY: stable for one deployment, useless to anyone without the key."""
    key = f"{settings.SECRET_KEY}:streaming.{purpose}".encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def client_hash(client_id: str) -> str:
    return keyed_hash(client_id, purpose="client")


def listener_key(*, user_id: int | None, hashed_client: str) -> str:
    """A signed-in fan is their account on every device; a guest is their player's id."""
    return f"u:{user_id}" if user_id is not None else f"g:{hashed_client}"
