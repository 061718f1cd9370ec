"""Reads of fan listening: charts, per-artist and per-track numbers, recommender signals.

Every number counts PlayEvent rows directly: a chart is a GROUP BY over counted plays
in a period of local (Africa/Accra) days, optionally in one country or region.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from streaming.models import PlayEvent, PlayOutcome, TrackLike
from tracks.models import TrackStatus
from users.models import User


class Period:
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CHOICES = (DAY, WEEK, MONTH)


@dataclass(frozen=True)
class Window:
    period: str
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    first_day: date
    last_day: date


def period_window(*, period: str, day: date) -> Window:
    """The day, ISO week (Monday first) or calendar month containing `day`, in local time."""
    if period == Period.DAY:
        first = day
        after = day + timedelta(days=1)
    elif period == Period.WEEK:
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    elif period == Period.MONTH:
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"Unknown period {period!r}")
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()), tz)
    end = timezone.make_aware(datetime.combine(after, datetime.min.time()), tz)
    return Window(period, start, end, first, after - timedelta(days=1))


def _plays_in(window: Window, *, country: str = "", region: str = "") -> QuerySet[PlayEvent]:
    qs = PlayEvent.objects.filter(started_at__gte=window.start, started_at__lt=window.end)
    if country:
        qs = qs.filter(country=country.upper())
    if region:
        qs = qs.filter(region__iexact=region)
    return qs


def _cached(key: str, compute):
    ttl = settings.STREAMING_CHART_CACHE_SECONDS
    if ttl <= 0:
        return compute()
    # Filters are client text: hash them, so keys stay short and printable whatever is sent.
    key = "streaming:chart:" + hashlib.sha256(key.lower().encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, ttl)
    return value


def chart_top_tracks(
    *, window: Window, country: str = "", region: str = "", limit: int = 20
) -> list[dict]:
    """Approved tracks ranked by counted plays, then by distinct listeners, then by id."""

    def compute():
        rows = (
            _plays_in(window, country=country, region=region)
            .filter(counted=True, track__status=TrackStatus.APPROVED)
            .values(
                "track_id",
                "track__title",
                "track__primary_artist_id",
                "track__primary_artist__stage_name",
            )
            .annotate(plays=Count("id"), listeners=Count("listener_key", distinct=True))
            .order_by("-plays", "-listeners", "track_id")[:limit]
        )
        return [
            {
                "rank": rank,
                "track_id": r["track_id"],
                "title": r["track__title"],
                "artist_id": r["track__primary_artist_id"],
                "artist_name": r["track__primary_artist__stage_name"],
                "plays": r["plays"],
                "listeners": r["listeners"],
            }
            for rank, r in enumerate(rows, start=1)
        ]

    key = f"streaming:chart:tracks:{window.period}:{window.first_day}:{country}:{region}:{limit}"
    return _cached(key, compute)


def chart_top_artists(
    *, window: Window, country: str = "", region: str = "", limit: int = 20
) -> list[dict]:
    """Artists ranked by counted plays of the approved tracks they lead."""

    def compute():
        rows = (
            _plays_in(window, country=country, region=region)
            .filter(counted=True, track__status=TrackStatus.APPROVED)
            .values("track__primary_artist_id", "track__primary_artist__stage_name")
            .annotate(
                plays=Count("id"),
                listeners=Count("listener_key", distinct=True),
                tracks=Count("track_id", distinct=True),
            )
            .order_by("-plays", "-listeners", "track__primary_artist_id")[:limit]
        )
        return [
            {
                "rank": rank,
                "artist_id": r["track__primary_artist_id"],
                "artist_name": r["track__primary_artist__stage_name"],
                "plays": r["plays"],
                "listeners": r["listeners"],
                "tracks": r["tracks"],
            }
            for rank, r in enumerate(rows, start=1)
        ]

    key = f"streaming:chart:artists:{window.period}:{window.first_day}:{country}:{region}:{limit}"
    return _cached(key, compute)


_TRACK_NUMBERS = {
    "plays": Count("id", filter=Q(counted=True)),
    "skips": Count("id", filter=Q(outcome=PlayOutcome.SKIPPED)),
    "completions": Count("id", filter=Q(outcome=PlayOutcome.COMPLETED)),
    "replays": Count("id", filter=Q(is_replay=True, counted=True)),
    "listeners": Count("listener_key", distinct=True, filter=Q(counted=True)),
    "seconds": Sum("seconds_listened"),
    "events": Count("id"),
}


def _numbers(row: dict) -> dict:
    return {k: row.get(k) or 0 for k in _TRACK_NUMBERS}


def artist_stats(*, artist_id: int, window: Window, country: str = "", region: str = "") -> dict:
    """An artist's own numbers: totals, per track (listens vs skips vs replays), and per day."""
    plays = _plays_in(window, country=country, region=region).filter(
        track__primary_artist_id=artist_id
    )
    totals = _numbers(plays.aggregate(**_TRACK_NUMBERS))
    per_track = [
        {"track_id": r["track_id"], "title": r["track__title"], **_numbers(r)}
        for r in plays.values("track_id", "track__title")
        .annotate(**_TRACK_NUMBERS)
        .order_by("-plays", "track_id")
    ]
    per_day = {
        r["day"]: _numbers(r)
        for r in plays.annotate(day=TruncDate("started_at", tzinfo=timezone.get_default_timezone()))
        .values("day")
        .annotate(**_TRACK_NUMBERS)
        .order_by("day")
    }
    days = []
    day = window.first_day
    while day <= window.last_day:
        days.append({"date": day, **per_day.get(day, _numbers({}))})
        day += timedelta(days=1)
    likes = TrackLike.objects.filter(
        track__primary_artist_id=artist_id,
        created_at__gte=window.start,
        created_at__lt=window.end,
    ).count()
    return {"totals": {**totals, "likes": likes}, "tracks": per_track, "days": days}


def likes_of(*, user: User) -> QuerySet[TrackLike]:
    return TrackLike.objects.filter(user=user).select_related("track", "track__primary_artist")


def listener_track_signals() -> QuerySet:
    """Per listener and track: plays, skips, replays, completions, seconds — recommender input."""
    return (
        PlayEvent.objects.values("listener_key", "user_id", "track_id")
        .annotate(**_TRACK_NUMBERS)
        .order_by("listener_key", "track_id")
    )
