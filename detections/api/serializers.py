"""Input and output shapes of the detections API (kept apart, as everywhere)."""

from __future__ import annotations

from datetime import date

from rest_framework import serializers

from detections.models import (
    Dispute,
    DisputeEntry,
    DisputeEvidence,
    DisputeOutcome,
    DisputeType,
    MatchCache,
    PlayLog,
    PlayOverride,
    StationUpload,
    VerificationStatus,
)
from detections.selectors import PLAY_LIST_COLUMNS


class StationBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    call_sign = serializers.CharField()
    region = serializers.CharField()
    station_class = serializers.CharField()


class TrackBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    isrc = serializers.CharField()
    artist_id = serializers.IntegerField(source="primary_artist_id")
    artist = serializers.CharField(source="primary_artist.stage_name")


class PlayOutput(serializers.ModelSerializer):
    station = StationBriefOutput()
    track = TrackBriefOutput()

    class Meta:
        model = PlayLog
        # The list pages' columns, with the joined station and track in place of their ids.
        fields = [column.removesuffix("_id") for column in PLAY_LIST_COLUMNS]


class PlayReviewInput(serializers.Serializer):
    verification_status = serializers.ChoiceField(choices=VerificationStatus.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class MatchCacheOutput(serializers.ModelSerializer):
    station = StationBriefOutput()
    track = TrackBriefOutput(allow_null=True)

    class Meta:
        model = MatchCache
        fields = [
            "id",
            "station",
            "captured_at",
            "window_seconds",
            "source",
            "track",
            "track_offset",
            "query_offset",
            "speed",
            "confidence",
            "match_count",
            "status",
            "error",
            "play_id",
            "analysed_ms",
            "created_at",
        ]


class UploadInput(serializers.Serializer):
    audio = serializers.FileField()
    chunk_id = serializers.RegexField(
        r"^[A-Za-z0-9._:-]{1,100}$",
        help_text="The device's id for the clip (letters, digits, . _ : -); re-sending the "
        "same chunk_id is answered as already received.",
    )
    captured_at = serializers.DateTimeField(help_text="When the clip's first sample was on air.")


class UploadOutput(serializers.ModelSerializer):
    class Meta:
        model = StationUpload
        fields = [
            "id",
            "station_id",
            "chunk_id",
            "captured_at",
            "seconds",
            "size_bytes",
            "status",
            "error",
            "processed_at",
            "created_at",
        ]


class UploadReceiptOutput(serializers.Serializer):
    already_received = serializers.BooleanField()
    upload = UploadOutput()


# --- Disputes -------------------------------------------------------------------------------
class UserBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    role = serializers.CharField()


class PlayBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    station = StationBriefOutput()
    track = TrackBriefOutput()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    duration_seconds = serializers.DecimalField(max_digits=10, decimal_places=2)
    avg_confidence = serializers.FloatField()
    verification_status = serializers.CharField()
    royalty_status = serializers.CharField()


class DisputeOpenInput(serializers.Serializer):
    play = serializers.IntegerField(min_value=1)
    dispute_type = serializers.ChoiceField(choices=DisputeType.choices)
    description = serializers.CharField(max_length=5000)
    files = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        max_length=10,
        help_text="Evidence: audio clips (mp3, wav, ogg, m4a, aac) or documents (pdf, png, "
        "jpg, txt, csv).",
    )


class DisputeOutput(serializers.ModelSerializer):
    play = PlayBriefOutput()
    opened_by = UserBriefOutput()
    assigned_to = UserBriefOutput(allow_null=True)
    resolved_by = UserBriefOutput(allow_null=True)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "play",
            "dispute_type",
            "description",
            "status",
            "opened_by",
            "opened_as",
            "assigned_to",
            "outcome",
            "play_verdict",
            "resolution_note",
            "resolved_by",
            "resolved_at",
            "created_at",
            "updated_at",
        ]


