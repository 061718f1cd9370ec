from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from streaming.models import Device, PlayEvent, PlayOutcome, TrackLike
from streaming.selectors import Period


class PlayEventInput(serializers.Serializer):
    track = serializers.IntegerField(min_value=1)
    started_at = serializers.DateTimeField()
    seconds_listened = serializers.IntegerField(min_value=0, max_value=24 * 3600)
    outcome = serializers.ChoiceField(choices=PlayOutcome.choices)
    device = serializers.ChoiceField(choices=Device.choices, default=Device.OTHER)
    client_id = serializers.CharField(
        min_length=8,
        max_length=128,
        required=False,
        default="",
        help_text="The player's own random install id; required for guests. Stored only hashed.",
    )
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$", required=False, default="", help_text="ISO 3166-1 alpha-2."
    )
    region = serializers.CharField(max_length=100, required=False, default="")


class PlayEventOutput(serializers.ModelSerializer):
    class Meta:
        model = PlayEvent
        fields = [
            "id",
            "track",
            "started_at",
            "seconds_listened",
            "outcome",
            "counted",
            "is_replay",
            "device",
            "country",
            "region",
            "reports",
        ]
        read_only_fields = fields


class PlayRecordOutput(serializers.Serializer):
    created = serializers.BooleanField(help_text="False: merged into a play already recorded.")
    event = PlayEventOutput()


class LikeOutput(serializers.ModelSerializer):
    title = serializers.CharField(source="track.title")
    artist_id = serializers.IntegerField(source="track.primary_artist_id")
    artist_name = serializers.CharField(source="track.primary_artist.stage_name")

    class Meta:
        model = TrackLike
        fields = ["track", "title", "artist_id", "artist_name", "created_at"]
        read_only_fields = fields


class WindowInput(serializers.Serializer):
    period = serializers.ChoiceField(choices=Period.CHOICES, default=Period.WEEK)
    date = serializers.DateField(required=False, help_text="Any day in the period (default today).")
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, default="")
    region = serializers.CharField(max_length=100, required=False, default="")

    def validate(self, attrs):
        attrs.setdefault("date", timezone.localdate())
        return attrs


class ChartInput(WindowInput):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class _WindowOutput(serializers.Serializer):
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(help_text="Last day included.")
    country = serializers.CharField()
    region = serializers.CharField()


class TrackChartRow(serializers.Serializer):
    rank = serializers.IntegerField()
    track_id = serializers.IntegerField()
    title = serializers.CharField()
    artist_id = serializers.IntegerField()
    artist_name = serializers.CharField()
    plays = serializers.IntegerField()
    listeners = serializers.IntegerField()


class ArtistChartRow(serializers.Serializer):
    rank = serializers.IntegerField()
    artist_id = serializers.IntegerField()
    artist_name = serializers.CharField()
    plays = serializers.IntegerField()
    listeners = serializers.IntegerField()
    tracks = serializers.IntegerField()


class TrackChartOutput(_WindowOutput):
    results = TrackChartRow(many=True)


class ArtistChartOutput(_WindowOutput):
    results = ArtistChartRow(many=True)


class _Numbers(serializers.Serializer):
    plays = serializers.IntegerField(help_text="Counted listens.")
    skips = serializers.IntegerField()
    completions = serializers.IntegerField()
    replays = serializers.IntegerField()
    listeners = serializers.IntegerField()
    seconds = serializers.IntegerField()
    events = serializers.IntegerField(help_text="Every play reported, counted or not.")


class _Totals(_Numbers):
    likes = serializers.IntegerField(help_text="New likes in the period.")


class _TrackNumbers(_Numbers):
    track_id = serializers.IntegerField()
    title = serializers.CharField()


class _DayNumbers(_Numbers):
    date = serializers.DateField()


class ArtistStatsOutput(_WindowOutput):
    artist_id = serializers.IntegerField()
    totals = _Totals()
    tracks = _TrackNumbers(many=True)
    days = _DayNumbers(many=True)
