"""The detections API: plays for every role (each sees its own), analysed windows for staff,
and the upload endpoint of station devices."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from detections import selectors, services
from detections.api import serializers as s
from detections.models import (
    MatchCache,
    MatchStatus,
    PaymentStatus,
    PlayLog,
    PlaySource,
    RoyaltyStatus,
    StationUpload,
    UploadStatus,
    VerificationStatus,
)
from stations.selectors import station_ids_for_user
from tracks.models import Track
from users.models import Role, StaffRole
from users.permissions import IsAuthenticatedUser, IsStaff, IsStation, has_role, has_staff_role
from zamio.errors import Forbidden

IsPlayReader = has_role(Role.ADMIN, Role.STATION, Role.ARTIST, Role.PUBLISHER)
IsPlayReviewer = has_staff_role(StaffRole.SUPPORT)


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


class PlayFilter(django_filters.FilterSet):
    station = django_filters.NumberFilter(field_name="station_id")
    track = django_filters.NumberFilter(field_name="track_id")
    artist = django_filters.NumberFilter(
        method="filter_artist", help_text="Artist id (primary or featured)."
    )
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    date_from = django_filters.DateFilter(
        field_name="started_at", lookup_expr="date__gte", help_text="First day (inclusive)."
    )
    date_to = django_filters.DateFilter(
        field_name="started_at", lookup_expr="date__lte", help_text="Last day (inclusive)."
    )
    verification_status = django_filters.ChoiceFilter(choices=VerificationStatus.choices)
    payment_status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    royalty_status = django_filters.ChoiceFilter(choices=RoyaltyStatus.choices)
    source = django_filters.ChoiceFilter(choices=PlaySource.choices)

    class Meta:
        model = PlayLog
        fields = ["royalty_bearing", "is_open"]

    def filter_artist(self, qs, name, value):
        ids = Track.objects.filter(Q(primary_artist_id=value) | Q(featured_artists__id=value))
        return qs.filter(track_id__in=ids.values("pk"))


class PlayListApi(generics.ListAPIView):
    """Plays the caller may see: staff all, a station its own, an artist its tracks', a
    publisher its represented artists'. Filter by station, track, artist, dates, statuses."""

    permission_classes = [IsPlayReader]
    serializer_class = s.PlayOutput
    filterset_class = PlayFilter
    ordering_fields = ["started_at", "duration_seconds", "avg_confidence", "id"]
    ordering = ["-started_at", "-id"]

    def get_queryset(self):
        if _fake(self):
            return PlayLog.objects.none()
        return selectors.plays_visible_to(user=self.request.user)

    @extend_schema(tags=["detections"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PlayDetailApi(APIView):
    permission_classes = [IsPlayReader]

    @extend_schema(responses={200: s.PlayOutput}, tags=["detections"])
    def get(self, request, pk: int):
        play = selectors.play_get(user=request.user, play_id=pk)
        return Response(s.PlayOutput(play).data)


class PlayReviewApi(APIView):
    """Support staff confirm, reject or mark a play disputed (audited)."""

    permission_classes = [IsPlayReviewer]

    @extend_schema(request=s.PlayReviewInput, responses={200: s.PlayOutput}, tags=["detections"])
    def post(self, request, pk: int):
        data = s.PlayReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.play_review(
            actor=request.user,
            play_id=pk,
            status=data.validated_data["verification_status"],
            note=data.validated_data["note"],
        )
        play = selectors.play_get(user=request.user, play_id=pk)
        return Response(s.PlayOutput(play).data)


class MatchCacheFilter(django_filters.FilterSet):
    station = django_filters.NumberFilter(field_name="station_id")
    track = django_filters.NumberFilter(field_name="track_id")
    status = django_filters.ChoiceFilter(choices=MatchStatus.choices)
    source = django_filters.ChoiceFilter(choices=PlaySource.choices)
    captured_after = django_filters.IsoDateTimeFilter(field_name="captured_at", lookup_expr="gte")
    captured_before = django_filters.IsoDateTimeFilter(field_name="captured_at", lookup_expr="lt")
    min_confidence = django_filters.NumberFilter(field_name="confidence", lookup_expr="gte")

    class Meta:
        model = MatchCache
        fields = ["play"]


class MatchCacheListApi(generics.ListAPIView):
    """Every analysed window with its best match: staff's view into the matcher."""

    permission_classes = [IsStaff]
    serializer_class = s.MatchCacheOutput
    filterset_class = MatchCacheFilter
    ordering_fields = ["captured_at", "confidence", "id"]
    ordering = ["-captured_at", "-id"]

    def get_queryset(self):
        if _fake(self):
            return MatchCache.objects.none()
        return selectors.match_cache_visible_to(user=self.request.user)

    @extend_schema(tags=["detections"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class UploadFilter(django_filters.FilterSet):
    station = django_filters.NumberFilter(field_name="station_id")
    status = django_filters.ChoiceFilter(choices=UploadStatus.choices)
    chunk_id = django_filters.CharFilter()

    class Meta:
        model = StationUpload
        fields = ["status"]


class UploadListCreateApi(generics.ListAPIView):
    """GET: a station's clips (staff: all). POST (multipart, station accounts): a clip
    recorded at the station; a chunk_id sent before is answered 200 "already received"."""

    permission_classes = [IsAuthenticatedUser]
    serializer_class = s.UploadOutput
    filterset_class = UploadFilter
    parser_classes = [MultiPartParser, FormParser]
    ordering = ["-captured_at", "-id"]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsStation()]
        return [has_role(Role.ADMIN, Role.STATION)()]

    def get_queryset(self):
        if _fake(self):
            return StationUpload.objects.none()
        return selectors.uploads_visible_to(user=self.request.user)

    @extend_schema(tags=["detections"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": s.UploadInput},
        responses={201: s.UploadReceiptOutput, 200: s.UploadReceiptOutput},
        tags=["detections"],
    )
    def post(self, request):
        data = s.UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        station_ids = station_ids_for_user(user=request.user)
        if len(station_ids) != 1:
            raise Forbidden(
                "This account is not linked to a station.", code="no_station_membership"
            )
        audio = data.validated_data["audio"]
        result = services.station_upload_receive(
            station_id=station_ids[0],
            user=request.user,
            chunk_id=data.validated_data["chunk_id"],
            captured_at=data.validated_data["captured_at"],
            data=audio.read(),
            filename=audio.name,
        )
        body = s.UploadReceiptOutput(
            {"already_received": not result.created, "upload": result.upload}
        ).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else 200)
