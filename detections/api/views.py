"""The detections API: plays for every role (each sees its own), analysed windows for staff,
and the upload endpoint of station devices."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import django_filters
import django_filters.fields
from django.db.models import Q
from django.http import FileResponse, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from detections import analytics_selectors, disputes, selectors, services
from detections.analytics_selectors import RollupQuery
from detections.api import serializers as s
from detections.disputes import EVIDENCE_MEDIA_TYPES
from detections.models import (
    ACTIVE_DISPUTE_STATUSES,
    Dispute,
    DisputeStatus,
    DisputeType,
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
from detections.playlogs import playlog_comparison
from stations.selectors import station_ids_for_user, station_records_get
from tracks.models import Track
from users.models import Role, StaffRole
from users.permissions import IsAuthenticatedUser, IsStaff, IsStation, has_role, has_staff_role
from zamio.errors import DomainError, Forbidden
from zamio.filters import FilterSet, IsoDateTimeFilter
from zamio.output import compiled
from zamio.schema import file_responses

IsPlayReader = has_role(Role.ADMIN, Role.STATION, Role.ARTIST, Role.PUBLISHER)
IsPlayReviewer = has_staff_role(StaffRole.SUPPORT)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.get_current_timezone())


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


class PlayFilter(FilterSet):
    station = django_filters.NumberFilter(field_name="station_id")
    track = django_filters.NumberFilter(field_name="track_id")
    artist = django_filters.NumberFilter(
        method="filter_artist", help_text="Artist id (primary or featured)."
    )
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    date_from = django_filters.DateFilter(
        method="filter_date_from", help_text="First day (inclusive, Africa/Accra)."
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to", help_text="Last day (inclusive, Africa/Accra)."
    )
    verification_status = django_filters.ChoiceFilter(choices=VerificationStatus.choices)
    payment_status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    royalty_status = django_filters.ChoiceFilter(choices=RoyaltyStatus.choices)
    source = django_filters.ChoiceFilter(choices=PlaySource.choices)

    class Meta:
        model = PlayLog
        fields = ["royalty_bearing", "is_open"]

    # A range on started_at (not started_at::date) so the (station|track, started_at)
    # indexes serve it.
    def filter_date_from(self, qs, name, value):
        return qs.filter(started_at__gte=_local_midnight(value))

    def filter_date_to(self, qs, name, value):
        if value >= date.max - timedelta(days=1):
            return qs  # the last day of the calendar bounds nothing
        return qs.filter(started_at__lt=_local_midnight(value + timedelta(days=1)))

    def filter_artist(self, qs, name, value):
        ids = Track.objects.filter(Q(primary_artist_id=value) | Q(featured_artists__id=value))
        return qs.filter(track_id__in=ids.values("pk"))


class _PlayRowsListApi(generics.ListAPIView):
    """A list of plays read as rows (selectors.PlayPages) and put out by the compiled
    PlayOutput: the same JSON as the serializer over model instances, for a fraction of
    the CPU."""

    serializer_class = s.PlayOutput
    filterset_class = PlayFilter

    scope_track_ids: list[int] | None = None  # set by get_queryset when the scope is tracks

    def list(self, request, *args, **kwargs):
        plays = selectors.PlayPages(
            self.filter_queryset(self.get_queryset()), track_ids=self.scope_track_ids
        )
        page = self.paginate_queryset(plays)
        return self.get_paginated_response(compiled(s.PlayOutput).many(page))


class PlayListApi(_PlayRowsListApi):
    """Plays the caller may see: staff all, a station its own, an artist its tracks', a
    publisher its represented artists'. Filter by station, track, artist, dates, statuses."""

    permission_classes = [IsPlayReader]
    ordering_fields = ["started_at", "duration_seconds", "avg_confidence", "id"]
    ordering = ["-started_at", "-id"]

    def get_queryset(self):
        if _fake(self):
            return PlayLog.objects.none()
        scope = selectors.play_scope(user=self.request.user)
        self.scope_track_ids = scope.track_ids
        return scope.plays

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


class MatchCacheFilter(FilterSet):
    station = django_filters.NumberFilter(field_name="station_id")
    track = django_filters.NumberFilter(field_name="track_id")
    status = django_filters.ChoiceFilter(choices=MatchStatus.choices)
    source = django_filters.ChoiceFilter(choices=PlaySource.choices)
    captured_after = IsoDateTimeFilter(field_name="captured_at", lookup_expr="gte")
    captured_before = IsoDateTimeFilter(field_name="captured_at", lookup_expr="lt")
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


