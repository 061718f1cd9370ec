from django.urls import path

from tracks.api import views

urlpatterns = [
    path("tracks/", views.TrackListCreateApi.as_view(), name="track-list"),
    path("tracks/import/", views.TrackImportApi.as_view(), name="track-import"),
    path(
        "tracks/import/template.csv",
        views.TrackImportTemplateApi.as_view(),
        name="track-import-template",
    ),
    path("tracks/imports/", views.TrackImportListApi.as_view(), name="track-import-list"),
    path(
        "tracks/imports/<int:pk>/",
        views.TrackImportDetailApi.as_view(),
        name="track-import-detail",
    ),
    path("tracks/<int:pk>/", views.TrackDetailApi.as_view(), name="track-detail"),
    path("tracks/<int:pk>/audio/", views.TrackAudioApi.as_view(), name="track-audio"),
    path("tracks/<int:pk>/cover/", views.TrackCoverApi.as_view(), name="track-cover"),
    path("tracks/<int:pk>/submit/", views.TrackSubmitApi.as_view(), name="track-submit"),
    path("tracks/<int:pk>/approve/", views.TrackApproveApi.as_view(), name="track-approve"),
    path("tracks/<int:pk>/reject/", views.TrackRejectApi.as_view(), name="track-reject"),
    path("tracks/<int:pk>/splits/", views.TrackSplitsApi.as_view(), name="track-splits"),
    path(
        "tracks/<int:pk>/splits/<int:version_id>/sheet/",
        views.SplitSheetFileApi.as_view(),
        name="track-split-sheet",
    ),
]
