from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from artists.selectors import artist_of_user, artists_visible_to
from streaming import selectors, services
from streaming.api import serializers as s
from streaming.api.throttles import ChartThrottle, PlayListenerThrottle, PlayNetworkThrottle
from streaming.models import TrackLike
from users.permissions import AllowAnyone, IsArtist, IsAuthenticatedUser


class PlayEventCreateApi(APIView):
    """A fan's player reports a play: when it started, how long it played, how it ended.

    Signed-in fans send their JWT; guests send `client_id`. Reports of a play already
    recorded (progress updates, a refreshed page) are merged into it: 200 instead of 201.
    """

    permission_classes = [AllowAnyone]
    throttle_classes = [PlayListenerThrottle, PlayNetworkThrottle]

    @extend_schema(
        request=s.PlayEventInput,
        responses={201: s.PlayRecordOutput, 200: s.PlayRecordOutput},
        tags=["streaming"],
    )
    def post(self, request):
        data = s.PlayEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        user = request.user if request.user.is_authenticated else None
        result = services.play_record(track_id=values.pop("track"), user=user, **values)
        return Response(
            s.PlayRecordOutput({"created": result.created, "event": result.event}).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class TrackLikeApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        request=None, responses={201: s.LikeOutput, 200: s.LikeOutput}, tags=["streaming"]
    )
    def put(self, request, track_id: int):
        like, created = services.like_add(user=request.user, track_id=track_id)
        like = selectors.likes_of(user=request.user).get(pk=like.pk)
        return Response(
            s.LikeOutput(like).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses={204: None}, tags=["streaming"])
    def delete(self, request, track_id: int):
        services.like_remove(user=request.user, track_id=track_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LikeListApi(generics.ListAPIView):
    """The caller's liked tracks, newest first."""

    permission_classes = [IsAuthenticatedUser]
    serializer_class = s.LikeOutput
    filterset_fields = ["track"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TrackLike.objects.none()
        return selectors.likes_of(user=self.request.user)

    @extend_schema(tags=["streaming"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _window_data(window, params) -> dict:
    return {
        "period": window.period,
        "start": window.first_day,
        "end": window.last_day,
        "country": params["country"].upper(),
        "region": params["region"],
    }


class _ChartApi(APIView):
    permission_classes = [AllowAnyone]
    throttle_classes = [ChartThrottle]

    def _params(self, request):
        data = s.ChartInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        window = selectors.period_window(period=params["period"], day=params["date"])
        return params, window


class ChartTopTracksApi(_ChartApi):
    """Top tracks by counted fan plays in a day, week or month; worldwide, a country or region."""

    @extend_schema(
        parameters=[s.ChartInput], responses={200: s.TrackChartOutput}, tags=["streaming"]
    )
    def get(self, request):
        params, window = self._params(request)
        rows = selectors.chart_top_tracks(
            window=window, country=params["country"], region=params["region"], limit=params["limit"]
        )
        return Response(s.TrackChartOutput({**_window_data(window, params), "results": rows}).data)


class ChartTopArtistsApi(_ChartApi):
    """Top artists by counted fan plays of their tracks."""

    @extend_schema(
        parameters=[s.ChartInput], responses={200: s.ArtistChartOutput}, tags=["streaming"]
    )
    def get(self, request):
        params, window = self._params(request)
        rows = selectors.chart_top_artists(
            window=window, country=params["country"], region=params["region"], limit=params["limit"]
        )
        return Response(s.ArtistChartOutput({**_window_data(window, params), "results": rows}).data)


def _artist_stats_response(request, artist_id: int) -> Response:
    data = s.WindowInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    params = data.validated_data
    window = selectors.period_window(period=params["period"], day=params["date"])
    stats = selectors.artist_stats(
        artist_id=artist_id, window=window, country=params["country"], region=params["region"]
    )
    return Response(
        s.ArtistStatsOutput({**_window_data(window, params), "artist_id": artist_id, **stats}).data
    )


class MyArtistStatsApi(APIView):
    """The signed-in artist's own fan numbers."""

    permission_classes = [IsArtist]

    @extend_schema(
        parameters=[s.WindowInput], responses={200: s.ArtistStatsOutput}, tags=["streaming"]
    )
    def get(self, request):
        return _artist_stats_response(request, artist_of_user(user=request.user).pk)


class ArtistStatsApi(APIView):
    """One artist's fan numbers, for that artist, their publisher, or staff (others: 404)."""

    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        parameters=[s.WindowInput], responses={200: s.ArtistStatsOutput}, tags=["streaming"]
    )
    def get(self, request, artist_id: int):
        artist = generics.get_object_or_404(artists_visible_to(user=request.user), pk=artist_id)
        return _artist_stats_response(request, artist.pk)
