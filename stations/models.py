"""Radio stations, the people who run them, and the stream links ZamIO listens to."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from artists.storage import PrivateStorage
from zamio.models import TimeStampedModel


class StationClass(models.TextChoices):
    """The licence class of a station; the royalty rate card keys on it."""

    A = "A", "Class A (national / major urban)"
    B = "B", "Class B (regional)"
    C = "C", "Class C (district / small)"
    COMMUNITY = "community", "Community"
    ONLINE = "online", "Online only"


class Station(TimeStampedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    call_sign = models.CharField(max_length=20, blank=True)
    frequency = models.CharField(max_length=40, blank=True, help_text='e.g. "99.7 FM"')
    region = models.CharField(max_length=80, blank=True)
    city = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, default="GH")
    timezone = models.CharField(max_length=64, default="Africa/Accra")
    station_class = models.CharField(max_length=16, choices=StationClass.choices)
    licence_number = models.CharField(max_length=64, blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    is_verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The one switch for capture (sampled and continuous); only staff move it.
    monitoring_enabled = models.BooleanField(default=False)
    sample_seconds = models.PositiveSmallIntegerField(default=20)
    sample_interval_seconds = models.PositiveIntegerField(default=60)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Two stations on the same frequency in one city are the same station.
            models.UniqueConstraint(
                fields=["country", "city", "frequency"],
                condition=~Q(frequency="") & ~Q(city=""),
                name="station_unique_frequency_per_city",
            ),
            models.UniqueConstraint(
                fields=["country", "licence_number"],
                condition=~Q(licence_number=""),
                name="station_unique_licence_per_country",
            ),
            models.CheckConstraint(
                condition=Q(is_verified=False) | Q(verified_at__isnull=False),
                name="station_verified_has_date",
            ),
            # Fingerprints need 3 s at least; more than 5 minutes is a recording, not a sample.
            models.CheckConstraint(
                condition=Q(sample_seconds__gte=5) & Q(sample_seconds__lte=300),
                name="station_sample_seconds_range",
            ),
            models.CheckConstraint(
                condition=Q(sample_interval_seconds__gte=F("sample_seconds"))
                & Q(sample_interval_seconds__lte=86400),
                name="station_sample_interval_range",
            ),
        ]
        indexes = [
            models.Index(fields=["monitoring_enabled", "is_verified"]),
            models.Index(fields=["station_class"]),
            models.Index(fields=["region"]),
        ]

    def __str__(self) -> str:
        return self.name


class StationStaffRole(models.TextChoices):
    MANAGER = "manager", "Manager"  # edits the station, its links and its people
    STAFF = "staff", "Staff"  # sees the station, its health and its plays


class StationStaff(TimeStampedModel):
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="staff")
    # A station account works for one station: its plays, invoices and feed are that one's.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="station_membership"
    )
    role = models.CharField(
        max_length=16, choices=StationStaffRole.choices, default=StationStaffRole.STAFF
    )

    class Meta:
        ordering = ["station_id", "id"]
        indexes = [models.Index(fields=["station", "role"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} at {self.station_id}"


class StreamLinkKind(models.TextChoices):
    PRIMARY = "primary", "Primary"
    BACKUP = "backup", "Backup"


class StreamLink(TimeStampedModel):
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="stream_links")
    url = models.CharField(max_length=2048)
    kind = models.CharField(
        max_length=16, choices=StreamLinkKind.choices, default=StreamLinkKind.PRIMARY
    )
    # Staff switch a link off (broken, abusive, replaced); station managers cannot.
    enabled = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(
        default=0, help_text="Lower is tried first among links of the same kind."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["station_id", "kind", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["station", "url"], name="stream_link_unique_url"),
        ]
        indexes = [models.Index(fields=["station", "enabled", "kind", "priority"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.url}"


# --- Station playlogs (services: stations/playlogs.py) -----------------------------------
class PlaylogFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"
    XML = "xml", "XML"


class StationPlaylog(TimeStampedModel):
    """One as-played log a station uploaded, with what was accepted and why rows were not."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="playlogs")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_format = models.CharField(max_length=8, choices=PlaylogFormat.choices)
    original_name = models.CharField(max_length=255)
    size_bytes = models.PositiveIntegerField()
    rows_total = models.PositiveIntegerField()
    rows_accepted = models.PositiveIntegerField()
    rows_rejected = models.PositiveIntegerField()
    # [{"row": n, "field": name | "", "reason": text}], in file order.
    rejections = models.JSONField(default=list)
    first_started_at = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "created_at"])]

    def __str__(self) -> str:
        return f"playlog {self.original_name} of station {self.station_id}"


class StationPlaylogEntry(models.Model):
    """One row of a station's own log: what it says it aired, when, for how long."""

    playlog = models.ForeignKey(StationPlaylog, on_delete=models.CASCADE, related_name="entries")
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+")
    row_number = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    artist = models.CharField(max_length=300)
    isrc = models.CharField(max_length=12, blank=True)
    started_at = models.DateTimeField()
    duration_seconds = models.DecimalField(max_digits=8, decimal_places=2)
    ended_at = models.DateTimeField()

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name_plural = "station playlog entries"
        constraints = [
            # The same airing in two uploads (a corrected log sent again) is kept once.
            models.UniqueConstraint(
                F("station"), F("started_at"), Lower("title"), name="playlog_entry_once"
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__gt=0), name="playlog_entry_positive_duration"
            ),
        ]
        indexes = [models.Index(fields=["station", "started_at"])]

    def __str__(self) -> str:
        return f"{self.title} at {self.started_at:%Y-%m-%d %H:%M}"


# --- Compliance documents (services: stations/compliance.py) ------------------------------
class ComplianceDocumentType(models.TextChoices):
    PLAYLIST_RETURN = "playlist_return", "Monthly playlist return"
    LICENCE_FEE_RECEIPT = "licence_fee_receipt", "Licence fee receipt"
    BROADCAST_LICENCE = "broadcast_licence", "Broadcast licence"
    OTHER = "other", "Other"


class ComplianceStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


def compliance_path(instance, filename: str) -> str:
    return f"compliance/{instance.station_id}/{uuid.uuid4().hex}{PurePath(filename).suffix}"


class ComplianceDocument(TimeStampedModel):
    """A station's document for one month (`period` is the month's first day). Private:
    served only to the station's own accounts and staff."""

    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="compliance_documents"
    )
    document_type = models.CharField(max_length=24, choices=ComplianceDocumentType.choices)
    period = models.DateField()
    file = models.FileField(storage=PrivateStorage(), upload_to=compliance_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=ComplianceStatus.choices, default=ComplianceStatus.SUBMITTED
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-period", "document_type", "-id"]
        constraints = [
            # One live document per station, type and month; a rejected one may be replaced.
            models.UniqueConstraint(
                fields=["station", "document_type", "period"],
                condition=~Q(status="rejected"),
                name="compliance_one_live_per_month",
            ),
            models.CheckConstraint(
                condition=Q(period__day=1), name="compliance_period_is_month_start"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.document_type} {self.period:%Y-%m} of station {self.station_id}"
