"""What ZamIO heard on air: one MatchCache row per analysed window, one PlayLog per airing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast

from artists.storage import PrivateStorage
from zamio.models import TimeStampedModel

# The grid of the duplicate-airing constraints (seconds). Two PlayLogs of one track on one
# station whose alignments are less than half of this apart always share a cell of one of
# the two grids below (one is shifted by half a cell), so the database refuses the second.
# Two real airings of one song are at least a song's length apart (>= this), so they never
# collide. Changing it is a migration, so it is a constant and not a setting.
ALIGNMENT_CELL_SECONDS = 20


class PlaySource(models.TextChoices):
    RADIO = "radio", "Radio stream"
    STATION_UPLOAD = "station_upload", "Station upload"
    RECORDING = "recording", "Recording"


class MatchStatus(models.TextChoices):
    """pending (claimed, not analysed yet) → verified / low_confidence / no_match → processed;
    failed when the audio could not be analysed.

    verified: the best match clears FINGERPRINT_VERIFIED_THRESHOLD; low_confidence: a
    candidate below it, kept until later windows confirm it; processed: a match of the
    window was merged into a PlayLog.
    """

    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"
    LOW_CONFIDENCE = "low_confidence", "Low confidence"
    NO_MATCH = "no_match", "No match"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class VerificationStatus(models.TextChoices):
    VERIFIED = "verified", "Verified"
    PENDING_REVIEW = "pending_review", "Pending review"
    DISPUTED = "disputed", "Disputed"
    REJECTED = "rejected", "Rejected"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CHARGED = "charged", "Charged"
    REFUNDED = "refunded", "Refunded"


class RoyaltyStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CALCULATED = "calculated", "Calculated"
    DISTRIBUTED = "distributed", "Distributed"
    FAILED = "failed", "Failed"
    WITHHELD = "withheld", "Withheld"


class UploadStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class MatchCache(models.Model):
    """One analysed window of a station's audio and its best match (if any)."""

    station = models.ForeignKey(
        "stations.Station", on_delete=models.CASCADE, related_name="match_cache"
    )
    # When the window's first sample was on air, not when this row was written.
    captured_at = models.DateTimeField()
    window_seconds = models.FloatField()
    # "<source>:<captured_at iso>:<seconds>": a retried window finds its row instead of
    # being analysed (and counted) a second time.
    window_key = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=PlaySource.choices)
    track = models.ForeignKey(
        "tracks.Track", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    track_offset = models.FloatField(null=True, blank=True)
    query_offset = models.FloatField(null=True, blank=True)
    speed = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(default=0.0)
    match_count = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=MatchStatus.choices, default=MatchStatus.PENDING
    )
    error = models.TextField(blank=True)
    play = models.ForeignKey(
        "PlayLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="windows"
    )
    analysed_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-captured_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "window_key"], name="matchcache_unique_window"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="matchcache_confidence_range",
            ),
        ]
        indexes = [
            models.Index(fields=["station", "captured_at"]),
            models.Index(fields=["status", "captured_at"]),
            models.Index(fields=["track", "captured_at"]),
            models.Index(fields=["created_at"]),  # the retention sweep
        ]

    def __str__(self) -> str:
        return f"{self.station_id} @ {self.captured_at:%Y-%m-%d %H:%M:%S} {self.status}"


class WindowMatch(models.Model):
    """Every match of a window (a window may hold the end of one song and the start of
    the next). Unattached rows are candidates the tracker may confirm later."""

    window = models.ForeignKey(MatchCache, on_delete=models.CASCADE, related_name="matches")
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    track = models.ForeignKey("tracks.Track", on_delete=models.CASCADE, related_name="+")
    track_offset = models.FloatField()
    query_offset = models.FloatField()
    speed = models.FloatField()
    confidence = models.FloatField()
    hits = models.PositiveIntegerField(default=0)
    coverage = models.FloatField(default=0.0)
    # Epoch seconds at which the track's second 0 was on air, by this window.
    alignment = models.FloatField()
    heard_start = models.DateTimeField()
    heard_end = models.DateTimeField()
    play = models.ForeignKey(
        "PlayLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="matches"
    )

    class Meta:
        ordering = ["heard_start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["window", "track"], name="windowmatch_one_per_track"),
        ]
        indexes = [
            # Unconfirmed candidates of a station and track, newest first.
            models.Index(
                fields=["station", "track", "heard_start"],
                condition=Q(play__isnull=True),
                name="windowmatch_candidates",
            ),
        ]

    def __str__(self) -> str:
        return f"track {self.track_id} at {self.heard_start:%H:%M:%S} ({self.confidence:.2f})"