class UploadFilter(FilterSet):
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


# --- Disputes -------------------------------------------------------------------------------
class DisputeFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=DisputeStatus.choices)
    dispute_type = django_filters.ChoiceFilter(choices=DisputeType.choices)
    play = django_filters.NumberFilter(field_name="play_id")
    station = django_filters.NumberFilter(field_name="play__station_id")
    assigned_to = django_filters.NumberFilter(field_name="assigned_to_id")
    opened_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    opened_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    active = django_filters.BooleanFilter(method="filter_active")

    class Meta:
        model = Dispute
        fields = ["outcome"]

    def filter_active(self, qs, name, value):
        active = Q(status__in=ACTIVE_DISPUTE_STATUSES)
        return qs.filter(active) if value else qs.exclude(active)


def _evidence_files(files) -> list[disputes.EvidenceFile]:
    return [disputes.EvidenceFile(name=f.name, data=f.read()) for f in files]


class DisputeListCreateApi(generics.ListAPIView):
    """GET: disputes on plays the caller may see (staff: all). POST (multipart): open a
    dispute on a play the caller has a stake in, with evidence files."""

    permission_classes = [IsPlayReader]
    serializer_class = s.DisputeOutput
    filterset_class = DisputeFilter
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    ordering_fields = ["created_at", "updated_at", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if _fake(self):
            return Dispute.objects.none()
        return selectors.disputes_visible_to(user=self.request.user)

    @extend_schema(tags=["disputes"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": s.DisputeOpenInput, "application/json": s.DisputeOpenInput},
        responses={201: s.DisputeDetailOutput},
        tags=["disputes"],
    )
    def post(self, request):
        data = s.DisputeOpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        dispute = disputes.dispute_open(
            actor=request.user,
            play_id=v["play"],
            dispute_type=v["dispute_type"],
            description=v["description"],
            files=_evidence_files(v["files"]),
        )
        return Response(_dispute_detail(request.user, dispute.pk), status=status.HTTP_201_CREATED)


def _dispute_detail(user, dispute_id: int) -> dict:
    return s.DisputeDetailOutput(
        selectors.dispute_detail_get(user=user, dispute_id=dispute_id)
    ).data


class DisputeDetailApi(APIView):
    permission_classes = [IsPlayReader]

    @extend_schema(responses={200: s.DisputeDetailOutput}, tags=["disputes"])
    def get(self, request, pk: int):
        return Response(_dispute_detail(request.user, pk))


class _DisputeTransitionApi(APIView):
    """POST one transition; the service decides who may make it (403) and from which
    states (409)."""

    permission_classes = [IsPlayReader]
    input_serializer = s.NoteInput

    def perform(self, request, pk: int, data: dict) -> None:
        raise AssertionError("subclasses perform their transition")

    def post(self, request, pk: int):
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        selectors.dispute_get(user=request.user, dispute_id=pk)  # 404 before 403
        self.perform(request, pk, data.validated_data)
        return Response(_dispute_detail(request.user, pk))


def _transition_schema(input_serializer, description: str):
    return extend_schema(
        request=input_serializer,
        responses={200: s.DisputeDetailOutput},
        tags=["disputes"],
        description=description,
    )


class DisputeReviewStartApi(_DisputeTransitionApi):
    @_transition_schema(s.NoteInput, "Support staff: submitted → under_review (assigned).")
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, request, pk, data):
        disputes.dispute_review_start(actor=request.user, dispute_id=pk, note=data["note"])


class DisputeEvidenceRequestApi(_DisputeTransitionApi):
    input_serializer = s.RequiredNoteInput

    @_transition_schema(s.RequiredNoteInput, "Support staff: under_review → evidence_required.")
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, request, pk, data):
        disputes.dispute_evidence_request(actor=request.user, dispute_id=pk, note=data["note"])


class DisputeEscalateApi(_DisputeTransitionApi):
    input_serializer = s.RequiredNoteInput

    @_transition_schema(s.RequiredNoteInput, "Support staff: → escalated (to a superadmin).")
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, request, pk, data):
        disputes.dispute_escalate(actor=request.user, dispute_id=pk, note=data["note"])


class DisputeResolveApi(_DisputeTransitionApi):
    input_serializer = s.DisputeResolveInput

    @_transition_schema(
        s.DisputeResolveInput,
        "Support staff (a superadmin when escalated): → resolved, upheld or rejected; the "
        "play becomes verified (royalties released) or rejected (cancelled).",
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, request, pk, data):
        disputes.dispute_resolve(
            actor=request.user,
            dispute_id=pk,
            outcome=data["outcome"],
            note=data["note"],
            play_verdict=data["play_verdict"],
        )


