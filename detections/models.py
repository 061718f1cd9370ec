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
    candidate below it. Either waits in that state until a later window confirms it
    (DETECTIONS_CONFIRM_WINDOWS); processed: a match of the window is part of a PlayLog.
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
            # With the id, a track's plays are in list order (newest first, then by id) in
            # the index: a page of an artist's or publisher's plays reads each track's
            # newest few and stops, where (track, started_at) left a sort of all of them.
            models.Index(fields=["track", "started_at", "id"], name="playlog_track_started"),
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


# --- Disputes (services: detections/disputes.py) ----------------------------------------
class DisputeType(models.TextChoices):
    WRONG_TRACK = "wrong_track", "Wrong track"
    NOT_AIRED = "not_aired", "Not aired"
    WRONG_DURATION = "wrong_duration", "Wrong duration"
    WRONG_SPLIT = "wrong_split", "Wrong split / ownership"
    PAYMENT = "payment", "Payment"


class DisputeStatus(models.TextChoices):
    """submitted → under_review ⇄ evidence_required → resolved (upheld / rejected), or
    escalated (to a superadmin) → resolved; the opener may withdraw an unresolved one."""

    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    EVIDENCE_REQUIRED = "evidence_required", "Evidence required"
    ESCALATED = "escalated", "Escalated"
    RESOLVED = "resolved", "Resolved"
    WITHDRAWN = "withdrawn", "Withdrawn"


ACTIVE_DISPUTE_STATUSES = (
    DisputeStatus.SUBMITTED,
    DisputeStatus.UNDER_REVIEW,
    DisputeStatus.EVIDENCE_REQUIRED,
    DisputeStatus.ESCALATED,
)


class DisputeOutcome(models.TextChoices):
    UPHELD = "upheld", "Upheld"  # the complaint was right
    REJECTED = "rejected", "Rejected"  # the play stands as logged


class Dispute(TimeStampedModel):
    """A party's challenge of one play. While it is active the play is disputed and its
    royalties withheld; its resolution decides the play's verification."""

    play = models.ForeignKey(PlayLog, on_delete=models.PROTECT, related_name="disputes")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The opener's stake when opened (station, artist, publisher, admin): who they spoke for.
    opened_as = models.CharField(max_length=16)
    dispute_type = models.CharField(max_length=20, choices=DisputeType.choices)
    description = models.TextField()
    status = models.CharField(
        max_length=20, choices=DisputeStatus.choices, default=DisputeStatus.SUBMITTED
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The play's statuses before the dispute held it: a withdrawal puts them back.
    play_verification_before = models.CharField(max_length=16, choices=VerificationStatus.choices)
    play_royalty_before = models.CharField(max_length=16, choices=RoyaltyStatus.choices)
    outcome = models.CharField(max_length=10, choices=DisputeOutcome.choices, blank=True)
    # What the resolution made of the play: verified (released) or rejected (cancelled).
    play_verdict = models.CharField(max_length=16, choices=VerificationStatus.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open case per play: a second party adds its evidence to the open one, and
            # two resolutions can never disagree about the same play.
            models.UniqueConstraint(
                fields=["play"],
                condition=Q(status__in=ACTIVE_DISPUTE_STATUSES),
                name="dispute_one_active_per_play",
            ),
            models.CheckConstraint(
                condition=~Q(status=DisputeStatus.RESOLVED)
                | (~Q(outcome="") & ~Q(play_verdict="") & Q(resolved_at__isnull=False)),
                name="dispute_resolved_has_outcome",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["opened_by", "created_at"]),
            models.Index(fields=["assigned_to", "status"]),
        ]

    def __str__(self) -> str:
        return f"dispute {self.pk} on play {self.play_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_DISPUTE_STATUSES


class DisputeEntryKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    TRANSITION = "transition", "Status change"
    EVIDENCE = "evidence", "Evidence added"
    OVERRIDE = "override", "Play corrected"


class DisputeEntry(models.Model):
    """The dispute's timeline: every transition, comment, evidence file and correction."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="entries")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=DisputeEntryKind.choices)
    body = models.TextField(blank=True)
    from_status = models.CharField(max_length=20, choices=DisputeStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=DisputeStatus.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "dispute entries"
        indexes = [models.Index(fields=["dispute", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on dispute {self.dispute_id}"


def evidence_path(instance, filename: str) -> str:
    # The uploader's file name is kept in a column, never in the path.
    return f"dispute-evidence/{instance.dispute_id}/{uuid.uuid4().hex}{PurePath(filename).suffix}"


class DisputeEvidence(models.Model):
    """A file a party or staff attached (audio clip, document). Private: served only to the
    dispute's parties and staff, through the evidence download endpoint."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="evidence")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(storage=PrivateStorage(), upload_to=evidence_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "dispute evidence"
        constraints = [
            # The same file twice on one dispute is a double submit, not more evidence.
            models.UniqueConstraint(fields=["dispute", "sha256"], name="evidence_unique_file"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} on dispute {self.dispute_id}"


class PlayOverride(models.Model):
    """A staff correction of a play's track, times or confidence, with the values it replaced."""

    play = models.ForeignKey(PlayLog, on_delete=models.CASCADE, related_name="overrides")
    dispute = models.ForeignKey(
        Dispute, null=True, blank=True, on_delete=models.SET_NULL, related_name="overrides"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.JSONField()
    after = models.JSONField()
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["play", "created_at"])]

    def __str__(self) -> str:
        return f"override of play {self.play_id}"


# --- First plays (services: detections/analytics.py) --------------------------------------
class FirstPlay(models.Model):
    """The first play of a track on a station: its artist hears about it once, and the
    unique pair is what makes "once" hold across workers and retries."""

    track = models.ForeignKey("tracks.Track", on_delete=models.CASCADE, related_name="+")
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    play = models.ForeignKey(PlayLog, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["track", "station"], name="first_play_once"),
        ]

    def __str__(self) -> str:
        return f"first play of track {self.track_id} on station {self.station_id}"


