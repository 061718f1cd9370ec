from django.urls import path

from detections.api import views

urlpatterns = [
    path("plays/", views.PlayListApi.as_view(), name="play-list"),
    path("plays/<int:pk>/", views.PlayDetailApi.as_view(), name="play-detail"),
    path("plays/<int:pk>/review/", views.PlayReviewApi.as_view(), name="play-review"),
    path("match-cache/", views.MatchCacheListApi.as_view(), name="match-cache-list"),
    path("station-uploads/", views.UploadListCreateApi.as_view(), name="station-upload-list"),
]
