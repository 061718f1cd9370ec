from django.db import models


class TrackFingerprint(models.Model):
    """A track's fingerprint for one engine version: every hash in one binary blob.

    One row per track and version — never one row per hash — so a 10,000-track
    catalogue is 10,000 rows that load into the in-memory index in one query.
    """

    track = models.ForeignKey("tracks.Track", on_delete=models.CASCADE, related_name="fingerprints")
    version = models.PositiveSmallIntegerField()
    data = models.BinaryField(help_text="engine.Fingerprint.to_bytes(): hashes and offsets")
    hash_count = models.PositiveIntegerField()
    duration_seconds = models.FloatField()
    source_hash = models.CharField(
        max_length=64, blank=True, help_text="The track's audio_hash when this was computed."
    )
    elapsed_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["track", "version"], name="fingerprint_one_per_version"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_seconds__gte=0),
                name="fingerprint_duration_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["version", "updated_at"])]

    def __str__(self) -> str:
        return f"fingerprint v{self.version} of track {self.track_id} ({self.hash_count} hashes)"