# --- Analytics rollups (services: detections/analytics.py) --------------------------------
class PlayDaily(models.Model):
    """Plays and airtime of one track on one station on one day (Africa/Accra), kept equal
    to a count over PlayLog (rejected plays excluded) by the tracker and review services."""

    day = models.DateField()
    # No index of their own: the cell constraint leads with the station, the track index
    # below with the track.
    station = models.ForeignKey(
        "stations.Station", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    track = models.ForeignKey(
        "tracks.Track", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["station", "track", "day"], name="play_daily_cell"),
            models.CheckConstraint(condition=Q(plays__gte=0), name="play_daily_plays_not_negative"),
        ]
        indexes = [
            models.Index(fields=["day", "station"]),
            # An artist's or publisher's rollups read their tracks' cells from this index
            # alone (an index-only scan): the cells of a track lie scattered over a year of
            # pages, and the most-aired artist's year is 56,000 of them (-30% PostgreSQL CPU
            # per request on the portal benchmark).
            models.Index(
                fields=["track", "day", "station", "plays", "airtime_seconds"],
                name="play_daily_track_cells",
            ),
            # Rollups limited to some stations (a region, a class, a station's own) read
            # each station's days from this index alone: through the day index they read
            # every station's cells of those days and dropped the others' (a month of one
            # region: 72,000 rows read for 7,200).
            models.Index(
                fields=["station", "day", "track", "plays", "airtime_seconds"],
                name="play_daily_station_cells",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} station {self.station_id} track {self.track_id}: {self.plays}"


class StationDaily(models.Model):
    """PlayDaily summed over tracks: one row per station and day (series, regions, classes),
    and how many of those plays wait for review (verification pending_review)."""

    day = models.DateField()
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    pending_review = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["station", "day"], name="station_daily_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="station_daily_plays_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(pending_review__gte=0) & Q(pending_review__lte=F("plays")),
                name="station_daily_pending_within_plays",
            ),
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.day} station {self.station_id}: {self.plays}"


class ReviewBacklog(models.Model):
    """Plays of one station waiting for review (verification pending_review, open or
    closed): StationDaily.pending_review summed over all days, kept equal to that sum by
    the same services, so staff's detection health reads 200 rows, not a count of 50,000
    plays, on every request."""

    station = models.OneToOneField("stations.Station", on_delete=models.CASCADE, related_name="+")
    plays = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(plays__gte=0), name="review_backlog_not_negative"),
        ]

    def __str__(self) -> str:
        return f"station {self.station_id}: {self.plays} to review"


