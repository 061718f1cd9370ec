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

urlpatterns += [
    path(
        "stations/<int:pk>/playlogs/",
        views.StationPlaylogListApi.as_view(),
        name="station-playlogs",
    ),
    path("playlogs/<int:pk>/", views.PlaylogDetailApi.as_view(), name="playlog-detail"),
    path("playlogs/<int:pk>/entries/", views.PlaylogEntryListApi.as_view(), name="playlog-entries"),
    path(
        "stations/<int:pk>/compliance-documents/",
        views.StationComplianceUploadApi.as_view(),
        name="station-compliance-upload",
    ),
    path(
        "compliance-documents/",
        views.ComplianceDocumentListApi.as_view(),
        name="compliance-document-list",
    ),
    path(
        "compliance-documents/<int:pk>/",
        views.ComplianceDocumentDetailApi.as_view(),
        name="compliance-document-detail",
    ),
    path(
        "compliance-documents/<int:pk>/file/",
        views.ComplianceDocumentFileApi.as_view(),
        name="compliance-document-file",
    ),
    path(
        "compliance-documents/<int:pk>/review/",
        views.ComplianceDocumentReviewApi.as_view(),
        name="compliance-document-review",
    ),
    path("compliance/missing/", views.ComplianceMissingApi.as_view(), name="compliance-missing"),
]
