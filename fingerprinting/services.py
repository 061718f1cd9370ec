"""Fingerprinting tracks and identifying audio against the catalogue."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from fingerprinting.catalog_index import catalog_index, generation_bump_on_commit
from fingerprinting.engine import (
    FINGERPRINT_VERSION,
    MIN_QUERY_SECONDS,
    FingerprintError,
    Match,
    Matcher,
    decode,
    fingerprint,
)
from fingerprinting.models import TrackFingerprint
from tracks.models import FingerprintStatus, Track
from tracks.services import track_set_fingerprint_status

logger = logging.getLogger(__name__)


def _track_source(track: Track) -> tuple[str | bytes, str]:
    """The track's audio as a path (or bytes for non-filesystem storage) and a label."""
    label = track.audio.name
    try:
        return track.audio.path, label
    except NotImplementedError:  # remote storage: no local path, read the bytes
        with track.audio.open("rb") as fh:
            return fh.read(), label


def fingerprint_track(*, track_id: int, force: bool = False) -> TrackFingerprint | None:
    """Fingerprints a track's audio and stores it; marks the track ready, or failed with reason.

    Safe to run twice: a track whose current-version fingerprint was computed from
    the same audio bytes is left alone unless `force`. Returns None when the track
    is gone or has no audio.
    """
    track = Track.objects.filter(pk=track_id).first()
    if track is None or not track.audio:
        return None
    existing = TrackFingerprint.objects.filter(track=track, version=FINGERPRINT_VERSION).first()
    if (
        existing
        and not force
        and existing.source_hash == track.audio_hash
        and track.fingerprint_status == FingerprintStatus.READY
    ):
        return existing
    track_set_fingerprint_status(track_id=track.pk, status=FingerprintStatus.PROCESSING)
    started = time.perf_counter()
    try:
        source, label = _track_source(track)
        samples = decode(source, name=label)
        fp = fingerprint(samples)
    except FingerprintError as exc:
        with transaction.atomic():
            track_set_fingerprint_status(
                track_id=track.pk, status=FingerprintStatus.FAILED, error=str(exc)
            )
            _notify_failure(track=track, reason=str(exc))
        logger.warning("fingerprinting track %s failed: %s", track.pk, exc)
        return None
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    with transaction.atomic():
        row, _ = TrackFingerprint.objects.update_or_create(
            track=track,
            version=FINGERPRINT_VERSION,
            defaults={
                "data": fp.to_bytes(),
                "hash_count": len(fp),
                "duration_seconds": fp.duration,
                "source_hash": track.audio_hash,
                "elapsed_ms": elapsed_ms,
            },
        )
        track_set_fingerprint_status(track_id=track.pk, status=FingerprintStatus.READY)
        generation_bump_on_commit()
    return row


def _notify_failure(*, track: Track, reason: str) -> None:
    from notifications.services import notify

    if track.created_by_id is None:
        return
    notify(
        user=track.created_by,
        kind="fingerprint_failed",
        title=f"We could not analyse “{track.title}”",
        body=f"The audio could not be fingerprinted: {reason}. Upload it again in another "
        "format; until then the track cannot be detected on air.",
        link=f"/tracks/{track.pk}",
        priority="high",
    )


def fingerprints_delete_other_versions() -> int:
    """Deletes fingerprints of engine versions other than the current one (after a rebuild)."""
    with transaction.atomic():
        deleted, _ = TrackFingerprint.objects.exclude(version=FINGERPRINT_VERSION).delete()
        generation_bump_on_commit()
    return deleted


# --- Identification -------------------------------------------------------------
def matcher(*, threshold: float | None = None) -> Matcher:
    """A matcher over the refreshed process-wide catalogue index."""
    if threshold is None:
        threshold = settings.FINGERPRINT_CANDIDATE_THRESHOLD
    return Matcher(catalog_index().index, threshold=threshold)


def samples_identify(samples: np.ndarray, *, threshold: float | None = None) -> list[Match]:
    """Matches of mono float32 samples at the engine's rate, most confident first."""
    return matcher(threshold=threshold).match(samples)


def source_identify(
    source: str | Path | bytes, *, name: str | None = None, threshold: float | None = None
) -> list[Match]:
    """Decodes a file path or bytes (refusing less than the minimum query length) and matches it.

    Raises the engine's FingerprintError (naming the file) when it is not usable audio.
    """
    samples = decode(source, name=name, min_seconds=MIN_QUERY_SECONDS)
    return samples_identify(samples, threshold=threshold)


@dataclass(frozen=True)
class Identification:
    track_id: int
    title: str
    artist: str
    isrc: str
    confidence: float
    track_offset: float
    query_offset: float
    speed: float

    def as_dict(self) -> dict:
        return {
            "track_id": self.track_id,
            "title": self.title,
            "artist": self.artist,
            "isrc": self.isrc,
            "confidence": round(self.confidence, 4),
            "track_offset": round(self.track_offset, 3),
            "query_offset": round(self.query_offset, 3),
            "speed": round(self.speed, 4),
        }


def identifications_for(matches: list[Match]) -> list[Identification]:
    """Joins matches with their tracks' title, artist and ISRC (one query)."""
    tracks = Track.objects.select_related("primary_artist").in_bulk([m.track_id for m in matches])
    result = []
    for m in matches:
        track = tracks.get(m.track_id)
        if track is None:  # deleted since the index last refreshed
            continue
        result.append(
            Identification(
                track_id=track.pk,
                title=track.title,
                artist=track.primary_artist.stage_name,
                isrc=track.isrc or "",
                confidence=m.confidence,
                track_offset=m.track_offset,
                query_offset=m.query_offset,
                speed=m.speed,
            )
        )
    return result


def recording_find_matches(path: str) -> list[tuple[int, float]]:
    """(track_id, confidence) of catalogue tracks heard in the audio file at `path`.

    The catalogue's duplicate check calls this (settings.TRACKS_RECORDING_MATCHER)
    before a new track is created. It samples up to three windows across the file so
    that a long upload is compared quickly, and keeps each track's best confidence.
    """
    samples = decode(path, name=Path(path).name)
    rate = settings.FINGERPRINT_SAMPLE_RATE
    window = int(settings.FINGERPRINT_DUPLICATE_WINDOW_SECONDS * rate)
    if samples.size <= window:
        windows = [samples]
    else:
        starts = np.linspace(0, samples.size - window, num=3).astype(int)
        windows = [samples[s : s + window] for s in starts]
    best: dict[int, float] = {}
    m = matcher(threshold=settings.FINGERPRINT_CANDIDATE_THRESHOLD)
    for chunk in windows:
        if chunk.size < MIN_QUERY_SECONDS * rate:
            continue
        for match in m.match(chunk):
            best[match.track_id] = max(best.get(match.track_id, 0.0), match.confidence)
    return sorted(best.items(), key=lambda kv: -kv[1])


def tracks_needing_fingerprints(*, mode: str, version: int | None = None):
    """Track ids to (re)fingerprint: `missing` current ones, `all`, or those of `version`."""
    with_audio = Track.objects.exclude(audio="").order_by("pk")
    if mode == "all":
        return with_audio.values_list("pk", flat=True)
    if mode == "version":
        return with_audio.filter(fingerprints__version=version).values_list("pk", flat=True)
    return with_audio.exclude(fingerprints__version=FINGERPRINT_VERSION).values_list(
        "pk", flat=True
    )
