"""Input and output shapes of the detections API (kept apart, as everywhere)."""

from __future__ import annotations

from rest_framework import serializers

from detections.models import MatchCache, PlayLog, StationUpload, VerificationStatus


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
        fields = [
            "id",
            "station",
            "track",
            "started_at",
            "ended_at",
            "duration_seconds",
            "avg_confidence",
            "peak_confidence",
            "window_count",
            "source",
            "is_open",
            "verification_status",
            "payment_status",
            "royalty_status",
            "royalty_bearing",
            "reviewed_at",
            "review_note",
            "created_at",
            "updated_at",
        ]


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