class TrackDaily(models.Model):
    """PlayDaily summed over stations: one row per track and day, kept equal to that sum
    by the same services, so the days of a platform-wide rollup outside its whole months
    read about half the rows (the portal benchmark: 1,100 a day instead of 2,500)."""

    day = models.DateField()
    track = models.ForeignKey(
        "tracks.Track", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["track", "day"], name="track_daily_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="track_daily_plays_not_negative"
            ),
        ]
        indexes = [
            # A day range read from the index alone (an index-only scan).
            models.Index(
                fields=["day", "track", "plays", "airtime_seconds"], name="track_daily_cells"
            ),
            # A day's most played tracks first (the platform's top tracks: analytics_selectors).
            models.Index(
                fields=["day", "-plays"],
                include=["track", "airtime_seconds"],
                name="track_daily_ranked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} track {self.track_id}: {self.plays}"


class TrackMonthly(models.Model):
    """PlayDaily summed over stations and the days of a month: one row per track and month
    (its first day), kept equal to that sum by the same services, so a platform-wide
    rollup over months reads about a tenth of the rows (a year of the portal benchmark:
    101,000 instead of 907,000)."""

    month = models.DateField()
    track = models.ForeignKey("tracks.Track", on_delete=models.CASCADE, related_name="+")
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["track", "month"], name="track_monthly_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="track_monthly_plays_not_negative"
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="track_monthly_first_day"),
        ]
        indexes = [
            models.Index(fields=["month"]),
            models.Index(
                fields=["month", "-plays"],
                include=["track", "airtime_seconds"],
                name="track_monthly_ranked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} track {self.track_id}: {self.plays}"


class TrackYearly(models.Model):
    """PlayDaily summed over stations and the days of a calendar year: one row per track
    and year (its 1 January), kept equal to that sum by the same services. A platform-wide
    rollup over the last 12 months reads the year so far as one row per track instead of
    one per track and month (the portal benchmark: ~28,000 rows instead of ~121,000)."""

    year = models.DateField()
    track = models.ForeignKey(
        "tracks.Track", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["track", "year"], name="track_yearly_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="track_yearly_plays_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(year__month=1, year__day=1), name="track_yearly_first_day"
            ),
        ]
        indexes = [
            # A year read from the index alone (an index-only scan).
            models.Index(
                fields=["year", "track", "plays", "airtime_seconds"], name="track_yearly_cells"
            ),
            models.Index(
                fields=["year", "-plays"],
                include=["track", "airtime_seconds"],
                name="track_yearly_ranked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year:%Y} track {self.track_id}: {self.plays}"


class StationMonthly(models.Model):
    """StationDaily summed over the days of a month: one row per station and month (its
    first day), kept equal to that sum by the same services, so a rollup by month reads
    200 rows a month for the series, stations, regions and classes instead of 6,000."""

    month = models.DateField()
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["station", "month"], name="station_monthly_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="station_monthly_plays_not_negative"
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="station_monthly_first_day"),
        ]
        indexes = [models.Index(fields=["month"])]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} station {self.station_id}: {self.plays}"


class StationWeekly(models.Model):
    """StationDaily summed over the days of a week (Monday to Sunday): one row per station
    and week (its Monday), kept equal to that sum by the same services, so a rollup by
    week reads 200 rows a week for the series instead of 1,400 (the last 90 days of the
    portal benchmark: ~2,600 rows instead of 18,000)."""

    week = models.DateField()
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["station", "week"], name="station_weekly_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="station_weekly_plays_not_negative"
            ),
            # Django numbers the days of the week from Sunday (1): Monday is 2.
            models.CheckConstraint(condition=Q(week__week_day=2), name="station_weekly_monday"),
        ]
        indexes = [models.Index(fields=["week"])]

    def __str__(self) -> str:
        return f"week of {self.week} station {self.station_id}: {self.plays}"


class StationArea(models.Model):
    """The region and class a station's plays are counted under in TrackAreaMonthly.

    Written when the station's plays are first counted there. When staff later change the
    station's region or class, the rows still hold its plays under the old ones: readers
    compare these with the stations (`area_months_current`) and count from PlayDaily until
    `track_area_monthly_restate` has moved them."""

    station = models.OneToOneField("stations.Station", on_delete=models.CASCADE, related_name="+")
    region = models.CharField(max_length=80, blank=True)
    station_class = models.CharField(max_length=16)

    def __str__(self) -> str:
        return f"station {self.station_id}: {self.region} / {self.station_class}"


