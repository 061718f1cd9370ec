"""Celery entry points of detections: ids in, one service call, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from detections import services
from detections.models import PlaySource

logger = logging.getLogger(__name__)


@shared_task(
    name="detections.capture_and_detect",
    # CELERY_TASK_ROUTES sends detections.* to the fingerprint queue: the capture is
    # short next to the matching, and both need the process's catalogue index.
    time_limit=300,
    soft_time_limit=270,
    acks_late=True,
)
def capture_and_detect(*, station_id: int) -> int:
    """Records one sample of the station's stream and analyses it; returns windows analysed.

    Safe to run twice: a second run records a new sample (later audio), and the windows
    of a sample are keyed by their on-air time, so a redelivered run that got as far as
    analysing cannot count the same audio twice. A failed capture is recorded on the
    links' health by the capture side and not retried: the scheduler asks again at the
    next interval.
    """
    from stations.models import Station
    from stream_capture.ffmpeg import StreamUnavailable
    from stream_capture.services import station_sample_capture

    if not Station.objects.filter(pk=station_id, monitoring_enabled=True).exists():
        return 0  # gone, or monitoring switched off since it was queued
    try:
        # The best enabled link, falling back to the others; health recorded per link.
        captured = station_sample_capture(station_id=station_id)
    except StreamUnavailable as exc:
        logger.info("station %s: no sample (%s)", station_id, exc.reason)
        return 0
    rows = services.audio_analyse(
        station_id=station_id,
        started_at=captured.started_at,
        samples=captured.samples,
        source=PlaySource.RADIO,
    )
    return len(rows)


@shared_task(name="detections.analyse_upload", time_limit=600)
def analyse_upload(*, upload_id: int) -> str | None:
    """Analyses a station device's clip. Safe to run twice: processed uploads are skipped
    and the clip's windows are keyed by their on-air time."""
    upload = services.station_upload_analyse(upload_id=upload_id)
    return upload.status if upload else None


@shared_task(name="detections.close_stale_plays", time_limit=300)
def close_stale_plays() -> int:
    """Ends plays of stations that stopped sending audio. Safe to run twice: only open
    plays are touched, each under a row lock."""
    return services.plays_close_stale()


@shared_task(name="detections.prune_match_cache", time_limit=1800)
def prune_match_cache() -> int:
    """Deletes analysed windows past retention. Safe to run twice: a delete by age."""
    return services.match_cache_prune()


@shared_task(name="detections.refresh_detection_health", time_limit=600)
def refresh_detection_health() -> int:
    """Recounts today's and yesterday's detection-health rows from MatchCache. Safe to run
    twice: each row is replaced by a recount, never added to."""
    from detections.analytics import detection_health_refresh

    return detection_health_refresh(days=2)


@shared_task(name="detections.restate_area_months", time_limit=1800)
def restate_area_months() -> int:
    """Moves the month summaries of stations whose region or class changed to the new ones
    (until then platform rollups filtered by region or class count from the day rows).
    Safe to run twice: with no station moved it reads the stations and writes nothing."""
    from detections.analytics import track_area_monthly_restate

    return track_area_monthly_restate()


@shared_task(name="detections.send_airplay_digests", time_limit=1800)
def send_airplay_digests(*, day: str | None = None) -> int:
    """Sends yesterday's opt-in airplay digests. Safe to run twice: a user who already has
    the digest of that day is skipped."""
    from datetime import date

    from detections.analytics import digests_send

    return digests_send(day=date.fromisoformat(day) if day else None)
