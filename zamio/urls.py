from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from detections.monitor import LiveMonitorView, LiveTokenView
from zamio.errors import json_404
from zamio.health import HealthApi

api_v1 = [
    path("health/", HealthApi.as_view(), name="health"),
    path("", include("users.api.urls")),
    path("", include("artists.api.urls")),
    path("", include("tracks.api.urls")),
    path("", include("fingerprinting.api.urls")),
    path("", include("stations.api.urls")),
    path("", include("stream_capture.api.urls")),
    path("", include("detections.api.urls")),
    path("", include("royalties.api.urls")),
    path("", include("wallets.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("streaming.api.urls")),
]

urlpatterns = [
    path("", LiveMonitorView.as_view(), name="live-monitor"),
    path("live/token/", LiveTokenView.as_view(), name="live-token"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

# Unknown API paths answer in the API's error shape, in DEBUG too.
# Exempt from CSRF: a POST to an unknown API path is a 404 in the error shape, not Django's
# HTML CSRF page (API clients authenticate with tokens, never with a session cookie).
urlpatterns.append(re_path(r"^api/", csrf_exempt(json_404)))

handler400 = "zamio.errors.json_400"
handler403 = "zamio.errors.json_403"
handler404 = "zamio.errors.json_404"
handler500 = "zamio.errors.json_500"

admin.site.site_header = "ZamIO administration"
admin.site.site_title = "ZamIO admin"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
