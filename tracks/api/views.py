from __future__ import annotations

import django_filters
from django.db.models import Q
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from artists.models import Artist
from artists.selectors import artist_of_user
from tracks import selectors, services
from tracks.api import serializers as s
from tracks.csv_import import template_csv
from tracks.models import FingerprintStatus, Track, TrackImport, TrackStatus
from users.models import Role
from users.permissions import has_role, has_staff_role
from zamio.errors import NotFound, ValidationFailed

IsCatalogueReader = has_role(Role.ARTIST, Role.PUBLISHER, Role.STATION, Role.ADMIN)
IsCatalogueEditor = has_role(Role.ARTIST, Role.PUBLISHER, Role.ADMIN)
IsTrackReviewer = has_staff_role("support")

_BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="The file.")


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


class TrackFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Title, artist or ISRC.")
    title = django_filters.CharFilter(lookup_expr="icontains")
    artist = django_filters.NumberFilter(method="filter_artist", help_text="Artist id.")
    artist_name = django_filters.CharFilter(method="filter_artist_name")
    isrc = django_filters.CharFilter(method="filter_isrc")
    genre = django_filters.CharFilter(lookup_expr="iexact")
    album = django_filters.CharFilter(lookup_expr="icontains")
    status = django_filters.ChoiceFilter(choices=TrackStatus.choices)
    fingerprint_status = django_filters.ChoiceFilter(choices=FingerprintStatus.choices)
    released_after = django_filters.DateFilter(field_name="release_date", lookup_expr="gte")
    released_before = django_filters.DateFilter(field_name="release_date", lookup_expr="lte")

    class Meta:
        model = Track
        fields = ["status", "genre", "explicit"]

    def filter_q(self, qs, name, value):
        compact = value.replace("-", "").strip().upper()
        return qs.filter(
            Q(title__icontains=value)
            | Q(primary_artist__stage_name__icontains=value)
            | Q(isrc=compact)
        )

    def filter_artist(self, qs, name, value):
        ids = Track.objects.filter(
            Q(primary_artist_id=value) | Q(featured_artists__id=value)
        ).values("pk")
        return qs.filter(pk__in=ids)

    def filter_artist_name(self, qs, name, value):
        ids = Track.objects.filter(
            Q(primary_artist__stage_name__icontains=value)
            | Q(featured_artists__stage_name__icontains=value)
        ).values("pk")
        return qs.filter(pk__in=ids)

    def filter_isrc(self, qs, name, value):
        return qs.filter(isrc=value.replace("-", "").strip().upper())


