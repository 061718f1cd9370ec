"""JWT authentication for WebSockets: `?token=<access>` or subprotocol `bearer, <access>`."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from users.models import User


def _token_from_scope(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode())
    if query.get("token"):
        return query["token"][0]
    protocols = scope.get("subprotocols") or []
    if len(protocols) >= 2 and protocols[0].lower() == "bearer":
        return protocols[1]
    return None


@database_sync_to_async
def _user_for_token(raw: str):
    try:
        token = AccessToken(raw)
    except (InvalidToken, TokenError):
        return AnonymousUser()
    return User.objects.filter(pk=token.get("user_id"), is_active=True).first() or AnonymousUser()


class JWTAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        raw = _token_from_scope(scope)
        scope["user"] = await _user_for_token(raw) if raw else AnonymousUser()
        return await self.inner(scope, receive, send)