class DisputeEntryOutput(serializers.ModelSerializer):
    author = UserBriefOutput(allow_null=True)

    class Meta:
        model = DisputeEntry
        fields = ["id", "kind", "author", "body", "from_status", "to_status", "created_at"]


class EvidenceOutput(serializers.ModelSerializer):
    uploaded_by = UserBriefOutput(allow_null=True)

    class Meta:
        model = DisputeEvidence
        fields = [
            "id",
            "original_name",
            "content_type",
            "size_bytes",
            "sha256",
            "note",
            "uploaded_by",
            "created_at",
        ]


class DisputeDetailOutput(DisputeOutput):
    entries = DisputeEntryOutput(many=True)
    evidence = EvidenceOutput(many=True)

    class Meta(DisputeOutput.Meta):
        fields = [*DisputeOutput.Meta.fields, "entries", "evidence"]


class NoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class RequiredNoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class DisputeResolveInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=DisputeOutcome.choices)
    note = serializers.CharField(max_length=5000)
    play_verdict = serializers.ChoiceField(
        choices=[VerificationStatus.VERIFIED, VerificationStatus.REJECTED],
        required=False,
        allow_null=True,
        default=None,
        help_text="What becomes of the play; by default a rejected complaint leaves it "
        "verified and an upheld 'not aired' (or uncorrected 'wrong track') rejects it.",
    )


class CommentInput(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


class EvidenceInput(serializers.Serializer):
    file = serializers.FileField()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PlayOverrideInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    track_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    ended_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    confidence = serializers.FloatField(
        min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None
    )
    dispute_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None
    )


class PlayOverrideOutput(serializers.ModelSerializer):
    class Meta:
        model = PlayOverride
        fields = ["id", "play_id", "dispute_id", "before", "after", "reason", "created_at"]