class PlayLog(TimeStampedModel):
    """One airing of one track on one station: it grows while windows keep hearing it."""

    station = models.ForeignKey("stations.Station", on_delete=models.PROTECT, related_name="plays")
    track = models.ForeignKey("tracks.Track", on_delete=models.PROTECT, related_name="plays")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    # Royalties multiply it: Decimal seconds, 2 dp.
    duration_seconds = models.DecimalField(max_digits=10, decimal_places=2)
    avg_confidence = models.FloatField()
    peak_confidence = models.FloatField()
    confidence_sum = models.FloatField()
    window_count = models.PositiveIntegerField()
    speed = models.FloatField(default=1.0)
    source = models.CharField(max_length=16, choices=PlaySource.choices)
    # Epoch seconds at which the track's second 0 was on air: what makes two windows
    # the same airing (captured_at + query_offset - track_offset / speed).
    alignment = models.FloatField()
    # The two grids of ALIGNMENT_CELL_SECONDS (see there). Computed by the database, so
    # neither a service, an admin edit nor a script can store them inconsistently.
    # PostgreSQL rounds a float cast to bigint (SQLite truncates); either way each column
    # is one fixed grid and the second is offset from the first by half a cell.
    alignment_cell = models.GeneratedField(
        expression=Cast(F("alignment") / ALIGNMENT_CELL_SECONDS, models.BigIntegerField()),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    alignment_cell_shifted = models.GeneratedField(
        expression=Cast(F("alignment") / ALIGNMENT_CELL_SECONDS + 0.5, models.BigIntegerField()),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    is_open = models.BooleanField(default=True)
    # When the first window that did not hear the open play began (see play_close).
    unheard_since = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    verification_status = models.CharField(
        max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.PENDING_REVIEW
    )
    payment_status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    royalty_status = models.CharField(
        max_length=16, choices=RoyaltyStatus.choices, default=RoyaltyStatus.PENDING
    )
    # False for plays shorter than DETECTIONS_MIN_ROYALTY_SECONDS: kept, but not paid on.
    royalty_bearing = models.BooleanField(default=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One airing, one PlayLog: a retried window, a re-run recording or a restarted
            # worker recomputes (almost) the same alignment, and lands in a taken cell.
            models.UniqueConstraint(
                fields=["station", "track", "alignment_cell"], name="playlog_one_per_airing"
            ),
            models.UniqueConstraint(
                fields=["station", "track", "alignment_cell_shifted"],
                name="playlog_one_per_airing_shifted",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__gte=F("started_at")), name="playlog_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__gte=0), name="playlog_duration_not_negative"
            ),
            models.CheckConstraint(condition=Q(window_count__gte=1), name="playlog_has_windows"),
            models.CheckConstraint(
                condition=Q(peak_confidence__gte=0) & Q(peak_confidence__lte=1),
                name="playlog_peak_confidence_range",
            ),
        ]
        indexes = [
            models.Index(fields=["station", "started_at"]),
            models.Index(fields=["track", "started_at"]),
            models.Index(fields=["verification_status", "started_at"]),
            models.Index(fields=["royalty_status", "started_at"]),
            models.Index(
                fields=["station", "ended_at"], condition=Q(is_open=True), name="playlog_open"
            ),
        ]

    def __str__(self) -> str:
        return f"track {self.track_id} on {self.station_id} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def alignment_at(self) -> datetime:
        return datetime.fromtimestamp(self.alignment, tz=UTC)


def upload_path(instance, filename: str) -> str:
    # The device's chunk id and file name never reach the file system.
    return f"station-uploads/{instance.station_id}/{uuid.uuid4().hex}{PurePath(filename).suffix}"


class StationUpload(TimeStampedModel):
    """A clip recorded at the station and sent by its device; analysed like a captured window."""

    station = models.ForeignKey("stations.Station", on_delete=models.PROTECT, related_name="+")
    chunk_id = models.CharField(max_length=100)
    captured_at = models.DateTimeField()
    seconds = models.FloatField()
    # Off-air recordings are not public: kept in private storage, never served by URL.
    audio = models.FileField(storage=PrivateStorage(), upload_to=upload_path, max_length=255)
    size_bytes = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=UploadStatus.choices, default=UploadStatus.RECEIVED
    )
    error = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-captured_at", "-id"]
        constraints = [
            # A device re-sending a chunk (lost response, retry) must not add a second one.
            models.UniqueConstraint(fields=["station", "chunk_id"], name="upload_unique_chunk"),
        ]
        indexes = [models.Index(fields=["station", "captured_at"]), models.Index(fields=["status"])]
