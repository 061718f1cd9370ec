from django.urls import path

from streaming.api import views

urlpatterns = [
    path("streaming/plays/", views.PlayEventCreateApi.as_view(), name="streaming-play"),
    path("streaming/likes/", views.LikeListApi.as_view(), name="streaming-likes"),
    path(
        "streaming/tracks/<int:track_id>/like/",
        views.TrackLikeApi.as_view(),
        name="streaming-track-like",
    ),
    path(
        "streaming/charts/tracks/",
        views.ChartTopTracksApi.as_view(),
        name="streaming-chart-tracks",
    ),
    path(
        "streaming/charts/artists/",
        views.ChartTopArtistsApi.as_view(),
        name="streaming-chart-artists",
    ),
    path(
        "streaming/artists/me/stats/",
        views.MyArtistStatsApi.as_view(),
        name="streaming-my-artist-stats",
    ),
    path(
        "streaming/artists/<int:artist_id>/stats/",
        views.ArtistStatsApi.as_view(),
        name="streaming-artist-stats",
    ),
]
