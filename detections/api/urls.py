from django.urls import path

from detections.api import views

urlpatterns = [
    path("plays/", views.PlayListApi.as_view(), name="play-list"),
    path("plays/<int:pk>/", views.PlayDetailApi.as_view(), name="play-detail"),
    path("plays/<int:pk>/review/", views.PlayReviewApi.as_view(), name="play-review"),
    path("match-cache/", views.MatchCacheListApi.as_view(), name="match-cache-list"),
    path("station-uploads/", views.UploadListCreateApi.as_view(), name="station-upload-list"),
]

urlpatterns += [
    path("disputes/", views.DisputeListCreateApi.as_view(), name="dispute-list"),
    path("disputes/<int:pk>/", views.DisputeDetailApi.as_view(), name="dispute-detail"),
    path("disputes/<int:pk>/review/", views.DisputeReviewStartApi.as_view(), name="dispute-review"),
    path(
        "disputes/<int:pk>/request-evidence/",
        views.DisputeEvidenceRequestApi.as_view(),
        name="dispute-request-evidence",
    ),
    path(
        "disputes/<int:pk>/escalate/", views.DisputeEscalateApi.as_view(), name="dispute-escalate"
    ),
    path("disputes/<int:pk>/resolve/", views.DisputeResolveApi.as_view(), name="dispute-resolve"),
    path(
        "disputes/<int:pk>/withdraw/", views.DisputeWithdrawApi.as_view(), name="dispute-withdraw"
    ),
    path("disputes/<int:pk>/comments/", views.DisputeCommentApi.as_view(), name="dispute-comments"),
    path(
        "disputes/<int:pk>/evidence/", views.DisputeEvidenceApi.as_view(), name="dispute-evidence"
    ),
    path(
        "disputes/<int:pk>/evidence/<int:evidence_pk>/file/",
        views.DisputeEvidenceFileApi.as_view(),
        name="dispute-evidence-file",
    ),
    path("plays/<int:pk>/override/", views.PlayOverrideApi.as_view(), name="play-override"),
    path("review-queue/", views.ReviewQueueApi.as_view(), name="review-queue"),
    path("review-queue/decide/", views.ReviewDecideApi.as_view(), name="review-decide"),
    path("analytics/plays/", views.PlayRollupApi.as_view(), name="analytics-plays"),
    path(
        "analytics/plays/export/",
        views.PlayRollupExportApi.as_view(),
        name="analytics-plays-export",
    ),
    path(
        "analytics/detection-health/",
        views.DetectionHealthApi.as_view(),
        name="analytics-detection-health",
    ),
    path(
        "analytics/detection-health/export/",
        views.DetectionHealthExportApi.as_view(),
        name="analytics-detection-health-export",
    ),
    path("playlog-comparison/", views.PlaylogComparisonApi.as_view(), name="playlog-comparison"),
    path(
        "playlog-comparison/export/",
        views.PlaylogComparisonExportApi.as_view(),
        name="playlog-comparison-export",
    ),
]
