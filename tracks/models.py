"""The catalogue: tracks, their contributors and versioned splits, and bulk imports."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q

from artists.models import Artist, Publisher
from artists.storage import PrivateStorage
from zamio.models import TimeStampedModel

TOTAL_BASIS_POINTS = 10_000


def _generated(folder: str, filename: str) -> str:
    # Services pass "<anything>.<ext>" with an extension they derived from the bytes;
    # the name a client uploaded never reaches the file system.
    return f"{folder}/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


def track_audio_path(instance, filename: str) -> str:
    return _generated("tracks/audio", filename)


def track_cover_path(instance, filename: str) -> str:
    return _generated("tracks/covers", filename)


def split_sheet_path(instance, filename: str) -> str:
    return _generated("tracks/split-sheets", filename)


class TrackStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class FingerprintStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Track(TimeStampedModel):
    """A recording in the catalogue.

    draft → submitted → approved | rejected; a rejected track is fixed and submitted again.
    """

    title = models.CharField(max_length=300)
    primary_artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="tracks")
    featured_artists = models.ManyToManyField(Artist, blank=True, related_name="featured_on")
    album = models.CharField(max_length=300, blank=True)
    genre = models.CharField(max_length=60, blank=True, db_index=True)
    release_date = models.DateField(null=True, blank=True)
    # Stored compact and upper-case (CCXXXYYNNNNN); shown as CC-XXX-YY-NNNNN.
    isrc = models.CharField(max_length=12, blank=True)
    # Stored compact (T + 9 digits + check digit); shown as T-123.456.789-C.
    iswc = models.CharField(max_length=11, blank=True, db_index=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    explicit = models.BooleanField(default=False)
    cover = models.ImageField(upload_to=track_cover_path, blank=True, max_length=255)
    # Masters are not public: served only through an authorised endpoint.
    audio = models.FileField(
        storage=PrivateStorage(), upload_to=track_audio_path, blank=True, max_length=255
    )
    audio_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the bytes.")
    audio_format = models.CharField(max_length=10, blank=True)
    audio_codec = models.CharField(max_length=20, blank=True)
    audio_size = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=TrackStatus.choices, default=TrackStatus.DRAFT, db_index=True
    )
    rejection_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    fingerprint_status = models.CharField(
        max_length=10, choices=FingerprintStatus.choices, default=FingerprintStatus.PENDING
    )
    fingerprint_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_tracks",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["isrc"], condition=~Q(isrc=""), name="track_isrc_unique_when_present"
            ),
            # The same bytes are one recording: a second copy is a duplicate, races included.
            models.UniqueConstraint(
                fields=["audio_hash"],
                condition=~Q(audio_hash=""),
                name="track_audio_hash_unique_when_present",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="track_rejection_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["audio_hash"], name="track_audio_hash_idx"),
            models.Index(fields=["primary_artist", "status"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["fingerprint_status"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} — {self.primary_artist}"

    @property
    def isrc_display(self) -> str:
        i = self.isrc
        return f"{i[:2]}-{i[2:5]}-{i[5:7]}-{i[7:]}" if len(i) == 12 else i

    @property
    def iswc_display(self) -> str:
        i = self.iswc
        return f"T-{i[1:4]}.{i[4:7]}.{i[7:10]}-{i[10]}" if len(i) == 11 else i


class ContributorKind(models.TextChoices):
    PERSON = "person", "Person"
    PUBLISHER = "publisher", "Publisher"


class ContributorRole(models.TextChoices):
    COMPOSER = "composer", "Composer"
    LYRICIST = "lyricist", "Lyricist"
    COMPOSER_LYRICIST = "composer_lyricist", "Composer and lyricist"
    PRODUCER = "producer", "Producer"
    PERFORMER = "performer", "Performer"
    FEATURED_PERFORMER = "featured_performer", "Featured performer"
    ARRANGER = "arranger", "Arranger"
    MIXING_ENGINEER = "mixing_engineer", "Mixing engineer"
    PUBLISHER = "publisher", "Publisher"
    LABEL = "label", "Label"


class Contributor(TimeStampedModel):
    """A rights holder credited on tracks: a person (maybe an artist on ZamIO) or a publisher."""

    name = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(
        max_length=10, choices=ContributorKind.choices, default=ContributorKind.PERSON
    )
    artist = models.ForeignKey(
        Artist, null=True, blank=True, on_delete=models.PROTECT, related_name="contributors"
    )
    publisher = models.ForeignKey(
        Publisher, null=True, blank=True, on_delete=models.PROTECT, related_name="contributors"
    )
    ipi = models.CharField(max_length=11, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["artist"],
                condition=Q(artist__isnull=False),
                name="contributor_one_per_artist",
            ),
            models.UniqueConstraint(
                fields=["publisher"],
                condition=Q(publisher__isnull=False),
                name="contributor_one_per_publisher",
            ),
            models.CheckConstraint(
                condition=(Q(kind="person") & Q(publisher__isnull=True))
                | (Q(kind="publisher") & Q(artist__isnull=True)),
                name="contributor_kind_matches_link",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SplitVersion(models.Model):
    """One immutable set of splits of a track, in force from `effective_from` until the next."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="split_versions")
    number = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    total_bp = models.PositiveIntegerField(default=TOTAL_BASIS_POINTS)
    split_sheet = models.FileField(
        storage=PrivateStorage(), upload_to=split_sheet_path, blank=True, max_length=255
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["track", "-effective_from", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["track", "number"], name="split_version_number_unique"),
            # The shares of a version are checked against this total by a deferred
            # trigger (see the migration), so no write path can leave a version off 100 %.
            models.CheckConstraint(
                condition=Q(total_bp=TOTAL_BASIS_POINTS), name="split_version_total_is_10000"
            ),
        ]
        indexes = [models.Index(fields=["track", "effective_from"])]

    def __str__(self) -> str:
        return f"Splits v{self.number} of track {self.track_id}"


class TrackSplit(models.Model):
    version = models.ForeignKey(SplitVersion, on_delete=models.CASCADE, related_name="shares")
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="shares")
    role = models.CharField(max_length=20, choices=ContributorRole.choices)
    basis_points = models.PositiveIntegerField()

    class Meta:
        ordering = ["version", "-basis_points", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(basis_points__gte=1) & Q(basis_points__lte=TOTAL_BASIS_POINTS),
                name="track_split_bp_range",
            ),
            models.UniqueConstraint(
                fields=["version", "contributor", "role"], name="track_split_one_role_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contributor} {self.role} {self.basis_points} bp"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting to run"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RowOutcome(models.TextChoices):
    CREATED = "created", "Created"
    DUPLICATE = "duplicate", "Skipped as duplicate"
    REJECTED = "rejected", "Rejected"


class TrackImport(TimeStampedModel):
    """A bulk import: a CSV (or a zip of CSV and audio), processed row by row."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="track_imports"
    )
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING, db_index=True
    )
    # The uploaded files wait here (private storage) until the import has run.
    staging_dir = models.CharField(max_length=255, blank=True)
    # {uploaded file name: staged private-storage name}, only for files the CSV names.
    manifest = models.JSONField(default=dict, blank=True)
    submit_for_review = models.BooleanField(
        default=False, help_text="Submit each created track that has splits for review."
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # [{"row", "title", "outcome", "track_id", "existing_track", "reason", "errors"}]
    results = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.status}, {self.processed_rows}/{self.total_rows})"