class TrackListCreateApi(generics.ListAPIView):
    """The tracks the caller may see, searchable and filterable; POST (multipart) uploads one."""

    permission_classes = [IsCatalogueReader]
    serializer_class = s.TrackOutput
    filterset_class = TrackFilter
    ordering_fields = ["created_at", "title", "release_date", "id"]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        if _fake(self):
            return Track.objects.none()
        return selectors.tracks_visible_to(user=self.request.user)

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsCatalogueEditor()]
        return super().get_permissions()

    @extend_schema(tags=["tracks"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": s.TrackCreateInput},
        responses={201: s.TrackOutput},
        tags=["tracks"],
    )
    def post(self, request):
        data = s.TrackCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        artist_id = values.pop("primary_artist_id", None)
        if artist_id is None:
            if request.user.role != Role.ARTIST:
                raise ValidationFailed(
                    "Name the primary artist.", details={"primary_artist_id": ["Required."]}
                )
            artist = artist_of_user(user=request.user)
        else:
            artist = Artist.objects.filter(pk=artist_id).first()
            if artist is None:
                raise ValidationFailed(
                    "Unknown artist.", details={"primary_artist_id": ["No such artist."]}
                )
        track = services.track_create(actor=request.user, primary_artist=artist, **values)
        track = selectors.track_get(user=request.user, track_id=track.pk)
        return Response(
            s.TrackOutput(track, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class TrackDetailApi(APIView):
    permission_classes = [IsCatalogueReader]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(responses={200: s.TrackOutput}, tags=["tracks"])
    def get(self, request, pk: int):
        track = selectors.track_get(user=request.user, track_id=pk)
        return Response(s.TrackOutput(track, context={"request": request}).data)

    @extend_schema(request=s.TrackUpdateInput, responses={200: s.TrackOutput}, tags=["tracks"])
    def patch(self, request, pk: int):
        track = selectors.track_get_for_edit(user=request.user, track_id=pk)
        data = s.TrackUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.track_update(actor=request.user, track=track, **data.validated_data)
        track = selectors.track_get(user=request.user, track_id=pk)
        return Response(s.TrackOutput(track, context={"request": request}).data)


class TrackAudioApi(APIView):
    """GET streams the master to those who may edit the track; PUT replaces it (drafts)."""

    permission_classes = [IsCatalogueEditor]
    parser_classes = [MultiPartParser]

    @extend_schema(responses={200: _BINARY}, tags=["tracks"])
    def get(self, request, pk: int):
        track = selectors.track_get_for_edit(user=request.user, track_id=pk)
        if not track.audio:
            raise NotFound("This track has no audio.")
        response = FileResponse(
            track.audio.open("rb"),
            as_attachment=True,
            filename=f"track-{track.pk}.{track.audio_format or 'bin'}",
        )
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        request={"multipart/form-data": s.AudioInput},
        responses={200: s.TrackOutput},
        tags=["tracks"],
    )
    def put(self, request, pk: int):
        track = selectors.track_get_for_edit(user=request.user, track_id=pk)
        data = s.AudioInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.track_replace_audio(
            actor=request.user, track=track, audio=data.validated_data["audio"]
        )
        track = selectors.track_get(user=request.user, track_id=pk)
        return Response(s.TrackOutput(track, context={"request": request}).data)


class TrackCoverApi(APIView):
    permission_classes = [IsCatalogueEditor]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": s.CoverInput},
        responses={200: s.TrackOutput},
        tags=["tracks"],
    )
    def put(self, request, pk: int):
        track = selectors.track_get_for_edit(user=request.user, track_id=pk)
        data = s.CoverInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.track_set_cover(
            actor=request.user, track=track, cover=data.validated_data["cover"]
        )
        track = selectors.track_get(user=request.user, track_id=pk)
        return Response(s.TrackOutput(track, context={"request": request}).data)


class TrackSubmitApi(APIView):
    permission_classes = [IsCatalogueEditor]

    @extend_schema(request=None, responses={200: s.TrackOutput}, tags=["tracks"])
    def post(self, request, pk: int):
        track = selectors.track_get_for_edit(user=request.user, track_id=pk)
        services.track_submit(actor=request.user, track=track)
        track = selectors.track_get(user=request.user, track_id=pk)
        return Response(s.TrackOutput(track, context={"request": request}).data)


class TrackApproveApi(APIView):
    permission_classes = [IsTrackReviewer]

    @extend_schema(request=None, responses={200: s.TrackOutput}, tags=["tracks"])
    def post(self, request, pk: int):
        track = selectors.track_get(user=request.user, track_id=pk)
        services.track_approve(actor=request.user, track=track)
        track = selectors.track_get(user=request.user, track_id=pk)
        return Response(s.TrackOutput(track, context={"request": request}).data)


class TrackRejectApi(APIView):
    permission_classes = [IsTrackReviewer]

    @extend_schema(request=s.TrackRejectInput, responses={200: s.TrackOutput}, tags=["tracks"])
    def post(self, request, pk: int):
        data = s.TrackRejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        track = selectors.track_get(user=request.user, track_id=pk)
        services.track_reject(actor=request.user, track=track, reason=data.validated_data["reason"])
        track = selectors.track_get(user=request.user, track_id=pk)
        return Response(s.TrackOutput(track, context={"request": request}).data)


class TrackSplitsApi(APIView):
    """GET lists every split version, newest first; PUT records a new version in force from now
    (JSON, or multipart with `shares` as a JSON string and an optional `split_sheet`).
    Stations, which read the approved catalogue, do not see who is paid what."""

    permission_classes = [IsCatalogueEditor]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses={200: s.SplitVersionOutput(many=True)}, tags=["tracks"])
    def get(self, request, pk: int):
        track = selectors.track_get(user=request.user, track_id=pk)
        versions = selectors.split_versions_of(track=track)
        return Response(s.SplitVersionOutput(versions, many=True).data)

    @extend_schema(request=s.SplitsSetInput, responses={201: s.SplitVersionOutput}, tags=["tracks"])
    def put(self, request, pk: int):
        track = selectors.track_get_for_edit(user=request.user, track_id=pk)
        data = s.SplitsSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = services.splits_set(
            actor=request.user,
            track=track,
            shares=[services.ShareInput(**share) for share in values["shares"]],
            note=values.get("note", ""),
            split_sheet=values.get("split_sheet"),
        )
        version = selectors.split_versions_of(track=track).get(pk=version.pk)
        return Response(s.SplitVersionOutput(version).data, status=status.HTTP_201_CREATED)


