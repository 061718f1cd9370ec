"""ASGI entry point: HTTP through Django (one hand-off to a worker thread per request),
WebSockets through Channels with JWT auth."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")
django.setup(set_prefix=False)  # as Django's get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from users.channels_auth import JWTAuthMiddleware  # noqa: E402
from zamio.http import HttpHandler  # noqa: E402
from zamio.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": HttpHandler(),
        "websocket": AllowedHostsOriginValidator(
            JWTAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)

# What a worker has built by now (Django, every app's code and views, numpy and the
# rest: ~220,000 objects) lives as long as the process. Left to the collector, each full
# collection walks all of it: 115-210 ms with the GIL held, a dozen times a minute in a
# portal benchmark worker, stalling every request the process had in flight. Frozen, a
# full collection walks only what requests made since.
gc.freeze()