class TrackAreaSummary(models.Model):
    """A track's plays on the stations of one region and class (as StationArea records
    them) over a period."""

    region = models.CharField(max_length=80, blank=True)
    station_class = models.CharField(max_length=16)
    track = models.ForeignKey(
        "tracks.Track", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        abstract = True


class TrackAreaMonthly(TrackAreaSummary):
    """PlayDaily summed over the days of a month and the stations of one region and class
    (as StationArea records them): a platform rollup filtered by region or class reads
    about a third of the rows it would read from PlayDaily (a year of one region of the
    portal benchmark: 30,000 instead of 90,000)."""

    month = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region", "station_class", "month", "track"],
                name="track_area_monthly_cell",
            ),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="track_area_monthly_plays_not_negative"
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="track_area_monthly_first_day"),
        ]
        indexes = [
            models.Index(fields=["station_class", "month"]),
            models.Index(fields=["track"]),
            # An area's month, most played first (region and class top tracks).
            models.Index(
                fields=["region", "station_class", "month", "-plays"],
                include=["track", "airtime_seconds"],
                name="track_area_monthly_ranked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.region}/{self.station_class} track {self.track_id}"


class TrackAreaYearly(TrackAreaSummary):
    """TrackAreaMonthly summed over the months of a calendar year (its 1 January), kept
    the same way: a region's rollup over the last 12 months reads the year so far as one
    row per track instead of one per track and month (a region of the portal benchmark:
    ~12,700 rows read instead of ~31,000)."""

    year = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region", "station_class", "year", "track"],
                name="track_area_yearly_cell",
            ),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="track_area_yearly_plays_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(year__month=1, year__day=1), name="track_area_yearly_first_day"
            ),
        ]
        indexes = [
            models.Index(fields=["station_class", "year"]),
            models.Index(fields=["track"]),
            models.Index(
                fields=["region", "station_class", "year", "-plays"],
                include=["track", "airtime_seconds"],
                name="track_area_yearly_ranked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year:%Y} {self.region}/{self.station_class} track {self.track_id}"


class ArtistSummary(models.Model):
    """TrackDaily, TrackMonthly or TrackYearly summed over the tracks of each primary
    artist (the artist each track had when its plays were counted: a change of a track's
    primary artist moves its rows, `track_artist_restate`). Platform-wide top artists are
    ranked from these rows, a few per period, instead of from every track heard in the
    range."""

    artist = models.ForeignKey(
        "artists.Artist", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        abstract = True


class ArtistDaily(ArtistSummary):
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["artist", "day"], name="artist_daily_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="artist_daily_plays_not_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["day", "-plays"],
                include=["artist", "airtime_seconds"],
                name="artist_daily_ranked",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} artist {self.artist_id}: {self.plays}"


class ArtistMonthly(ArtistSummary):
    month = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["artist", "month"], name="artist_monthly_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="artist_monthly_plays_not_negative"
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="artist_monthly_first_day"),
        ]
        indexes = [
            models.Index(
                fields=["month", "-plays"],
                include=["artist", "airtime_seconds"],
                name="artist_monthly_ranked",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} artist {self.artist_id}: {self.plays}"


class ArtistYearly(ArtistSummary):
    year = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["artist", "year"], name="artist_yearly_cell"),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="artist_yearly_plays_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(year__month=1, year__day=1), name="artist_yearly_first_day"
            ),
        ]
        indexes = [
            models.Index(
                fields=["year", "-plays"],
                include=["artist", "airtime_seconds"],
                name="artist_yearly_ranked",
            )
        ]

    def __str__(self) -> str:
        return f"{self.year:%Y} artist {self.artist_id}: {self.plays}"


