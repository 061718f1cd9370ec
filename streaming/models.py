"""Fan-side listening: play events from players (fans signed in or guests) and likes.

Each event is one listener's play of one track, with how it ended. Together they
give charts (counted plays), per-track listens vs skips vs replays, and the
(listener, track, signal) rows a recommender trains on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tracks.models import Track


class Device(models.TextChoices):
    WEB = "web", "Web"
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    DESKTOP = "desktop", "Desktop"
    SPEAKER = "speaker", "Smart speaker"
    OTHER = "other", "Other"


class PlayOutcome(models.TextChoices):
    COMPLETED = "completed", "Played to the end"
    SKIPPED = "skipped", "Skipped"
    STOPPED = "stopped", "Stopped part-way"


class PlayEvent(models.Model):
    """One listener playing one track once.

    `listener_key` is "u:<user id>" for signed-in fans and "g:<hmac>" for guests (an
    HMAC of the player's own client id; no IP address is stored). `counted` marks a
    real listen (completed, or at least STREAMING_MIN_LISTEN_SECONDS); charts count
    only those. `is_replay` marks a play of a track this listener had played before.
    """

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="play_events")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="play_events",
    )
    listener_key = models.CharField(max_length=80)
    client_hash = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    seconds_listened = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=PlayOutcome.choices)
    counted = models.BooleanField()
    is_replay = models.BooleanField(default=False)
    device = models.CharField(max_length=10, choices=Device.choices, default=Device.OTHER)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    region = models.CharField(max_length=100, blank=True)
    # Reports for the same play (progress, a refreshed page) are merged into this row.
    reports = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["listener_key", "track", "started_at"], name="play_event_once_per_start"
            ),
            models.CheckConstraint(
                condition=Q(listener_key__startswith="u:") | Q(listener_key__startswith="g:"),
                name="play_event_listener_key_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["started_at"], name="play_event_started"),
            models.Index(fields=["track", "started_at"], name="play_event_track_started"),
            models.Index(fields=["country", "region", "started_at"], name="play_event_place"),
            models.Index(fields=["user", "track"], name="play_event_user_track"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.listener_key} played track {self.track_id} at {self.started_at:%Y-%m-%d %H:%M}"
        )


class TrackLike(models.Model):
    """A signed-in fan's like (favourite) of a track."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="track_likes"
    )
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "track"], name="track_like_once_per_user")
        ]
        indexes = [models.Index(fields=["track"], name="track_like_track")]

    def __str__(self) -> str:
        return f"user {self.user_id} likes track {self.track_id}"
