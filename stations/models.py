"""Radio stations, the people who run them, and the stream links ZamIO listens to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

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
