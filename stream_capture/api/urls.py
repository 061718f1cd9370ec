from django.urls import path

from stream_capture.api import views

urlpatterns = [
    path("stations/<int:pk>/health/", views.StationHealthApi.as_view(), name="station-health"),
    path("stream-health/", views.LinkHealthListApi.as_view(), name="stream-health"),
    path(
        "stream-links/<int:pk>/attempts/",
        views.LinkAttemptListApi.as_view(),
        name="stream-link-attempts",
    ),
    path("stream-links/<int:pk>/check/", views.LinkCheckApi.as_view(), name="stream-link-check"),
]
