"""Every write of the capture side: link health (and the down/up alerts it raises),
continuous-capture leases, the sampled schedule, and a station's sampled capture."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from notifications.services import notify
from stations.models import Station, StreamLink
from stations.selectors import station_staff_users
from stream_capture.ffmpeg import CapturedAudio, StreamUnavailable, sample_capture
from stream_capture.models import CaptureAttempt, CaptureLease, LinkHealth, StationCaptureState
from stream_capture.selectors import capture_links_for
from stream_capture.urlsafety import UnsafeStreamUrl
from zamio.celery import app
from zamio.live import broadcast_on_commit, staff_group, station_group

logger = logging.getLogger(__name__)

# Checking a newly added link: long enough to decode, short enough for quick feedback.
CHECK_SECONDS = 5.0


# --- Health -----------------------------------------------------------------------------------
def _locked_health(link_id: int) -> LinkHealth:
    health, _ = LinkHealth.objects.select_for_update().get_or_create(link_id=link_id)
    return health


def _stream_event(*, health: LinkHealth, link: StreamLink, event: str) -> None:
    station = link.station
    payload = {
        "station": station.pk,
        "station_name": station.name,
        "link": link.pk,
        "kind": link.kind,
        "down_since": health.down_since,
        "last_success_at": health.last_success_at,
        "last_error": health.last_error,
    }
    broadcast_on_commit(
        groups=[station_group(station.pk), staff_group()], event=event, payload=payload
    )
    label = f"{link.get_kind_display()} stream of {station.name}"
    if event == "stream.down":
        kind = "station_stream_down"
        title = f"{label} is down"
        body = (
            f"ZamIO has not been able to capture the {link.kind} stream of {station.name} "
            f"since {timezone.localtime(health.failing_since):%d %b %Y %H:%M}. "
            f"Last error: {health.last_error or 'unknown'}. Stream URL: {link.url}. "
            "Airplay is not being logged from this stream until it is back."
        )
    else:
        kind = "station_stream_up"
        title = f"{label} is back up"
        body = f"ZamIO is capturing the {link.kind} stream of {station.name} again."
    for user in station_staff_users(station_id=station.pk):
        notify(
            user=user,
            kind=kind,
            title=title,
            body=body,
            link=f"/stations/{station.pk}/health",
            context={"station": station.pk, "link": link.pk},
        )


def health_record_success(*, link_id: int, seconds: float) -> LinkHealth | None:
    """Logs a successful capture; a down link comes back up (notifies the station's staff
    and broadcasts `stream.up` on commit). None when the link is gone."""
    now = timezone.now()
    with transaction.atomic():
        link = StreamLink.objects.select_related("station").filter(pk=link_id).first()
        if link is None:
            return None
        health = _locked_health(link_id)
        CaptureAttempt.objects.create(link_id=link_id, started_at=now, ok=True, seconds=seconds)
        came_back = health.is_down
        health.last_success_at = now
        health.consecutive_failures = 0
        health.failing_since = None
        if came_back:
            health.is_down = False
            health.down_since = None
        health.save()
        if came_back:
            _stream_event(health=health, link=link, event="stream.up")
    return health


def health_record_failure(*, link_id: int, error: str) -> LinkHealth | None:
    """Logs a failed capture; failing for STREAM_DOWN_AFTER_SECONDS marks the link down
    once (notifies the station's staff, broadcasts `stream.down` on commit)."""
    now = timezone.now()
    error = (error or "unknown error")[:500]
    with transaction.atomic():
        link = StreamLink.objects.select_related("station").filter(pk=link_id).first()
        if link is None:
            return None
        health = _locked_health(link_id)
        CaptureAttempt.objects.create(link_id=link_id, started_at=now, ok=False, error=error)
        health.last_failure_at = now
        health.last_error = error
        health.consecutive_failures += 1
        if health.failing_since is None:
            health.failing_since = now
        went_down = not health.is_down and now - health.failing_since >= timedelta(
            seconds=settings.STREAM_DOWN_AFTER_SECONDS
        )
        if went_down:
            health.is_down = True
            health.down_since = health.failing_since
        health.save()
        if went_down:
            _stream_event(health=health, link=link, event="stream.down")
    return health


def attempts_prune(*, now: datetime | None = None) -> int:
    """Deletes capture attempts older than STREAM_CAPTURE_ATTEMPT_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(
        days=settings.STREAM_CAPTURE_ATTEMPT_RETENTION_DAYS
    )
    deleted, _ = CaptureAttempt.objects.filter(started_at__lt=cutoff).delete()
    return deleted


# --- Capture ----------------------------------------------------------------------------------
def link_capture(*, link: StreamLink, seconds: float) -> CapturedAudio:
    """Captures `seconds` from one link and records the outcome in the link's health."""
    try:
        audio = sample_capture(url=link.url, seconds=seconds)
    except UnsafeStreamUrl as exc:
        health_record_failure(link_id=link.pk, error=f"refused: {exc.message}")
        raise
    except StreamUnavailable as exc:
        health_record_failure(link_id=link.pk, error=exc.reason)
        raise
    health_record_success(link_id=link.pk, seconds=audio.seconds)
    return audio


def station_sample_capture(*, station_id: int) -> CapturedAudio:
    """One sample of the station's stream (station.sample_seconds long), from its best link,
    falling back to the others in order. Records health per link tried and the station's
    last sample. Raises StreamUnavailable when every link failed (or there is none)."""
    station = Station.objects.get(pk=station_id)
    links = capture_links_for(station_id=station_id)
    if not links:
        raise StreamUnavailable("the station has no enabled stream link")
    errors = []
    for link in links:
        try:
            audio = link_capture(link=link, seconds=float(station.sample_seconds))
        except UnsafeStreamUrl as exc:
            errors.append(f"{link.kind} link {link.pk}: {exc.message}")
            continue
        except StreamUnavailable as exc:
            errors.append(f"{link.kind} link {link.pk}: {exc.reason}")
            continue
        StationCaptureState.objects.update_or_create(
            station_id=station_id,
            defaults={"last_sample_at": audio.ended_at, "last_link": link},
            create_defaults={
                "next_due_at": timezone.now(),
                "last_sample_at": audio.ended_at,
                "last_link": link,
            },
        )
        return audio
    raise StreamUnavailable("; ".join(errors))


def link_check(*, link_id: int) -> bool | None:
    """A short test capture of a new or changed link, so its health shows at once whether
    ZamIO can hear it. None when the link is gone or disabled."""
    link = StreamLink.objects.select_related("station").filter(pk=link_id, enabled=True).first()
    if link is None:
        return None
    try:
        link_capture(link=link, seconds=CHECK_SECONDS)
    except (UnsafeStreamUrl, StreamUnavailable):
        return False
    return True


# --- Leases -----------------------------------------------------------------------------------
def lease_acquire(*, station_id: int, worker_id: str, ttl_seconds: int) -> bool:
    """Claims the station for a continuous worker: True when the worker holds it now
    (new, already its own, or taken over after it expired); False when another worker's
    live lease stands. Atomic: an INSERT that yields on conflict, then one conditional UPDATE."""
    now = timezone.now()
    expires = now + timedelta(seconds=ttl_seconds)
    CaptureLease.objects.bulk_create(
        [
            CaptureLease(
                station_id=station_id, worker_id=worker_id, acquired_at=now, expires_at=expires
            )
        ],
        ignore_conflicts=True,
    )
    # Two workers racing for an expired lease both run this UPDATE; PostgreSQL re-checks
    # the WHERE of the second against the first one's new row, so only one wins.
    taken = (
        CaptureLease.objects.filter(station_id=station_id)
        .filter(Q(worker_id=worker_id) | Q(expires_at__lte=now))
        .update(
            acquired_at=Case(When(worker_id=worker_id, then=F("acquired_at")), default=Value(now)),
            worker_id=worker_id,
            expires_at=expires,
        )
    )
    return taken == 1


def lease_renew(*, station_id: int, worker_id: str, ttl_seconds: int) -> bool:
    """Extends the worker's live lease; False when it expired or another worker holds it
    (the worker must then stop capturing the station)."""
    now = timezone.now()
    renewed = CaptureLease.objects.filter(
        station_id=station_id, worker_id=worker_id, expires_at__gt=now
    ).update(expires_at=now + timedelta(seconds=ttl_seconds))
    return renewed == 1


def lease_release(*, station_id: int, worker_id: str) -> bool:
    """Gives the station up (only the holder's release counts)."""
    deleted, _ = CaptureLease.objects.filter(station_id=station_id, worker_id=worker_id).delete()
    return deleted == 1


def leases_release_all(*, worker_id: str) -> int:
    """Gives up every station the worker holds (on a clean shutdown)."""
    deleted, _ = CaptureLease.objects.filter(worker_id=worker_id).delete()
    return deleted


# --- Sampled schedule -------------------------------------------------------------------------
CAPTURE_TASK = "detections.capture_and_detect"


def _capture_enqueue_on_commit(*, station_id: int, countdown: float, expires: float) -> None:
    """Like zamio.tasks.enqueue_on_commit, with a start delay and an expiry: a capture that
    could not start before the next one is due is worthless."""

    def _send() -> None:
        if CAPTURE_TASK not in app.tasks:
            app.loader.import_default_modules()
        app.tasks[CAPTURE_TASK].apply_async(
            kwargs={"station_id": station_id}, countdown=countdown, expires=expires
        )

    transaction.on_commit(_send)


def captures_schedule(*, horizon_seconds: float = 60.0) -> list[tuple[int, datetime]]:
    """Queues (on commit) the sampled captures due within the next `horizon_seconds`, for
    every station with monitoring on, an enabled link and no live continuous lease.
    Returns (station_id, due time) per capture queued.

    Each station keeps its own phase (next_due_at advances by its interval), so captures
    spread over the minute instead of all starting at the Beat tick. Safe to run twice:
    states are locked and advanced in the same transaction, a second run finds them not due.
    """
    now = timezone.now()
    horizon = now + timedelta(seconds=horizon_seconds)
    leased = CaptureLease.objects.filter(expires_at__gt=now).values("station_id")
    stations = list(
        Station.objects.filter(monitoring_enabled=True, stream_links__enabled=True)
        .exclude(pk__in=leased)
        .distinct()
        .values_list("pk", "sample_interval_seconds")
    )
    queued: list[tuple[int, datetime]] = []
    with transaction.atomic():
        StationCaptureState.objects.bulk_create(
            [StationCaptureState(station_id=pk, next_due_at=now) for pk, _ in stations],
            ignore_conflicts=True,
        )
        intervals = dict(stations)
        states = StationCaptureState.objects.select_for_update(skip_locked=True).filter(
            station_id__in=list(intervals), next_due_at__lt=horizon
        )
        for state in states:
            interval = timedelta(seconds=intervals[state.station_id])
            # After an outage, start again now rather than queueing every missed capture.
            due = max(state.next_due_at, now)
            while due < horizon:
                countdown = (due - now).total_seconds()
                _capture_enqueue_on_commit(
                    station_id=state.station_id,
                    countdown=countdown,
                    expires=countdown + interval.total_seconds(),
                )
                queued.append((state.station_id, due))
                due += interval
            state.next_due_at = due
            state.last_queued_at = now
            state.save(update_fields=["next_due_at", "last_queued_at"])
    return queued
