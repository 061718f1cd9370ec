"""Reads of the analytics rollups, scoped to the requesting user and cached.

Who sees which numbers is decided here, once (as plays_visible_to does for plays):
staff the whole platform; a station account its own station; an artist the tracks it
is the primary or a featured artist on; a publisher the tracks of the artists it
actively represents. A filter naming something outside the scope yields zeros, never
someone else's numbers.

Everything reads the maintained rows (PlayDaily, StationDaily, TrackMonthly, DetectionHealthDaily),
never PlayLog, and results are cached under the version numbers the rollup services
bump on commit (detections.analytics), so a changed play is visible on the next read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from artists.models import Artist, PublisherArtistRelationship, RelationshipStatus
from detections.analytics import VERSION_ALL, month_after, version_key_station
from detections.models import (
    DetectionHealthDaily,
    PlayDaily,
    PlayLog,
    StationDaily,
    TrackMonthly,
)
from stations.models import Station
from stations.selectors import station_ids_for_user
from tracks.models import Track
from users.models import Role, User
from zamio.errors import ValidationFailed

GRANULARITIES = ("day", "week", "month")
SECTIONS = ("series", "top_tracks", "top_artists", "top_stations", "by_region", "by_station_class")


@dataclass(frozen=True)
class RollupQuery:
    date_from: date
    date_to: date
    granularity: str = "day"
    station_id: int | None = None
    track_id: int | None = None
    artist_id: int | None = None
    region: str = ""
    station_class: str = ""
    top: int = 10

    def validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.granularity not in GRANULARITIES:
            errors["granularity"] = [f"One of {', '.join(GRANULARITIES)}."]
        if self.date_to < self.date_from:
            errors["date_to"] = ["Is before date_from."]
        elif (self.date_to - self.date_from).days >= settings.ANALYTICS_MAX_RANGE_DAYS:
            errors["date_to"] = [f"At most {settings.ANALYTICS_MAX_RANGE_DAYS} days per request."]
        if not 1 <= self.top <= 100:
            errors["top"] = ["Between 1 and 100."]
        if errors:
            raise ValidationFailed("Invalid analytics query.", details=errors)


@dataclass(frozen=True)
class Scope:
    name: str  # staff | station | artist | publisher | none
    station_ids: tuple[int, ...] | None = None  # None: not limited by station
    user_id: int | None = None
    track_ids: tuple[int, ...] | None = None  # resolved once per request (artist, publisher)

    @property
    def by_track(self) -> bool:
        return self.name in ("artist", "publisher")


def scope_for(*, user: User) -> Scope:
    if user.role == Role.ADMIN:
        return Scope(name="staff")
    if user.role == Role.STATION:
        return Scope(name="station", station_ids=tuple(station_ids_for_user(user=user)))
    if user.role == Role.ARTIST:
        return Scope(name="artist", user_id=user.pk)
    if user.role == Role.PUBLISHER:
        return Scope(name="publisher", user_id=user.pk)
    return Scope(name="none", station_ids=())


def _scope_track_ids(scope: Scope) -> list[int]:
    return sorted(set(_scope_tracks(scope).values_list("pk", flat=True)))


def _scope_tracks(scope: Scope) -> QuerySet:
    if scope.name == "artist":
        own = Q(primary_artist__user_id=scope.user_id) | Q(featured_artists__user_id=scope.user_id)
        return Track.objects.filter(own).values("pk")
    represented = PublisherArtistRelationship.objects.filter(
        publisher__user_id=scope.user_id, status=RelationshipStatus.ACTIVE
    ).values("artist_id")
    return Track.objects.filter(
        Q(primary_artist_id__in=represented) | Q(featured_artists__in=represented)
    ).values("pk")


def _artist_tracks(artist_id: int) -> QuerySet:
    return Track.objects.filter(
        Q(primary_artist_id=artist_id) | Q(featured_artists__id=artist_id)
    ).values("pk")


def _by_tracks(qs: QuerySet, scope: Scope, q: RollupQuery) -> QuerySet:
    """`qs` limited to the tracks of the scope and the track/artist filters."""
    if scope.track_ids is not None:
        qs = qs.filter(track_id__in=scope.track_ids)
    elif scope.by_track:
        qs = qs.filter(track_id__in=_scope_tracks(scope))
    if q.track_id is not None:
        qs = qs.filter(track_id=q.track_id)
    if q.artist_id is not None:
        qs = qs.filter(track_id__in=_artist_tracks(q.artist_id))
    return qs


def _filtered(model, scope: Scope, q: RollupQuery) -> QuerySet:
    """Rows of `model` (PlayDaily or StationDaily) inside the scope and the filters."""
    qs = model.objects.filter(day__gte=q.date_from, day__lte=q.date_to)
    if scope.station_ids is not None:
        qs = qs.filter(station_id__in=scope.station_ids)
    if q.station_id is not None:
        qs = qs.filter(station_id=q.station_id)
    if q.region:
        qs = qs.filter(station__region=q.region)
    if q.station_class:
        qs = qs.filter(station__station_class=q.station_class)
    return _by_tracks(qs, scope, q).order_by()


def _whole_months(scope: Scope, q: RollupQuery) -> tuple[date, date] | None:
    """[first, end) of the whole calendar months inside the range when TrackMonthly can
    answer for them (every station counts: no station, region or class limit), else None."""
    if scope.station_ids is not None or q.station_id is not None or q.region or q.station_class:
        return None
    first = q.date_from if q.date_from.day == 1 else month_after(q.date_from)
    end = (q.date_to + timedelta(days=1)).replace(day=1)
    return (first, end) if first < end else None


# Summed per track first, then joined to the track for its artist: the join sees one row
# per track, not one per cell.
_TRACK_TOTALS = (
    "SELECT cell.track_id, track.primary_artist_id, cell.plays, cell.airtime_seconds FROM "
    "(SELECT track_id, sum(plays) AS plays, sum(airtime_seconds) AS airtime_seconds "
    "FROM ({cells}) AS cells GROUP BY track_id) AS cell "
    "JOIN tracks_track AS track ON track.id = cell.track_id"
)


def _track_totals(scope: Scope, q: RollupQuery, plays: QuerySet) -> list[tuple]:
    """(track id, primary artist id, plays, airtime) per track with plays in the range.

    Whole months of a platform-wide range come from TrackMonthly (a row per track and
    month) and only the days outside them from PlayDaily (a row per track, station and
    day): a year of the platform is ~100,000 rows instead of ~900,000."""
    months = _whole_months(scope, q)
    columns = ("track_id", "plays", "airtime_seconds")
    parts = [plays.values_list(*columns)]
    if months is not None:
        first, end = months
        parts = [
            _by_tracks(TrackMonthly.objects.filter(month__gte=first, month__lt=end), scope, q)
            .order_by()
            .values_list(*columns),
            plays.exclude(day__gte=first, day__lt=end).values_list(*columns),
        ]
    sql, params = [], []
    for part in parts:
        part_sql, part_params = part.query.sql_with_params()
        sql.append(part_sql)
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(_TRACK_TOTALS.format(cells=" UNION ALL ".join(sql)), params)
        rows = cursor.fetchall()
    if rows and not isinstance(rows[0][3], Decimal):  # SQLite sums decimals as floats
        rows = [(t, a, n, Decimal(str(s)).quantize(Decimal("0.01"))) for t, a, n, s in rows]
    return rows


def _station_level(scope: Scope, q: RollupQuery) -> bool:
    """Whether StationDaily (200x fewer rows) can answer: no track-level scope or filter."""
    return not scope.by_track and q.track_id is None and q.artist_id is None


def _truncated(qs: QuerySet, granularity: str) -> QuerySet:
    if granularity == "week":
        return qs.annotate(period=TruncWeek("day"))
    if granularity == "month":
        return qs.annotate(period=TruncMonth("day"))
    return qs.annotate(period=F("day"))


def _sums() -> dict[str, Any]:
    return {"plays": Sum("plays"), "airtime_seconds": Sum("airtime_seconds")}


def _compute(scope: Scope, q: RollupQuery) -> dict[str, Any]:
    """Three grouped reads of the rollup rows (by period, by track, by station) and two
    small lookups; totals, artists, regions and classes are folded from those in Python,
    so each request scans the rollup rows of its scope three times, not eight."""
    if scope.by_track:
        scope = Scope(
            name=scope.name, user_id=scope.user_id, track_ids=tuple(_scope_track_ids(scope))
        )
    plays = _filtered(PlayDaily, scope, q)
    by_station = _filtered(StationDaily, scope, q) if _station_level(scope, q) else plays
    series = [
        {
            "period": row["period"],
            "plays": row["plays"],
            "airtime_seconds": row["airtime_seconds"],
            "distinct_stations": row["distinct_stations"],
        }
        for row in _truncated(by_station, q.granularity)
        .values("period")
        .annotate(**_sums(), distinct_stations=Count("station_id", distinct=True))
        .order_by("period")
    ]
    zero = Decimal("0.00")
    track_rows = _track_totals(scope, q, plays)
    station_rows = list(by_station.values_list("station_id").annotate(**_sums()).order_by())
    stations = {
        s["pk"]: s
        for s in Station.objects.filter(pk__in=[r[0] for r in station_rows]).values(
            "pk", "name", "region", "station_class"
        )
    }
    track_rows.sort(key=lambda r: (-r[2], -(r[3] or zero), r[0]))
    per_artist: dict[int, list] = {}
    for _track_id, artist_id, n, airtime in track_rows:
        totals = per_artist.setdefault(artist_id, [0, zero])
        totals[0] += n
        totals[1] += airtime or zero
    top_artists = sorted(per_artist.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[: q.top]
    top_track_ids = [r[0] for r in track_rows[: q.top]]
    names = {
        t["pk"]: t
        for t in Track.objects.filter(pk__in=top_track_ids).values(
            "pk", "title", "primary_artist__stage_name"
        )
    }
    artist_names = dict(
        Artist.objects.filter(pk__in=[a for a, _ in top_artists]).values_list("pk", "stage_name")
    )

    def breakdown(key: str) -> list[dict[str, Any]]:
        groups: dict[str, list] = {}
        for station_id, n, airtime in station_rows:
            g = groups.setdefault(stations[station_id][key], [0, zero, 0])
            g[0] += n
            g[1] += airtime or zero
            g[2] += 1
        rows = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [{key: k, "plays": n, "airtime_seconds": a, "stations": c} for k, (n, a, c) in rows]

    station_rows.sort(key=lambda r: (-r[1], -(r[2] or zero), r[0]))
    return {
        "scope": scope.name,
        "granularity": q.granularity,
        "date_from": q.date_from,
        "date_to": q.date_to,
        "totals": {
            "plays": sum(r[1] for r in station_rows),
            "airtime_seconds": sum((r[2] or zero for r in station_rows), zero),
            "distinct_stations": len(station_rows),
            "distinct_tracks": len(track_rows),
        },
        "series": series,
        "top_tracks": [
            {
                "track_id": track_id,
                "title": names[track_id]["title"],
                "artist": names[track_id]["primary_artist__stage_name"],
                "plays": n,
                "airtime_seconds": airtime or zero,
            }
            for track_id, _artist_id, n, airtime in track_rows[: q.top]
        ],
        "top_artists": [
            {
                "artist_id": artist_id,
                "stage_name": artist_names[artist_id],
                "plays": n,
                "airtime_seconds": airtime,
            }
            for artist_id, (n, airtime) in top_artists
        ],
        "top_stations": [
            {
                "station_id": station_id,
                "name": stations[station_id]["name"],
                "region": stations[station_id]["region"],
                "station_class": stations[station_id]["station_class"],
                "plays": n,
                "airtime_seconds": airtime or zero,
            }
            for station_id, n, airtime in station_rows[: q.top]
        ],
        "by_region": breakdown("region"),
        "by_station_class": breakdown("station_class"),
    }


def _version(key: str) -> int:
    value = cache.get(key)
    if value is None:
        cache.add(key, 1, timeout=None)
        value = cache.get(key) or 1
    return int(value)


def _cache_key(scope: Scope, q: RollupQuery, kind: str) -> str:
    if scope.name == "station":
        versions = [_version(version_key_station(s)) for s in scope.station_ids or ()]
    else:
        versions = [_version(VERSION_ALL)]
    raw = json.dumps(
        [kind, scope.name, scope.station_ids, scope.user_id, q.__dict__, versions],
        cls=DjangoJSONEncoder,
        sort_keys=True,
    )
    return f"analytics:{kind}:{hashlib.sha256(raw.encode()).hexdigest()}"


def _cached(key: str, compute) -> dict[str, Any]:
    seconds = settings.ANALYTICS_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    result = cache.get(key)
    if result is None:
        result = compute()
        cache.set(key, result, timeout=seconds)
    return result


def play_rollup(*, user: User, query: RollupQuery) -> dict[str, Any]:
    """Plays, airtime and distinct stations per day/week/month, with totals, top tracks,
    top artists, top stations and breakdowns by region and station class, for what the
    user may see (cached; invalidated when a play in it changes)."""
    query.validate()
    scope = scope_for(user=user)
    return _cached(_cache_key(scope, query, "rollup"), lambda: _compute(scope, query))


def detection_health(
    *, date_from: date, date_to: date, granularity: str = "day", station_id: int | None = None
) -> dict[str, Any]:
    """Staff's view of detection: windows analysed, match rate, low-confidence share and
    failures per period (from DetectionHealthDaily), plays waiting for review and the
    streams down now."""
    RollupQuery(date_from=date_from, date_to=date_to, granularity=granularity).validate()
    from stream_capture.selectors import streams_down

    def compute() -> dict[str, Any]:
        qs = DetectionHealthDaily.objects.filter(day__gte=date_from, day__lte=date_to)
        if station_id is not None:
            qs = qs.filter(station_id=station_id)
        series = []
        for row in (
            _truncated(qs.order_by(), granularity)
            .values("period")
            .annotate(
                windows=Sum("windows"),
                matched=Sum("matched"),
                low_confidence=Sum("low_confidence"),
                failed=Sum("failed"),
                stations=Count("station_id", distinct=True),
            )
            .order_by("period")
        ):
            series.append({**row, **_rates(row)})
        totals = qs.aggregate(
            windows=Sum("windows"),
            matched=Sum("matched"),
            low_confidence=Sum("low_confidence"),
            failed=Sum("failed"),
        )
        totals = {k: v or 0 for k, v in totals.items()}
        pending = PlayLog.objects.filter(verification_status="pending_review")
        if station_id is not None:
            pending = pending.filter(station_id=station_id)
        down = streams_down()
        if station_id is not None:
            down = down.filter(link__station_id=station_id)
        return {
            "granularity": granularity,
            "date_from": date_from,
            "date_to": date_to,
            "totals": {**totals, **_rates(totals)},
            "series": series,
            "plays_pending_review": pending.count(),
            "streams_down": down.filter(link__enabled=True).count(),
        }

    key = hashlib.sha256(
        json.dumps(
            [date_from, date_to, granularity, station_id, _version(VERSION_ALL)],
            cls=DjangoJSONEncoder,
        ).encode()
    ).hexdigest()
    # Short-lived whatever the setting: "streams down" is a live number.
    seconds = min(settings.ANALYTICS_CACHE_SECONDS, 60)
    result = cache.get(f"analytics:health:{key}") if seconds > 0 else None
    if result is None:
        result = compute()
        if seconds > 0:
            cache.set(f"analytics:health:{key}", result, timeout=seconds)
    return result


def _rates(row: dict[str, Any]) -> dict[str, float | None]:
    windows, matched = row["windows"] or 0, row["matched"] or 0
    return {
        "match_rate": round(matched / windows, 4) if windows else None,
        "low_confidence_share": round((row["low_confidence"] or 0) / matched, 4)
        if matched
        else None,
    }


def airplay_of_day(*, user: User, day: date) -> list[dict[str, Any]]:
    """What the user's digest lists: plays per track and station on `day`, most first."""
    scope = scope_for(user=user)
    q = RollupQuery(date_from=day, date_to=day)
    rows = (
        _filtered(PlayDaily, scope, q)
        .values("track__title", "station__name")
        .annotate(plays=Sum("plays"))
        .filter(plays__gt=0)
        .order_by("-plays", "track__title", "station__name")
    )
    return [
        {"track_title": r["track__title"], "station_name": r["station__name"], "plays": r["plays"]}
        for r in rows
    ]


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=29), today
