"""Writes of fan listening: play events (de-duplicated, merged) and likes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from streaming.identity import client_hash, listener_key
from streaming.models import PlayEvent, PlayOutcome, TrackLike
from tracks.models import Track, TrackStatus
from users.models import User
from zamio.errors import NotFound, ValidationFailed

# When reports of one play disagree, the strongest outcome wins: a play that reached
# the end was not skipped, even if an earlier report said "stopped".
_OUTCOME_RANK = {PlayOutcome.SKIPPED: 0, PlayOutcome.STOPPED: 1, PlayOutcome.COMPLETED: 2}


@dataclass(frozen=True)
class PlayRecordResult:
    event: PlayEvent
    created: bool  # False: the report was merged into a play already recorded


def _streamable_track(track_id: int) -> Track:
    track = Track.objects.filter(pk=track_id, status=TrackStatus.APPROVED).first()
    if track is None:
        raise NotFound("No such track.", code="track_not_found")
    return track


def _counted(*, outcome: str, seconds: int) -> bool:
    return outcome == PlayOutcome.COMPLETED or (
        outcome != PlayOutcome.SKIPPED and seconds >= settings.STREAMING_MIN_LISTEN_SECONDS
    )


def _check_times(*, started_at: datetime, seconds: int, now: datetime) -> None:
    skew = timedelta(seconds=settings.STREAMING_CLOCK_SKEW_SECONDS)
    errors = {}
    if started_at > now + skew:
        errors["started_at"] = ["This play starts in the future."]
    elif started_at < now - timedelta(hours=settings.STREAMING_MAX_EVENT_AGE_HOURS):
        errors["started_at"] = ["This play is too old to be reported."]
    elif started_at + timedelta(seconds=seconds) > now + skew:
        errors["seconds_listened"] = ["More seconds than have passed since the play started."]
    if errors:
        raise ValidationFailed("The play's times are not possible.", details=errors)


def _lock_listener_track(key: str, track_id: int) -> None:
    """Serialises reports of one listener and track, so racing duplicates cannot both insert."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"streaming:{key}:{track_id}"]
            )


def play_record(
    *,
    track_id: int,
    user: User | None,
    client_id: str,
    started_at: datetime,
    seconds_listened: int,
    outcome: str,
    device: str,
    country: str = "",
    region: str = "",
) -> PlayRecordResult:
    """Records a fan's play, or merges it into the same play already recorded; writes one row.

    A report is the same play as an earlier one of this listener and track when it
    starts while that one was still playing (or within STREAMING_DEDUP_WINDOW_SECONDS
    of its start): a refreshed page or a repeated progress report cannot add a play.
    """
    if user is None and not client_id:
        raise ValidationFailed(
            "Guests must send their player's client id.", details={"client_id": ["Required."]}
        )
    track = _streamable_track(track_id)
    now = timezone.now()
    if track.duration_seconds:
        # Players overshoot a little at the end; more than the track's length is not a listen.
        seconds_listened = min(seconds_listened, math.ceil(track.duration_seconds))
    _check_times(started_at=started_at, seconds=seconds_listened, now=now)
    hashed = client_hash(client_id) if client_id else ""
    key = listener_key(user_id=user.pk if user else None, hashed_client=hashed)
    window = timedelta(seconds=settings.STREAMING_DEDUP_WINDOW_SECONDS)
    longest = timedelta(seconds=math.ceil(track.duration_seconds or 3600))

    with transaction.atomic():
        _lock_listener_track(key, track.pk)
        nearby = PlayEvent.objects.select_for_update().filter(
            listener_key=key,
            track=track,
            started_at__gt=started_at - max(longest, window),
            started_at__lt=started_at + window,
        )
        same = next(
            (
                e
                for e in nearby.order_by("started_at")
                if e.started_at - window
                < started_at
                < e.started_at + max(timedelta(seconds=e.seconds_listened), window)
            ),
            None,
        )
        if same is not None:
            return PlayRecordResult(event=_merge(same, seconds_listened, outcome), created=False)
        is_replay = PlayEvent.objects.filter(
            listener_key=key, track=track, started_at__lt=started_at
        ).exists()
        try:
            with transaction.atomic():
                event = PlayEvent.objects.create(
                    track=track,
                    user=user,
                    listener_key=key,
                    client_hash=hashed,
                    started_at=started_at,
                    seconds_listened=seconds_listened,
                    outcome=outcome,
                    counted=_counted(outcome=outcome, seconds=seconds_listened),
                    is_replay=is_replay,
                    device=device,
                    country=country.upper(),
                    region=region.strip(),
                )
        except IntegrityError:
            # Only reachable without the advisory lock (SQLite demo): the twin won the race.
            twin = PlayEvent.objects.get(listener_key=key, track=track, started_at=started_at)
            return PlayRecordResult(event=_merge(twin, seconds_listened, outcome), created=False)
    return PlayRecordResult(event=event, created=True)


def _merge(event: PlayEvent, seconds: int, outcome: str) -> PlayEvent:
    event.seconds_listened = max(event.seconds_listened, seconds)
    if _OUTCOME_RANK[outcome] > _OUTCOME_RANK[event.outcome]:
        event.outcome = outcome
    event.counted = _counted(outcome=event.outcome, seconds=event.seconds_listened)
    event.reports += 1
    event.save(update_fields=["seconds_listened", "outcome", "counted", "reports", "updated_at"])
    return event


def like_add(*, user: User, track_id: int) -> tuple[TrackLike, bool]:
    """Likes a track for the fan (idempotent); returns the like and whether it is new."""
    track = _streamable_track(track_id)
    try:
        with transaction.atomic():
            return TrackLike.objects.get_or_create(user=user, track=track)
    except IntegrityError:  # a concurrent like of the same track won
        return TrackLike.objects.get(user=user, track=track), False


def like_remove(*, user: User, track_id: int) -> bool:
    """Removes the fan's like of a track; returns whether there was one. A track the fan
    never liked must be streamable (404 otherwise, as for a like), so unliking cannot probe
    for draft tracks; a like of a track taken down since can still be removed."""
    deleted, _ = TrackLike.objects.filter(user=user, track_id=track_id).delete()
    if not deleted:
        _streamable_track(track_id)
    return deleted > 0