class SplitSheetFileApi(APIView):
    permission_classes = [IsCatalogueEditor]

    @extend_schema(responses={200: _BINARY}, tags=["tracks"])
    def get(self, request, pk: int, version_id: int):
        track = selectors.track_get(user=request.user, track_id=pk)
        version = selectors.split_versions_of(track=track).filter(pk=version_id).first()
        if version is None or not version.split_sheet:
            raise NotFound("No split sheet.")
        response = FileResponse(
            version.split_sheet.open("rb"),
            as_attachment=True,
            filename=f"split-sheet-{track.pk}-v{version.number}"
            f"{version.split_sheet.name[version.split_sheet.name.rfind('.') :]}",
        )
        response["Cache-Control"] = "private, no-store"
        return response


# --- Bulk import ------------------------------------------------------------------------------
class TrackImportApi(APIView):
    """Upload a CSV plus its audio/cover files (`files`, repeated), or one zip of both.
    Small imports answer 201 with every row's outcome; larger ones 202 with an id to poll."""

    permission_classes = [IsCatalogueEditor]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": s.ImportStartInput},
        responses={201: s.ImportOutput, 202: s.ImportOutput},
        tags=["tracks"],
    )
    def post(self, request):
        data = s.ImportStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job = services.track_import_start(
            actor=request.user,
            csv_file=values.get("csv_file"),
            files=values.get("files", []),
            zip_file=values.get("zip_file"),
            submit=values.get("submit", False),
        )
        done = job.status in ("done", "failed")
        return Response(
            s.ImportOutput(job).data,
            status=status.HTTP_201_CREATED if done else status.HTTP_202_ACCEPTED,
        )


class TrackImportListApi(generics.ListAPIView):
    permission_classes = [IsCatalogueEditor]
    serializer_class = s.ImportOutput
    filterset_fields = ["status"]
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return TrackImport.objects.none()
        return selectors.imports_visible_to(user=self.request.user)

    @extend_schema(tags=["tracks"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TrackImportDetailApi(APIView):
    """Progress of an import: processed_rows of total_rows, and each row's outcome so far."""

    permission_classes = [IsCatalogueEditor]

    @extend_schema(responses={200: s.ImportOutput}, tags=["tracks"])
    def get(self, request, pk: int):
        return Response(
            s.ImportOutput(selectors.track_import_get(user=request.user, import_id=pk)).data
        )


class TrackImportTemplateApi(APIView):
    permission_classes = [IsCatalogueEditor]

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV template.")
        },
        tags=["tracks"],
    )
    def get(self, request):
        response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="zamio-tracks-template.csv"'
        return response
