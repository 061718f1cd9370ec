"""Capture bookkeeping: health per stream link, the attempt log behind error rates, the
sampled schedule per station, and the leases that give each station one continuous worker."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from stations.models import Station, StreamLink


class LinkHealth(models.Model):
    """The current health of one stream link; written only by the health services."""

    link = models.OneToOneField(StreamLink, on_delete=models.CASCADE, related_name="health")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # First failure since the last success: the down threshold counts from here.
    failing_since = models.DateTimeField(null=True, blank=True)
    is_down = models.BooleanField(default=False)
    down_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(is_down=False, down_since__isnull=True)
                | Q(is_down=True, down_since__isnull=False),
                name="link_health_down_since_iff_down",
            ),
        ]
        indexes = [models.Index(fields=["is_down", "down_since"])]

    def __str__(self) -> str:
        return f"health of link {self.link_id}"


class CaptureAttempt(models.Model):
    """One capture try on a link; the last hour of them gives the link's error rate."""

    link = models.ForeignKey(StreamLink, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.CharField(max_length=500, blank=True)
    seconds = models.FloatField(default=0.0, help_text="Audio seconds captured.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["link", "started_at"]),
            models.Index(fields=["started_at"]),
        ]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'failed'} capture of link {self.link_id}"


class StationCaptureState(models.Model):
    """When the sampled scheduler next owes a station a capture."""

    station = models.OneToOneField(Station, on_delete=models.CASCADE, related_name="capture_state")
    next_due_at = models.DateTimeField(db_index=True)
    last_queued_at = models.DateTimeField(null=True, blank=True)
    last_sample_at = models.DateTimeField(null=True, blank=True)
    last_link = models.ForeignKey(
        StreamLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"capture schedule of station {self.station_id}"


class CaptureLease(models.Model):
    """A continuous worker's claim on a station. At most one row per station; a lease
    past `expires_at` may be taken over (its worker died or lost the network)."""

    station = models.OneToOneField(Station, on_delete=models.CASCADE, related_name="capture_lease")
    worker_id = models.CharField(max_length=200)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["worker_id"])]

    def __str__(self) -> str:
        return f"station {self.station_id} leased to {self.worker_id}"


class StreamDown(LinkHealth):
    """Admin's "streams down" list: the same rows, only those of links that are down."""

    class Meta:
        proxy = True
        verbose_name = "stream down"
        verbose_name_plural = "streams down"
