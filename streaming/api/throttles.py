"""Limits on play reports, per listener and per network, so no client can flood the counts."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from streaming.identity import client_hash, keyed_hash


class _SettingsRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self):  # read per request, so deployments and tests can change it
        return getattr(settings, self.setting)


class PlayListenerThrottle(_SettingsRateThrottle):
    """Per listener: the signed-in fan, or the guest's (hashed) client id."""

    scope = "streaming_play"
    setting = "STREAMING_PLAY_RATE"

    def get_cache_key(self, request, view):
        user = request.user
        if user and user.is_authenticated:
            ident = f"u{user.pk}"
        else:
            raw = request.data.get("client_id") if hasattr(request.data, "get") else None
            ident = f"g{client_hash(str(raw))}" if raw else f"ip{self._ip(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def _ip(self, request) -> str:
        # get_ident is None when the server passes no REMOTE_ADDR (some WSGI/ASGI setups).
        return keyed_hash(self.get_ident(request) or "", purpose="ip")


class PlayNetworkThrottle(_SettingsRateThrottle):
    """Per (hashed) address: guests rotating client ids still share one budget."""

    scope = "streaming_play_ip"
    setting = "STREAMING_PLAY_IP_RATE"

    def get_cache_key(self, request, view):
        ident = keyed_hash(self.get_ident(request) or "", purpose="ip")
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ChartThrottle(_SettingsRateThrottle):
    scope = "streaming_chart"
    setting = "STREAMING_CHART_RATE"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = keyed_hash(self.get_ident(request) or "", purpose="ip")
        return self.cache_format % {"scope": self.scope, "ident": ident}
