from __future__ import annotations

from rest_framework import serializers

from stream_capture.models import CaptureAttempt


class LinkHealthOutput(serializers.Serializer):
    """A stream link with its health; rates are over the last hour of capture attempts.
    The health fields are null until the link has been tried once."""

    id = serializers.IntegerField()
    station = serializers.IntegerField(source="station_id")
    station_name = serializers.CharField(source="station.name")
    url = serializers.CharField()
    kind = serializers.CharField()
    enabled = serializers.BooleanField()
    priority = serializers.IntegerField()
    last_success_at = serializers.DateTimeField(
        source="health.last_success_at", default=None, allow_null=True
    )
    last_failure_at = serializers.DateTimeField(
        source="health.last_failure_at", default=None, allow_null=True
    )
    consecutive_failures = serializers.IntegerField(
        source="health.consecutive_failures", default=0, allow_null=True
    )
    last_error = serializers.CharField(source="health.last_error", default="", allow_null=True)
    is_down = serializers.BooleanField(source="health.is_down", default=False, allow_null=True)
    down_since = serializers.DateTimeField(
        source="health.down_since", default=None, allow_null=True
    )
    attempts_last_hour = serializers.IntegerField()
    failures_last_hour = serializers.IntegerField()
    error_rate_last_hour = serializers.SerializerMethodField()

    def get_error_rate_last_hour(self, link) -> float | None:
        if not link.attempts_last_hour:
            return None
        return round(link.failures_last_hour / link.attempts_last_hour, 4)


class LeaseOutput(serializers.Serializer):
    worker_id = serializers.CharField()
    acquired_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class StationHealthOutput(serializers.Serializer):
    station = serializers.IntegerField()
    name = serializers.CharField()
    monitoring_enabled = serializers.BooleanField()
    mode = serializers.ChoiceField(choices=["off", "sampled", "continuous"])
    is_down = serializers.BooleanField(help_text="Every enabled link is down (or none is set).")
    last_sample_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    lease = LeaseOutput(allow_null=True)
    links = LinkHealthOutput(many=True)


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = CaptureAttempt
        fields = ["id", "started_at", "ok", "error", "seconds"]
        read_only_fields = fields