# --- Review queue ---------------------------------------------------------------------------
class ReviewDecisionInput(serializers.Serializer):
    play_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500
    )
    verification_status = serializers.ChoiceField(
        choices=[VerificationStatus.VERIFIED, VerificationStatus.REJECTED]
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReviewDecisionResultOutput(serializers.Serializer):
    play_id = serializers.IntegerField()
    ok = serializers.BooleanField()
    verification_status = serializers.CharField(allow_null=True)
    error = serializers.DictField(allow_null=True)


class ReviewDecisionOutput(serializers.Serializer):
    decided = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = ReviewDecisionResultOutput(many=True)


# --- Analytics ------------------------------------------------------------------------------
class BoundedDateField(serializers.DateField):
    """A day between 2000 and 2100: the range of any airplay, and far enough from the
    calendar's ends that a day more or less never overflows."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
            raise serializers.ValidationError("Must be between 2000-01-01 and 2100-12-31.")
        return day


class RollupQueryInput(serializers.Serializer):
    date_from = BoundedDateField(required=False)
    date_to = BoundedDateField(required=False)
    granularity = serializers.ChoiceField(choices=["day", "week", "month"], default="day")
    station = serializers.IntegerField(min_value=1, required=False)
    track = serializers.IntegerField(min_value=1, required=False)
    artist = serializers.IntegerField(min_value=1, required=False)
    region = serializers.CharField(max_length=80, required=False, default="")
    station_class = serializers.CharField(max_length=16, required=False, default="")
    top = serializers.IntegerField(min_value=1, max_value=100, default=10)


class RollupExportInput(RollupQueryInput):
    section = serializers.ChoiceField(
        choices=[
            "series",
            "top_tracks",
            "top_artists",
            "top_stations",
            "by_region",
            "by_station_class",
        ],
        default="series",
    )


class _Sums(serializers.Serializer):
    plays = serializers.IntegerField()
    airtime_seconds = serializers.DecimalField(max_digits=16, decimal_places=2)


class RollupTotalsOutput(_Sums):
    distinct_stations = serializers.IntegerField()
    distinct_tracks = serializers.IntegerField()


class RollupPointOutput(_Sums):
    period = serializers.DateField()
    distinct_stations = serializers.IntegerField()


class RollupTrackOutput(_Sums):
    track_id = serializers.IntegerField()
    title = serializers.CharField()
    artist = serializers.CharField()


class RollupArtistOutput(_Sums):
    artist_id = serializers.IntegerField()
    stage_name = serializers.CharField()


class RollupStationOutput(_Sums):
    station_id = serializers.IntegerField()
    name = serializers.CharField()
    region = serializers.CharField()
    station_class = serializers.CharField()


class RollupRegionOutput(_Sums):
    region = serializers.CharField()
    stations = serializers.IntegerField()


class RollupClassOutput(_Sums):
    station_class = serializers.CharField()
    stations = serializers.IntegerField()


class RollupOutput(serializers.Serializer):
    scope = serializers.CharField()
    granularity = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    totals = RollupTotalsOutput()
    series = RollupPointOutput(many=True)
    top_tracks = RollupTrackOutput(many=True)
    top_artists = RollupArtistOutput(many=True)
    top_stations = RollupStationOutput(many=True)
    by_region = RollupRegionOutput(many=True)
    by_station_class = RollupClassOutput(many=True)


class HealthQueryInput(serializers.Serializer):
    date_from = BoundedDateField(required=False)
    date_to = BoundedDateField(required=False)
    granularity = serializers.ChoiceField(choices=["day", "week", "month"], default="day")
    station = serializers.IntegerField(min_value=1, required=False)


class HealthCountsOutput(serializers.Serializer):
    windows = serializers.IntegerField()
    matched = serializers.IntegerField()
    low_confidence = serializers.IntegerField()
    failed = serializers.IntegerField()
    match_rate = serializers.FloatField(allow_null=True)
    low_confidence_share = serializers.FloatField(allow_null=True)


class HealthPointOutput(HealthCountsOutput):
    period = serializers.DateField()
    stations = serializers.IntegerField()


class HealthOutput(serializers.Serializer):
    granularity = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    totals = HealthCountsOutput()
    series = HealthPointOutput(many=True)
    plays_pending_review = serializers.IntegerField()
    streams_down = serializers.IntegerField()


# --- Playlog comparison ---------------------------------------------------------------------
class ComparisonQueryInput(serializers.Serializer):
    station = serializers.IntegerField(min_value=1)
    date_from = BoundedDateField()
    date_to = BoundedDateField()

    def validate(self, attrs):
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": ["Is before date_from."]})
        if (attrs["date_to"] - attrs["date_from"]).days > 92:
            raise serializers.ValidationError({"date_to": ["At most 93 days per report."]})
        return attrs


class EntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    artist = serializers.CharField()
    isrc = serializers.CharField()
    started_at = serializers.DateTimeField()
    duration_seconds = serializers.DecimalField(max_digits=8, decimal_places=2)


class ComparedPlayOutput(serializers.Serializer):
    id = serializers.IntegerField()
    track = TrackBriefOutput()
    started_at = serializers.DateTimeField()
    duration_seconds = serializers.DecimalField(max_digits=10, decimal_places=2)
    avg_confidence = serializers.FloatField()
    verification_status = serializers.CharField()


class PairOutput(serializers.Serializer):
    entry = EntryOutput()
    play = ComparedPlayOutput()
    start_difference_seconds = serializers.FloatField()
    duration_difference_seconds = serializers.DecimalField(max_digits=10, decimal_places=2)


class UnheardOutput(serializers.Serializer):
    entry = EntryOutput()
    coverage = serializers.FloatField(allow_null=True)
    coverage_status = serializers.ChoiceField(
        choices=["monitored", "partial", "not_monitored", "unknown"]
    )


class ComparisonOutput(serializers.Serializer):
    station = StationBriefOutput()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    summary = serializers.DictField()
    agreed = PairOutput(many=True)
    unlogged = ComparedPlayOutput(many=True)
    unheard = UnheardOutput(many=True)
    duration_differences = PairOutput(many=True)
