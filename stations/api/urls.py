from django.urls import path

from stations.api import views

urlpatterns = [
    path("stations/", views.StationListApi.as_view(), name="station-list"),
    path("stations/me/", views.StationMeApi.as_view(), name="station-me"),
    path("stations/<int:pk>/", views.StationDetailApi.as_view(), name="station-detail"),
    path("stations/<int:pk>/verify/", views.StationVerifyApi.as_view(), name="station-verify"),
    path(
        "stations/<int:pk>/unverify/", views.StationUnverifyApi.as_view(), name="station-unverify"
    ),
    path(
        "stations/<int:pk>/monitoring/",
        views.StationMonitoringApi.as_view(),
        name="station-monitoring",
    ),
    path(
        "stations/<int:pk>/members/", views.StationMemberListApi.as_view(), name="station-members"
    ),
    path(
        "stations/<int:pk>/members/<int:member_pk>/",
        views.StationMemberDetailApi.as_view(),
        name="station-member-detail",
    ),
    path(
        "stations/<int:pk>/stream-links/",
        views.StationStreamLinkListApi.as_view(),
        name="station-stream-links",
    ),
    path("stream-links/<int:pk>/", views.StreamLinkDetailApi.as_view(), name="stream-link-detail"),
    path(
        "stream-links/<int:pk>/enabled/",
        views.StreamLinkEnabledApi.as_view(),
        name="stream-link-enabled",
    ),
]