class DisputeWithdrawApi(_DisputeTransitionApi):
    @_transition_schema(s.NoteInput, "The opener: → withdrawn; the play's statuses return.")
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, request, pk, data):
        disputes.dispute_withdraw(actor=request.user, dispute_id=pk, note=data["note"])


class DisputeCommentApi(_DisputeTransitionApi):
    input_serializer = s.CommentInput

    @_transition_schema(s.CommentInput, "A party or staff comment on an open dispute.")
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, request, pk, data):
        disputes.dispute_comment_add(actor=request.user, dispute_id=pk, body=data["body"])


class DisputeEvidenceApi(_DisputeTransitionApi):
    input_serializer = s.EvidenceInput
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.EvidenceInput},
        responses={200: s.DisputeDetailOutput},
        tags=["disputes"],
        description="A party or staff attach a file; a party's evidence answers a request "
        "for evidence (→ under_review).",
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def perform(self, request, pk, data):
        upload = data["file"]
        disputes.dispute_evidence_add(
            actor=request.user,
            dispute_id=pk,
            file=disputes.EvidenceFile(name=upload.name, data=upload.read()),
            note=data["note"],
        )


class DisputeEvidenceFileApi(APIView):
    """Streams an evidence file to the dispute's parties and staff; to anyone else it does
    not exist (404)."""

    permission_classes = [IsPlayReader]

    @extend_schema(
        responses=file_responses(EVIDENCE_MEDIA_TYPES),
        tags=["disputes"],
    )
    def get(self, request, pk: int, evidence_pk: int):
        evidence = selectors.evidence_get(user=request.user, dispute_id=pk, evidence_id=evidence_pk)
        response = FileResponse(
            evidence.file.open("rb"),
            content_type=evidence.content_type,
            as_attachment=True,
            filename=evidence.original_name,
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class PlayOverrideApi(APIView):
    """Support staff correct a play's track, times or confidence (previous values kept)."""

    permission_classes = [IsPlayReviewer]

    @extend_schema(
        request=s.PlayOverrideInput, responses={200: s.PlayOverrideOutput}, tags=["detections"]
    )
    def post(self, request, pk: int):
        data = s.PlayOverrideInput(data=request.data)
        data.is_valid(raise_exception=True)
        override = disputes.play_override(actor=request.user, play_id=pk, **data.validated_data)
        return Response(s.PlayOverrideOutput(override).data)


# --- Review queue ---------------------------------------------------------------------------
class ReviewQueueApi(_PlayRowsListApi):
    """Low-confidence plays waiting for a decision (verification pending review), oldest
    first. Filter by station, track, artist and dates like the play list."""

    permission_classes = [IsStaff]
    ordering_fields = ["started_at", "avg_confidence", "id"]
    ordering = ["started_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return PlayLog.objects.none()
        return selectors.review_queue(user=self.request.user)

    @extend_schema(tags=["detections"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReviewDecideApi(APIView):
    """Support staff confirm or reject plays, one or many at once. Each play is decided on
    its own (audited); a play that cannot be decided is reported and the rest go on."""

    permission_classes = [IsPlayReviewer]

    @extend_schema(
        request=s.ReviewDecisionInput, responses={200: s.ReviewDecisionOutput}, tags=["detections"]
    )
    def post(self, request):
        data = s.ReviewDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        results = []
        for play_id in dict.fromkeys(v["play_ids"]):
            try:
                play = services.play_review(
                    actor=request.user,
                    play_id=play_id,
                    status=v["verification_status"],
                    note=v["note"],
                )
                results.append(
                    {
                        "play_id": play_id,
                        "ok": True,
                        "verification_status": play.verification_status,
                        "error": None,
                    }
                )
            except DomainError as exc:
                results.append(
                    {
                        "play_id": play_id,
                        "ok": False,
                        "verification_status": None,
                        "error": {"code": exc.code, "message": exc.message},
                    }
                )
        decided = sum(1 for r in results if r["ok"])
        body = {"decided": decided, "refused": len(results) - decided, "results": results}
        return Response(s.ReviewDecisionOutput(body).data)


# --- Analytics ------------------------------------------------------------------------------
def _rollup_query(request, input_class=s.RollupQueryInput) -> tuple[RollupQuery, dict]:
    data = input_class(data=request.query_params)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    default_from, default_to = analytics_selectors.default_range(timezone.localdate())
    query = RollupQuery(
        date_from=v.get("date_from")
        or (v["date_to"] - (default_to - default_from) if v.get("date_to") else default_from),
        date_to=v.get("date_to") or default_to,
        granularity=v["granularity"],
        station_id=v.get("station"),
        track_id=v.get("track"),
        artist_id=v.get("artist"),
        region=v["region"],
        station_class=v["station_class"],
        top=v["top"],
    )
    return query, v


IsAnalyticsReader = has_role(Role.ADMIN, Role.STATION, Role.ARTIST, Role.PUBLISHER)


class PlayRollupApi(APIView):
    """Airplay per day/week/month for what the caller may see (artist: own tracks;
    publisher: its artists'; station: its own; staff: everything), with totals, top
    tracks, top artists, top stations, regions and station classes. Default: last 30 days."""

    permission_classes = [IsAnalyticsReader]

    @extend_schema(
        parameters=[s.RollupQueryInput], responses={200: s.RollupOutput}, tags=["analytics"]
    )
    def get(self, request):
        query, _v = _rollup_query(request)
        body = analytics_selectors.play_rollup_rendered(
            user=request.user, query=query, kind="rollup.json", render=_json_of(s.RollupOutput)
        )
        return _json_response(body)


def _json_of(output_class):
    """Renders data as `output_class` would, as DRF's JSON renderer writes it."""
    output = compiled(output_class)
    renderer = JSONRenderer()
    return lambda data: renderer.render(output.one(data))


def _json_response(body: bytes) -> HttpResponse:
    # Cached, already rendered JSON: served as it is (the same bytes a DRF Response with
    # the JSON renderer would write), without serializing or rendering again.
    return HttpResponse(body, content_type="application/json")


_EXPORT_COLUMNS = {
    "series": ["period", "plays", "airtime_seconds", "distinct_stations"],
    "top_tracks": ["track_id", "title", "artist", "plays", "airtime_seconds"],
    "top_artists": ["artist_id", "stage_name", "plays", "airtime_seconds"],
    "top_stations": ["station_id", "name", "region", "station_class", "plays", "airtime_seconds"],
    "by_region": ["region", "stations", "plays", "airtime_seconds"],
    "by_station_class": ["station_class", "stations", "plays", "airtime_seconds"],
}


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # Names come from users (titles, station names): never let a spreadsheet run them.
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def csv_bytes(header: list[str], rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return buffer.getvalue().encode()


def csv_attachment(filename: str, body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    return csv_attachment(filename, csv_bytes(header, rows))


def _csv_of(section: str, columns: list[str]):
    """Renders one list of a rollup or health answer as CSV, a row per item."""
    return lambda data: csv_bytes(columns, ([item[c] for c in columns] for item in data[section]))


class PlayRollupExportApi(APIView):
    """One section of the rollup as CSV (same scope and filters as the JSON endpoint)."""

    permission_classes = [IsAnalyticsReader]

    @extend_schema(
        parameters=[s.RollupExportInput],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["analytics"],
    )
    def get(self, request):
        query, v = _rollup_query(request, s.RollupExportInput)
        section = v["section"]
        body = analytics_selectors.play_rollup_rendered(
            user=request.user,
            query=query,
            kind=f"rollup.csv.{section}",
            render=_csv_of(section, _EXPORT_COLUMNS[section]),
        )
        name = f"airplay-{section}-{query.date_from}-{query.date_to}-{query.granularity}.csv"
        return csv_attachment(name, body)


def _health_args(request) -> dict:
    data = s.HealthQueryInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    default_from, default_to = analytics_selectors.default_range(timezone.localdate())
    return {
        "date_from": v.get("date_from") or default_from,
        "date_to": v.get("date_to") or default_to,
        "granularity": v["granularity"],
        "station_id": v.get("station"),
    }


class DetectionHealthApi(APIView):
    """Staff: windows analysed, match rate, low-confidence share and failures per period,
    plays waiting for review and streams down now."""

    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[s.HealthQueryInput], responses={200: s.HealthOutput}, tags=["analytics"]
    )
    def get(self, request):
        body = analytics_selectors.detection_health_rendered(
            kind="health.json", render=_json_of(s.HealthOutput), **_health_args(request)
        )
        return _json_response(body)


class DetectionHealthExportApi(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[s.HealthQueryInput],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["analytics"],
    )
    def get(self, request):
        args = _health_args(request)
        body = analytics_selectors.detection_health_rendered(
            kind="health.csv", render=_csv_of("series", _HEALTH_EXPORT_COLUMNS), **args
        )
        return csv_attachment(f"detection-health-{args['date_from']}-{args['date_to']}.csv", body)


_HEALTH_EXPORT_COLUMNS = [
    "period",
    "stations",
    "windows",
    "matched",
    "low_confidence",
    "failed",
    "match_rate",
    "low_confidence_share",
]


# --- Playlog comparison ---------------------------------------------------------------------
IsRecordsReader = has_role(Role.ADMIN, Role.STATION)


def _comparison(request):
    data = s.ComparisonQueryInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    station = station_records_get(user=request.user, station_id=v["station"])
    return playlog_comparison(station=station, date_from=v["date_from"], date_to=v["date_to"])


def _entry_dict(entry) -> dict:
    return {
        "id": entry.pk,
        "title": entry.title,
        "artist": entry.artist,
        "isrc": entry.isrc,
        "started_at": entry.started_at,
        "duration_seconds": entry.duration_seconds,
    }


class PlaylogComparisonApi(APIView):
    """A station's own log against what ZamIO heard, for a date range: plays both agree on,
    plays heard but not logged, entries logged but not heard (with the monitoring coverage
    of their time) and duration differences. The station's accounts and staff."""

    permission_classes = [IsRecordsReader]

    @extend_schema(
        parameters=[s.ComparisonQueryInput], responses={200: s.ComparisonOutput}, tags=["stations"]
    )
    def get(self, request):
        return Response(compiled(s.ComparisonOutput).one(comparison_body(_comparison(request))))


def comparison_body(c) -> dict:
    """A comparison (detections.playlogs.Comparison) shaped for ComparisonOutput."""

    def pair(p) -> dict:
        return {
            "entry": _entry_dict(p.entry),
            "play": p.play,
            "start_difference_seconds": p.start_difference_seconds,
            "duration_difference_seconds": p.duration_difference_seconds,
        }

    return {
        "station": c.station,
        "date_from": c.date_from,
        "date_to": c.date_to,
        "summary": c.summary,
        "agreed": [pair(p) for p in c.agreed],
        "unlogged": c.unlogged,
        "unheard": [
            {
                "entry": _entry_dict(u.entry),
                "coverage": u.coverage,
                "coverage_status": u.coverage_status,
            }
            for u in c.unheard
        ],
        "duration_differences": [pair(p) for p in c.duration_differences],
    }


class PlaylogComparisonExportApi(APIView):
    """The comparison as one CSV, a row per entry or play, its category first."""

    permission_classes = [IsRecordsReader]

    @extend_schema(
        parameters=[s.ComparisonQueryInput],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["stations"],
    )
    def get(self, request):
        c = _comparison(request)
        columns = [
            "category",
            "entry_id",
            "logged_title",
            "logged_artist",
            "logged_isrc",
            "logged_start",
            "logged_duration_seconds",
            "play_id",
            "detected_title",
            "detected_artist",
            "detected_start",
            "detected_duration_seconds",
            "start_difference_seconds",
            "duration_difference_seconds",
            "coverage",
            "coverage_status",
        ]

        def entry_cells(e):
            return [e.pk, e.title, e.artist, e.isrc, e.started_at.isoformat(), e.duration_seconds]

        def play_cells(p):
            return [
                p.pk,
                p.track.title,
                p.track.primary_artist.stage_name,
                p.started_at.isoformat(),
                p.duration_seconds,
            ]

        blank_entry, blank_play = [""] * 6, [""] * 5
        rows = []
        for p in c.agreed:
            category = "duration_difference" if p in c.duration_differences else "agreed"
            rows.append(
                [
                    category,
                    *entry_cells(p.entry),
                    *play_cells(p.play),
                    p.start_difference_seconds,
                    p.duration_difference_seconds,
                    "",
                    "",
                ]
            )
        for play in c.unlogged:
            rows.append(["unlogged", *blank_entry, *play_cells(play), "", "", "", ""])
        for u in c.unheard:
            rows.append(
                [
                    "unheard",
                    *entry_cells(u.entry),
                    *blank_play,
                    "",
                    "",
                    "" if u.coverage is None else u.coverage,
                    u.coverage_status,
                ]
            )
        name = f"playlog-comparison-{c.station.slug}-{c.date_from}-{c.date_to}.csv"
        return csv_response(name, columns, rows)