class ArtistAreaSummary(models.Model):
    """TrackAreaMonthly or TrackAreaYearly summed over the tracks of each primary artist
    (kept like ArtistMonthly: a change of a track's primary artist moves its rows). Top
    artists of a region or class are ranked from these rows, a few per period and area,
    instead of from every track the area heard in the range."""

    region = models.CharField(max_length=80, blank=True)
    station_class = models.CharField(max_length=16)
    artist = models.ForeignKey(
        "artists.Artist", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    plays = models.IntegerField(default=0)
    airtime_seconds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        abstract = True


class ArtistAreaMonthly(ArtistAreaSummary):
    month = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region", "station_class", "month", "artist"],
                name="artist_area_monthly_cell",
            ),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="artist_area_monthly_plays_not_negative"
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="artist_area_monthly_first_day"),
        ]
        indexes = [
            models.Index(fields=["artist"]),
            models.Index(
                fields=["region", "station_class", "month", "-plays"],
                include=["artist", "airtime_seconds"],
                name="artist_area_monthly_ranked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.region}/{self.station_class} artist {self.artist_id}"


class ArtistAreaYearly(ArtistAreaSummary):
    year = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region", "station_class", "year", "artist"],
                name="artist_area_yearly_cell",
            ),
            models.CheckConstraint(
                condition=Q(plays__gte=0), name="artist_area_yearly_plays_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(year__month=1, year__day=1), name="artist_area_yearly_first_day"
            ),
        ]
        indexes = [
            models.Index(fields=["artist"]),
            models.Index(
                fields=["region", "station_class", "year", "-plays"],
                include=["artist", "airtime_seconds"],
                name="artist_area_yearly_ranked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year:%Y} {self.region}/{self.station_class} artist {self.artist_id}"


class TrackSpan(models.Model):
    """The first and last day a track has plays (its first and last TrackDaily row), kept
    with TrackDaily. A platform-wide range that runs to the last day with plays counts its
    tracks as those whose last day is in it (one index range), not by folding every
    track's rows."""

    track = models.OneToOneField(
        "tracks.Track", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    first_day = models.DateField()
    last_day = models.DateField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(first_day__lte=F("last_day")), name="track_span_ordered"
            )
        ]
        indexes = [models.Index(fields=["last_day"]), models.Index(fields=["first_day"])]

    def __str__(self) -> str:
        return f"track {self.track_id}: {self.first_day} to {self.last_day}"


class TrackAreaSpan(models.Model):
    """The first and last day a track has plays on the stations of one region and class
    (as StationArea records them), kept with PlayDaily and moved with TrackAreaMonthly.
    A region's or class's range that runs to the last day with plays counts its tracks
    as those whose last day there is in it (one index range), as TrackSpan does for the
    platform."""

    region = models.CharField(max_length=80, blank=True)
    station_class = models.CharField(max_length=16)
    track = models.ForeignKey("tracks.Track", on_delete=models.CASCADE, related_name="+")
    first_day = models.DateField()
    last_day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region", "station_class", "track"], name="track_area_span_cell"
            ),
            models.CheckConstraint(
                condition=Q(first_day__lte=F("last_day")), name="track_area_span_ordered"
            ),
        ]
        indexes = [
            models.Index(
                fields=["region", "station_class", "last_day"],
                include=["track"],
                name="track_area_span_last",
            ),
            models.Index(
                fields=["region", "station_class", "first_day"],
                include=["track"],
                name="track_area_span_first",
            ),
        ]

    def __str__(self) -> str:
        area = f"{self.region}/{self.station_class}"
        return f"{area} track {self.track_id}: {self.first_day} to {self.last_day}"


class DetectionHealthDaily(models.Model):
    """Per station and day: windows analysed, matched, low-confidence and failed
    (from MatchCache, which is pruned; these rows keep the history)."""

    day = models.DateField()
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="+")
    windows = models.IntegerField(default=0)
    matched = models.IntegerField(default=0)
    low_confidence = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    audio_seconds = models.FloatField(default=0.0)
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["station", "day"], name="detection_health_cell"),
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.day} station {self.station_id}: {self.windows} windows"


class HealthPeriod(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week (from Monday)"
    MONTH = "month", "Month"


class DetectionHealthPeriod(models.Model):
    """DetectionHealthDaily summed over all stations for one day, week or month (its first
    day), with the number of stations that had rows in it: staff's platform-wide health
    series reads a row per period instead of a row per station and day (18,000 for 90
    days of 200 stations). Recounted from DetectionHealthDaily whenever its days are."""

    kind = models.CharField(max_length=8, choices=HealthPeriod.choices)
    start = models.DateField()
    windows = models.IntegerField(default=0)
    matched = models.IntegerField(default=0)
    low_confidence = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    stations = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "start"], name="detection_health_period"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.start}: {self.windows} windows"
