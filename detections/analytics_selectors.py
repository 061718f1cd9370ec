"""Reads of the analytics rollups, scoped to the requesting user and cached.

Who sees which numbers is decided here, once (as plays_visible_to does for plays):
staff the whole platform; a station account its own station; an artist the tracks it
is the primary or a featured artist on; a publisher the tracks of the artists it
actively represents. A filter naming something outside the scope yields zeros, never
someone else's numbers.

Everything reads the maintained rows (PlayDaily, StationDaily, their month summaries,
DetectionHealthDaily), never PlayLog, and results are cached under the version numbers the
rollup services bump on commit (detections.analytics), so a changed play is visible on the
next read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone

from artists.models import Artist
from detections.analytics import (
    VERSION_ALL,
    VERSION_REBUILD,
    area_months_current,
    day_after,
    health_period_after,
    health_period_start,
    month_after,
    version_key_station,
    week_after,
    week_of,
    year_after,
)
from detections.models import (
    ArtistAreaMonthly,
    ArtistAreaYearly,
    ArtistDaily,
    ArtistMonthly,
    ArtistYearly,
    DetectionHealthDaily,
    DetectionHealthPeriod,
    PlayDaily,
    ReviewBacklog,
    StationArea,
    StationDaily,
    StationMonthly,
    StationWeekly,
    TrackAreaMonthly,
    TrackAreaSpan,
    TrackAreaYearly,
    TrackDaily,
    TrackMonthly,
    TrackSpan,
    TrackYearly,
)
from detections.selectors import artist_track_ids, own_track_ids
from stations.selectors import station_ids_for_user
from tracks.models import Track
from users.models import Role, User
from zamio import statements
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
        elif self.date_to.year >= 9999:  # a summary period ending after it has no date
            errors["date_to"] = ["Before the year 9999."]
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


def _by_tracks(qs: QuerySet, scope: Scope, q: RollupQuery) -> QuerySet:
    """`qs` limited to the tracks of the scope and the track/artist filters."""
    if scope.track_ids is not None:
        qs = qs.filter(track_id__any=scope.track_ids)
    elif scope.by_track:
        qs = qs.filter(track_id__any=own_track_ids(user_id=scope.user_id, role=scope.name))
    if q.track_id is not None:
        qs = qs.filter(track_id=q.track_id)
    if q.artist_id is not None:
        qs = qs.filter(track_id__in=artist_track_ids([q.artist_id]))
    return qs


def _by_stations(qs: QuerySet, scope: Scope, q: RollupQuery) -> QuerySet:
    """`qs` (rows with a station) limited to the stations of the scope and the filters."""
    if scope.station_ids is not None:
        qs = qs.filter(station_id__in=scope.station_ids)
    if q.station_id is not None:
        qs = qs.filter(station_id=q.station_id)
    if q.region:
        qs = qs.filter(station__region=q.region)
    if q.station_class:
        qs = qs.filter(station__station_class=q.station_class)
    return qs


def _filtered(model, scope: Scope, q: RollupQuery) -> QuerySet:
    """Rows of `model` (PlayDaily or StationDaily) inside the scope and the filters."""
    qs = model.objects.filter(day__gte=q.date_from, day__lte=q.date_to)
    return _by_tracks(_by_stations(qs, scope, q), scope, q).order_by()


@dataclass
class _Cover:
    """The range as summary periods: [first, end) runs of the whole periods of the kinds
    asked for (years, months or weeks) and of the days left over (each kind at most two
    runs, one at each end of the range)."""

    years: list[tuple[date, date]] = field(default_factory=list)
    months: list[tuple[date, date]] = field(default_factory=list)
    weeks: list[tuple[date, date]] = field(default_factory=list)
    days: list[tuple[date, date]] = field(default_factory=list)

    def whole(self, kind: str) -> list[tuple[date, date]]:
        """The runs of whole periods of a kind ("year", "month" or "week")."""
        return {"year": self.years, "month": self.months, "week": self.weeks}[kind]


# Per kind of period: the first day of the period a day is in, and of the next period.
_PERIOD_OF_DAY: dict[str, tuple[Callable[[date], date], Callable[[date], date]]] = {
    "year": (lambda day: date(day.year, 1, 1), year_after),
    "month": (lambda day: day.replace(day=1), month_after),
    "week": (week_of, week_after),
}


def _runs_add(runs: list[tuple[date, date]], first: date, end: date) -> None:
    if runs and runs[-1][1] == first:
        runs[-1] = (runs[-1][0], end)
    else:
        runs.append((first, end))


class _DataDays:
    """The first and last day with plays, read once per answer when first needed: the
    ends of the StationDaily day index (every counted play has its station-day row)."""

    def __init__(self) -> None:
        self._bounds: tuple[date | None, date | None] | None = None

    def __call__(self) -> tuple[date | None, date | None]:
        if self._bounds is None:
            ((first, last),) = statements.rows(_data_days_sql(), [])
            self._bounds = (first and _day(first), last and _day(last))
        return self._bounds


@functools.cache
def _data_days_sql() -> str:
    # Written out: every rollup asks, and the ORM built the aggregate anew each time.
    day = statements.column(StationDaily, "day")
    return f"SELECT min({day}), max({day}) FROM {statements.table(StationDaily)}"  # noqa: S608


def _cover(q: RollupQuery, data_days: _DataDays, *, kinds: tuple[str, ...]) -> _Cover:
    """Which summary rows of the `kinds` of period (largest first) answer the range exactly.

    A period answers when all its days are in the range, or when the days it has outside
    the range have no plays: before the first day with plays and after the last. So a
    range up to today reads this week, this month and this year so far from their rows,
    which hold nothing later, and the last 12 months are the year so far, the whole
    months before it and the days before those."""
    first_day, last_day = data_days()
    lo, hi = q.date_from, q.date_to
    if first_day is not None and q.date_from <= first_day:
        lo = date.min
    if last_day is not None and q.date_to >= last_day:
        hi = date.max
    cover = _Cover()
    day = q.date_from
    while day <= q.date_to:
        for kind in kinds:  # the same answer for every day of a period: whole or not
            start_of, after = _PERIOD_OF_DAY[kind]
            first, end = start_of(day), after(day)
            if lo <= first and end - timedelta(days=1) <= hi:
                _runs_add(cover.whole(kind), first, end)
                break
        else:  # the days up to the end of the smallest period
            _runs_add(cover.days, day, min(end, q.date_to + timedelta(days=1)))
        day = end
    return cover


# Per track, then per artist, both ranked in the database: only the top rows (with their
# names) and the number of tracks come back, not a row per track (10,000 for the platform).
_TRACKS_AND_ARTISTS = (
    "WITH per_track AS (SELECT track_id, sum(plays) AS plays, sum(airtime_seconds) AS airtime "
    "FROM ({cells}) AS cells GROUP BY track_id), "
    "per_artist AS (SELECT artist_id, sum(plays) AS plays, sum(airtime) AS airtime "
    "FROM ({artist_of_track}) AS by_track GROUP BY artist_id) "
    "SELECT 'track', top.track_id, top.plays, top.airtime, track.title, artist.stage_name "
    "FROM (SELECT track_id, plays, airtime FROM per_track "
    "ORDER BY plays DESC, airtime DESC, track_id LIMIT %s) AS top "
    "JOIN tracks_track AS track ON track.id = top.track_id "
    "JOIN artists_artist AS artist ON artist.id = track.primary_artist_id "
    "UNION ALL "
    "SELECT 'artist', top.artist_id, top.plays, top.airtime, NULL, artist.stage_name "
    "FROM (SELECT artist_id, plays, airtime FROM per_artist "
    "ORDER BY plays DESC, airtime DESC, artist_id LIMIT %s) AS top "
    "JOIN artists_artist AS artist ON artist.id = top.artist_id "
    "UNION ALL "
    "SELECT 'tracks', count(*), NULL, NULL, NULL, NULL FROM per_track"
)
# Each per_track row with its track's artist. A platform-wide answer has most of the
# 10,000 tracks: one hash of the tracks table. A station's, an artist's or a publisher's
# has tens or hundreds, and the planner still hashed all 10,000 (3 ms of a 4 ms answer):
# there each track is looked up by its key (a subquery per row, never turned into a join).
_ARTIST_BY_HASH = (
    "SELECT track.primary_artist_id AS artist_id, t.plays, t.airtime FROM per_track AS t "
    "JOIN tracks_track AS track ON track.id = t.track_id"
)
_ARTIST_BY_KEY = (
    "SELECT (SELECT primary_artist_id FROM tracks_track WHERE tracks_track.id = t.track_id) "
    "AS artist_id, t.plays, t.airtime FROM per_track AS t"
)
# Cells of one period and station, folded per period (the series, its distinct stations),
# and (station, plays, airtime) rows (those cells, or fewer from the month summaries)
# folded per station (top stations, regions, classes) with the station's facts.
_PERIODS_AND_STATIONS = (
    "WITH cells AS ({cells}) "
    "SELECT 'period', period, NULL, sum(plays), sum(airtime_seconds), count(*), "
    "NULL, NULL, NULL FROM cells GROUP BY period "
    "UNION ALL "
    "SELECT 'station', NULL, station.id, x.plays, x.airtime, NULL, station.name, "
    "station.region, station.station_class FROM (SELECT station_id, sum(plays) AS plays, "
    "sum(airtime_seconds) AS airtime FROM ({stations}) AS by_station GROUP BY station_id) AS x "
    "JOIN stations_station AS station ON station.id = x.station_id"
)
_STATIONS_OF_CELLS = "SELECT station_id, plays, airtime_seconds FROM cells"
# The number of tracks among (track id) cells.
_DISTINCT_TRACKS = "SELECT count(DISTINCT track_id) FROM ({cells}) AS cells"


def _areas(area: dict[str, str]) -> list[tuple[str, str]]:
    """The (region, class) pairs the area summaries count stations under that match the
    region and class filters `area`."""
    return list(
        StationArea.objects.filter(**area)
        .order_by("region", "station_class")
        .values_list("region", "station_class")
        .distinct()
    )


@dataclass(frozen=True)
class _Head:
    """The `read` most played rows of one period (and area) of a summary, through its
    index that lists them most played first: (key, plays) rows."""

    table: str
    key: str
    where: str  # the period (and area) as SQL with a placeholder per parameter
    params: tuple

    def statement(self, read: int) -> tuple[str, list]:
        sql = (
            f"SELECT {self.key}, plays FROM {self.table} "  # noqa: S608
            f"WHERE {self.where} ORDER BY plays DESC LIMIT {read}"
        )
        return sql, list(self.params)


@dataclass(frozen=True)
class _Folded:
    """The `read` most played keys of day rows folded per key (the days of a range
    outside its whole months, in a region or class: no summary lists those)."""

    sql: str  # (key, plays) rows, one per key
    params: tuple

    def statement(self, read: int) -> tuple[str, list]:
        return f"{self.sql} ORDER BY 2 DESC LIMIT {read}", list(self.params)


@dataclass(frozen=True)
class _Plan:
    """What one top list (tracks or artists) is ranked from: the heads read first, and
    the rows of the range's periods for given keys."""

    kind: str
    heads: list[_Head | _Folded]
    exact: Callable[[list[int]], list[QuerySet]]


@dataclass(frozen=True)
class _Ranking:
    """A platform-wide top list read from a summary of years, months and days (tracks or
    artists), each with an index that lists a period's rows most played first."""

    kind: str
    key: str
    by_period: dict[str, Any]  # "year" | "month" | "day" -> model

    def parts(self, cover: _Cover, keys: list[int]) -> list[QuerySet]:
        """Rows of `keys` in the periods of the cover."""
        runs = (("year", cover.years), ("month", cover.months), ("day", cover.days))
        return [
            self.by_period[period]
            .objects.filter(
                **{f"{period}__gte": first, f"{period}__lt": end, f"{self.key}__any": keys}
            )
            .order_by()
            .values_list(self.key, "plays", "airtime_seconds")
            for period, spans in runs
            for first, end in spans
        ]

    def plan(self, cover: _Cover) -> _Plan:
        heads: list[_Head | _Folded] = [
            _Head(self.by_period[period]._meta.db_table, self.key, f"{period} = %s", (start,))
            for period, start in _periods(cover)
        ]
        return _Plan(self.kind, heads, functools.partial(self.parts, cover))


# PlayDaily rows folded per track, or per its artist (looked up by key: a region's days
# have a few hundred tracks of the 10,000).
_DAYS_BY_TRACK = "SELECT d.track_id, sum(d.plays) FROM ({days}) AS d GROUP BY d.track_id"
_DAYS_BY_ARTIST = (
    "SELECT (SELECT primary_artist_id FROM tracks_track WHERE tracks_track.id = t.track_id), "
    "sum(t.plays) FROM (SELECT d.track_id, sum(d.plays) AS plays FROM ({days}) AS d "
    "GROUP BY d.track_id) AS t GROUP BY 1"
)


def _area_periods(cover: _Cover, areas: list[tuple[str, str]]):
    """Each whole year and month of the cover in each area: (period, first day, region,
    class)."""
    for period, start in _periods(cover):
        if period != "day":  # the days outside whole periods: PlayDaily
            for region, station_class in areas:
                yield period, start, region, station_class


@dataclass(frozen=True)
class _AreaRanking:
    """A region's or class's top list: whole years and months from an area summary (a
    row per key, period, region and class, listed most played first per period and
    area), the days left over from PlayDaily."""

    kind: str
    key: str
    by_period: dict[str, Any]  # "year" | "month" -> model
    of_day: str  # the key of a PlayDaily row: "track_id", or its track's artist
    folded: str  # _DAYS_BY_TRACK or _DAYS_BY_ARTIST

    def parts(
        self, cover: _Cover, areas: list[tuple[str, str]], days: QuerySet, keys: list[int]
    ) -> list[QuerySet]:
        """Rows of `keys` in the areas and periods of the cover (`days`: PlayDaily in
        the region and class filters). One period each: the keys are then looked up in
        the summary's unique index, not filtered from every row of a run."""
        return [
            *(
                self.by_period[period]
                .objects.filter(
                    region=region,
                    station_class=station_class,
                    **{period: start, f"{self.key}__any": keys},
                )
                .order_by()
                .values_list(self.key, "plays", "airtime_seconds")
                for period, start, region, station_class in _area_periods(cover, areas)
            ),
            *(
                days.filter(
                    day__gte=first, day__lt=end, **{f"{self.of_day}__any": keys}
                ).values_list(self.of_day, "plays", "airtime_seconds")
                for first, end in cover.days
            ),
        ]

    def plan(self, cover: _Cover, areas: list[tuple[str, str]], days: QuerySet) -> _Plan:
        heads: list[_Head | _Folded] = [
            _Head(
                self.by_period[period]._meta.db_table,
                self.key,
                f"{period} = %s AND region = %s AND station_class = %s",
                (start, region, station_class),
            )
            for period, start, region, station_class in _area_periods(cover, areas)
        ]
        for first, end in cover.days:
            sql, params = (
                days.filter(day__gte=first, day__lt=end)
                .values_list("track_id", "plays")
                .query.sql_with_params()
            )
            heads.append(_Folded(self.folded.format(days=sql), tuple(params)))
        return _Plan(self.kind, heads, functools.partial(self.parts, cover, areas, days))


_TRACK_RANKING = _Ranking(
    "track", "track_id", {"year": TrackYearly, "month": TrackMonthly, "day": TrackDaily}
)
_ARTIST_RANKING = _Ranking(
    "artist", "artist_id", {"year": ArtistYearly, "month": ArtistMonthly, "day": ArtistDaily}
)
_AREA_TRACK_RANKING = _AreaRanking(
    "track",
    "track_id",
    {"year": TrackAreaYearly, "month": TrackAreaMonthly},
    "track_id",
    _DAYS_BY_TRACK,
)
_AREA_ARTIST_RANKING = _AreaRanking(
    "artist",
    "artist_id",
    {"year": ArtistAreaYearly, "month": ArtistAreaMonthly},
    "track__primary_artist_id",
    _DAYS_BY_ARTIST,
)
# Rows read per period: four times the top asked for, and at least this many.
_RANKED_READ_MIN = 40
# A ranking of more heads (periods, or periods × areas) than this (a year of days) is
# ranked by folding all its rows.
_RANKED_HEADS_MAX = 64
# Candidates whose exact totals are read, at most; past it the bound is too loose.
_RANKED_CANDIDATES_MAX = 2000


def _periods(cover: _Cover) -> list[tuple[str, date]]:
    """Each year, month and day of the cover as (period, its first day)."""
    found = []
    for period, spans, after in (
        ("year", cover.years, year_after),
        ("month", cover.months, month_after),
        ("day", cover.days, day_after),
    ):
        for first, end in spans:
            start = first
            while start < end:
                found.append((period, start))
                start = after(start)
    return found


def _ranked_tops(
    plans: tuple[_Plan, ...], top: int
) -> dict[str, list[tuple[int, int, Decimal]] | None]:
    """The `top` (key, plays, airtime) of each plan over its range, most played first
    (ties: more airtime, then the lower key), or None where the bound below cannot prove
    them (the caller then folds every row).

    Without folding every row of the range: each head's `read` most played rows come
    first from its index; a key not among them has at most as many plays there as the
    last one read (0 when the head had fewer rows). A key read nowhere has at most the
    sum of those, the bound. Keys that could still reach the top (what they were read
    with plus the bound of the heads they were not read in, against the top-th most
    read) get their exact totals; the answer is proven when the last of the top has more
    plays than the bound. Zipf-like airplay proves it with ~40 rows per period where a
    month of the platform has 8,000."""
    if any(len(plan.heads) > _RANKED_HEADS_MAX for plan in plans):
        return {plan.kind: None for plan in plans}
    read = max(4 * top, _RANKED_READ_MIN)
    selects, params = [], []
    for r_index, plan in enumerate(plans):
        for h_index, head in enumerate(plan.heads):
            sql, head_params = head.statement(read)
            selects.append(f"SELECT {r_index}, {h_index}, h.* FROM ({sql}) AS h")  # noqa: S608
            params += head_params
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        rows = cursor.fetchall()
    # Per plan: per head the plays read, and per key its plays read and the bounds of
    # the heads it was read in.
    found: list[list[list[tuple[int, int]]]] = [[[] for _h in plan.heads] for plan in plans]
    for r_index, h_index, key, plays in rows:
        found[r_index][h_index].append((key, _plays(plays)))
    answers: dict[str, list[tuple[int, int, Decimal]] | None] = {}
    exact_parts: list[tuple[_Plan, list[QuerySet], int]] = []
    for plan, per_head in zip(plans, found, strict=True):
        limits = [min(p for _k, p in cells) if len(cells) == read else 0 for cells in per_head]
        bound = sum(limits)
        seen: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # key -> [plays, limits]
        for cells, limit in zip(per_head, limits, strict=True):
            for key, plays in cells:
                seen[key][0] += plays
                seen[key][1] += limit
        lower = sorted((p for p, _l in seen.values()), reverse=True)
        least = lower[top - 1] if len(lower) >= top else 0
        candidates = sorted(k for k, (p, lim) in seen.items() if p + bound - lim >= least)
        if bound and (len(candidates) > _RANKED_CANDIDATES_MAX or len(lower) < top):
            answers[plan.kind] = None
            continue
        exact_parts.append((plan, plan.exact(candidates), bound))
    if exact_parts:
        # Each plan's rows under one name and column names (the parts name their key
        # column differently), then folded per key.
        ctes, selects, params = [], [], []
        for r_index, (_plan, parts, _bound) in enumerate(exact_parts):
            cells, cell_params = _cells_sql(parts)
            ctes.append(f"cells{r_index} (key, plays, airtime) AS ({cells})")
            selects.append(
                f"SELECT {r_index}, key, sum(plays), sum(airtime) "  # noqa: S608
                f"FROM cells{r_index} GROUP BY key"
            )
            params += cell_params
        totals: list[list[tuple[int, int, Decimal]]] = [[] for _e in exact_parts]
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}", params)
            for r_index, key, plays, airtime in cursor.fetchall():
                totals[r_index].append((key, _plays(plays), _airtime(airtime)))
        for (plan, _parts, bound), exact in zip(exact_parts, totals, strict=True):
            exact.sort(key=lambda row: (-row[1], -row[2], row[0]))
            best = exact[:top]
            proven = not bound or (len(best) == top and best[-1][1] > bound)
            answers[plan.kind] = best if proven else None
    return answers


def _tracks_heard(
    q: RollupQuery, data_days: _DataDays, areas: list[tuple[str, str]] | None = None
) -> int | None:
    """How many tracks have plays in the range (on the stations of `areas`, (region,
    class) pairs, if given), from TrackSpan (TrackAreaSpan) when the range runs past the
    last day with plays (or starts before the first); None otherwise."""
    first, last = data_days()
    if first is None:
        return 0
    if q.date_to >= last:
        field, operator, day = "last_day", ">=", q.date_from
    elif q.date_from <= first:
        field, operator, day = "first_day", "<=", q.date_to
    else:
        return None
    if areas is None:
        return statements.rows(_tracks_heard_sql(field, operator), [day])[0][0]
    params = [value for region, cls in areas for value in (region, cls, day)]
    return statements.rows(_area_tracks_heard_sql(field, operator, len(areas)), params)[0][0]


@functools.cache
def _tracks_heard_sql(field: str, operator: str) -> str:
    # Written out: the ORM built the count anew for every platform rollup.
    where = f"{statements.column(TrackSpan, field)} {operator} %s"
    return f"SELECT count(*) FROM {statements.table(TrackSpan)} WHERE {where}"  # noqa: S608


@functools.cache
def _area_tracks_heard_sql(field: str, operator: str, areas: int) -> str:
    """The count over `areas` (region, class) pairs, each an index range of its own; one
    area's tracks are distinct already."""
    table = statements.table(TrackAreaSpan)
    where = f"region = %s AND station_class = %s AND {field} {operator} %s"
    if areas == 1:
        return f"SELECT count(*) FROM {table} WHERE {where}"  # noqa: S608
    each = " UNION ALL ".join([f"SELECT track_id FROM {table} WHERE {where}"] * areas)  # noqa: S608
    return f"SELECT count(*) FROM (SELECT DISTINCT track_id FROM ({each}) AS a) AS heard"  # noqa: S608


def _cells_sql(parts: list[QuerySet]) -> tuple[str, list]:
    sql, params = [], []
    for part in parts:
        part_sql, part_params = part.query.sql_with_params()
        sql.append(part_sql)
        params.extend(part_params)
    return " UNION ALL ".join(sql), params


def _fetch(template: str, parts: list[QuerySet], *extra, **fragments: str) -> list[tuple]:
    cells, params = _cells_sql(parts)
    with connection.cursor() as cursor:
        cursor.execute(template.format(cells=cells, **fragments), [*params, *extra])
        return cursor.fetchall()


_CENT = Decimal("0.01")


def _plays(value) -> int:
    return int(value or 0)  # PostgreSQL sums integers as numeric


def _airtime(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value or 0)).quantize(_CENT)  # SQLite sums decimals as floats


def _day(value) -> date:
    if isinstance(value, datetime):
        return value.date()  # PostgreSQL truncates a date to a (UTC midnight) timestamp
    if isinstance(value, str):
        return date.fromisoformat(value[:10])  # SQLite's date functions answer in text
    return value


def _track_summaries(scope: Scope, q: RollupQuery) -> tuple[QuerySet, QuerySet] | None:
    """The year and month summary rows answering for the tracks of whole years and months,
    or None when none can (a station's scope or filter: PlayDaily answers)."""
    if scope.station_ids is not None or q.station_id is not None:
        return None
    if not q.region and not q.station_class:
        return TrackYearly.objects.all(), TrackMonthly.objects.all()
    if not area_months_current():
        return None  # a station changed region or class: its plays are not yet moved
    return _area_summaries(_area_of(q))


def _area_of(q: RollupQuery) -> dict[str, str]:
    """The region and class filters of the query, as columns of the area summaries."""
    area = {}
    if q.region:
        area["region"] = q.region
    if q.station_class:
        area["station_class"] = q.station_class
    return area


def _area_summaries(area: dict[str, str]) -> tuple[QuerySet, QuerySet]:
    return TrackAreaYearly.objects.filter(**area), TrackAreaMonthly.objects.filter(**area)


def _track_parts(
    scope: Scope,
    q: RollupQuery,
    plays: QuerySet,
    data_days: _DataDays,
    *,
    columns: tuple[str, ...] = ("track_id", "plays", "airtime_seconds"),
    summaries: tuple[QuerySet, QuerySet] | None = None,
) -> list[QuerySet]:
    """(track id, plays, airtime) cells with plays in the range (see `_cover`).

    Without a station, region or class limit, whole years come from TrackYearly (a row per
    track and year), whole months from TrackMonthly (a row per track and month) and the
    days left from TrackDaily (a row per track and day): the last 12 months of the
    platform are ~28,000 rows instead of ~900,000 in PlayDaily. With a region or class
    filter, whole years and months come from TrackAreaYearly and TrackAreaMonthly (a row
    per track, year or month, region and class) and the days from PlayDaily (a row per
    track, station and day): the last 12 months of one region are ~12,700 rows instead of
    ~90,000."""
    platform = (
        scope.station_ids is None and q.station_id is None and not q.region and not q.station_class
    )
    if platform:
        days = TrackDaily.objects.filter(day__gte=q.date_from, day__lte=q.date_to)
        plays = _by_tracks(days, scope, q).order_by()
    if summaries is None:  # (given by a caller that checked the areas already)
        summaries = _track_summaries(scope, q)
    if summaries is None:
        return [plays.values_list(*columns)]
    years, months = summaries
    cover = _cover(q, data_days, kinds=("year", "month"))
    parts = [years.filter(year__gte=first, year__lt=end) for first, end in cover.years]
    parts += [months.filter(month__gte=first, month__lt=end) for first, end in cover.months]
    return [
        *(_by_tracks(part, scope, q).order_by().values_list(*columns) for part in parts),
        *(
            plays.filter(day__gte=first, day__lt=end).values_list(*columns)
            for first, end in cover.days
        ),
    ]


def _period_station_parts(
    scope: Scope, q: RollupQuery, by_station: QuerySet, data_days: _DataDays
) -> list[QuerySet]:
    """(period, station, plays, airtime) cells of the range.

    By month, the whole months (see `_cover`) come from StationMonthly (200 rows a month)
    and only the days left from StationDaily (200 rows a day): a year is ~8,000 rows
    instead of 73,000. By week, whole weeks come from StationWeekly the same way: the
    last 90 days are ~3,000 rows instead of 18,000."""
    if q.granularity == "day" and _station_level(scope, q):
        # StationDaily has one row per station and day already: nothing to fold.
        return [
            by_station.annotate(period=F("day"))
            .values("period", "station_id", "plays", "airtime_seconds")
            .order_by()
        ]
    if not _station_level(scope, q):
        parts = [by_station]
    else:
        parts = _summary_and_days(q.granularity, scope, q, by_station, data_days)
    return [
        (
            part.annotate(period=F(q.granularity))
            if part.model is _STATION_SUMMARIES.get(q.granularity)
            else _truncated(part, q.granularity)
        )
        .values("period", "station_id")
        .annotate(**_sums())
        .order_by()
        for part in parts
    ]


def _station_parts(
    scope: Scope, q: RollupQuery, by_station: QuerySet, data_days: _DataDays
) -> list[QuerySet] | None:
    """(station, plays, airtime) rows for the stations' totals over the range by day or
    week: whole months from StationMonthly and the days left from StationDaily (the last
    90 days: 2,200 rows instead of 18,000), or None where the period cells are as few
    (by month, or no whole month) or PlayDaily answers."""
    if q.granularity == "month" or not _station_level(scope, q):
        return None
    cover = _cover(q, data_days, kinds=("month",))
    if not cover.months:
        return None
    return [
        part.values_list("station_id", "plays", "airtime_seconds")
        for part in _summary_and_days("month", scope, q, by_station, data_days, cover=cover)
    ]


# The station summary of each kind of period, StationDaily summed over it.
_STATION_SUMMARIES = {"month": StationMonthly, "week": StationWeekly}


def _summary_and_days(
    period: str,
    scope: Scope,
    q: RollupQuery,
    by_station: QuerySet,
    data_days: _DataDays,
    *,
    cover: _Cover | None = None,
) -> list[QuerySet]:
    """Rows of the station summary of `period` ("month" or "week") for the range's whole
    periods (`_cover`, unless given), in the scope and filters, and `by_station`
    (StationDaily) rows of the days left over."""
    if cover is None:
        cover = _cover(q, data_days, kinds=(period,))
    rows = _STATION_SUMMARIES[period].objects
    return [
        *(
            _by_stations(
                rows.filter(**{f"{period}__gte": first, f"{period}__lt": end}), scope, q
            ).order_by()
            for first, end in cover.whole(period)
        ),
        *(by_station.filter(day__gte=first, day__lt=end) for first, end in cover.days),
    ]


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


_Tops = tuple[list[dict[str, Any]], list[dict[str, Any]], int]


def _tops_folded(scope: Scope, q: RollupQuery, plays: QuerySet, data_days: _DataDays) -> _Tops:
    """Top tracks, top artists and the number of tracks, folding every track's rows of
    the range in the database."""
    top_tracks, top_artists, distinct_tracks = [], [], 0
    artist_of_track = _ARTIST_BY_HASH if scope.name == "staff" else _ARTIST_BY_KEY
    for kind, pk, n, airtime, title, stage_name in _fetch(
        _TRACKS_AND_ARTISTS,
        _track_parts(scope, q, plays, data_days),
        q.top,
        q.top,
        artist_of_track=artist_of_track,
    ):
        if kind == "tracks":
            distinct_tracks = pk
        elif kind == "track":
            top_tracks.append(
                {
                    "track_id": pk,
                    "title": title,
                    "artist": stage_name,
                    "plays": _plays(n),
                    "airtime_seconds": _airtime(airtime),
                }
            )
        else:
            top_artists.append(
                {
                    "artist_id": pk,
                    "stage_name": stage_name,
                    "plays": _plays(n),
                    "airtime_seconds": _airtime(airtime),
                }
            )
    top_tracks.sort(key=lambda r: (-r["plays"], -r["airtime_seconds"], r["track_id"]))
    top_artists.sort(key=lambda r: (-r["plays"], -r["airtime_seconds"], r["artist_id"]))
    return top_tracks, top_artists, distinct_tracks


def _tops_ranked(
    scope: Scope, q: RollupQuery, plays: QuerySet, data_days: _DataDays
) -> _Tops | None:
    """The same for the whole platform, a region or a class: from a few rows per period
    (`_ranked_tops`), and the number of tracks from TrackSpan or TrackAreaSpan (or, for
    a region's or class's range inside the plays, its track rows); None for a narrower
    scope or filter, or when the bound proves nothing."""
    narrowed = (
        scope.station_ids is not None
        or scope.by_track
        or q.station_id is not None
        or q.track_id is not None
        or q.artist_id is not None
    )
    if narrowed:
        return None
    cover = _cover(q, data_days, kinds=("year", "month"))
    if q.region or q.station_class:
        if not cover.years and not cover.months:
            return None  # days only: folding them is one read, ranking them three
        if not area_months_current():
            return None  # a station changed region or class: its plays are not yet moved
        area = _area_of(q)
        areas = _areas(area)
        if not areas:
            return [], [], 0  # no station is counted there
        plans = (
            _AREA_TRACK_RANKING.plan(cover, areas, plays),
            _AREA_ARTIST_RANKING.plan(cover, areas, plays),
        )
        heard = _tracks_heard(q, data_days, areas)
    else:
        heard = _tracks_heard(q, data_days)
        if heard is None:
            return None
        plans = (_TRACK_RANKING.plan(cover), _ARTIST_RANKING.plan(cover))
    tops = _ranked_tops(plans, q.top)
    tracks, artists = tops["track"], tops["artist"]
    if tracks is None or artists is None:
        return None
    if heard is None:
        parts = _track_parts(
            scope, q, plays, data_days, columns=("track_id",), summaries=_area_summaries(area)
        )
        (heard,) = _fetch(_DISTINCT_TRACKS, parts)[0]
    titles = {
        pk: (title, stage_name)
        for pk, title, stage_name in Track.objects.filter(pk__any=[t[0] for t in tracks])
        .order_by()
        .values_list("pk", "title", "primary_artist__stage_name")
    }
    names = dict(
        Artist.objects.filter(pk__any=[a[0] for a in artists])
        .order_by()
        .values_list("pk", "stage_name")
    )
    return (
        [
            {
                "track_id": pk,
                "title": titles[pk][0],
                "artist": titles[pk][1],
                "plays": n,
                "airtime_seconds": airtime,
            }
            for pk, n, airtime in tracks
        ],
        [
            {"artist_id": pk, "stage_name": names[pk], "plays": n, "airtime_seconds": airtime}
            for pk, n, airtime in artists
        ],
        heard,
    )


def _compute(scope: Scope, q: RollupQuery) -> dict[str, Any]:
    """Two reads of the rollup rows of the scope: by period and station (the series, top
    stations, regions and classes) and by track (top tracks, top artists, the number of
    tracks): for the whole platform, a region or a class ranked from a few rows per
    period (`_tops_ranked`), else folded and ranked in the database."""
    if scope.by_track:
        scope = Scope(
            name=scope.name,
            user_id=scope.user_id,
            track_ids=tuple(own_track_ids(user_id=scope.user_id, role=scope.name)),
        )
    plays = _filtered(PlayDaily, scope, q)
    data_days = _DataDays()
    by_station = _filtered(StationDaily, scope, q) if _station_level(scope, q) else plays
    series, station_rows = [], []
    station_parts = _station_parts(scope, q, by_station, data_days)
    stations_sql, station_params = (
        (_STATIONS_OF_CELLS, []) if station_parts is None else _cells_sql(station_parts)
    )
    for kind, period, station_id, n, airtime, stations, name, region, cls in _fetch(
        _PERIODS_AND_STATIONS,
        _period_station_parts(scope, q, by_station, data_days),
        *station_params,
        stations=stations_sql,
    ):
        if kind == "period":
            series.append(
                {
                    "period": _day(period),
                    "plays": _plays(n),
                    "airtime_seconds": _airtime(airtime),
                    "distinct_stations": stations,
                }
            )
        else:
            station_rows.append(
                {
                    "station_id": station_id,
                    "name": name,
                    "region": region,
                    "station_class": cls,
                    "plays": _plays(n),
                    "airtime_seconds": _airtime(airtime),
                }
            )
    series.sort(key=lambda point: point["period"])
    station_rows.sort(key=lambda r: (-r["plays"], -r["airtime_seconds"], r["station_id"]))
    found = _tops_ranked(scope, q, plays, data_days)
    top_tracks, top_artists, distinct_tracks = found or _tops_folded(scope, q, plays, data_days)
    zero = Decimal("0.00")

    def breakdown(key: str) -> list[dict[str, Any]]:
        groups: dict[str, list] = {}
        for row in station_rows:
            g = groups.setdefault(row[key], [0, zero, 0])
            g[0] += row["plays"]
            g[1] += row["airtime_seconds"]
            g[2] += 1
        rows = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [{key: k, "plays": n, "airtime_seconds": a, "stations": c} for k, (n, a, c) in rows]

    return {
        "scope": scope.name,
        "granularity": q.granularity,
        "date_from": q.date_from,
        "date_to": q.date_to,
        "totals": {
            "plays": sum(r["plays"] for r in station_rows),
            "airtime_seconds": sum((r["airtime_seconds"] for r in station_rows), zero),
            "distinct_stations": len(station_rows),
            "distinct_tracks": distinct_tracks,
        },
        "series": series,
        "top_tracks": top_tracks,
        "top_artists": top_artists,
        "top_stations": station_rows[: q.top],
        "by_region": breakdown("region"),
        "by_station_class": breakdown("station_class"),
    }


def _versions(keys: list[str]) -> list[int]:
    """The current values of version counters (one cache read; a counter never read yet
    starts at 1)."""
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, 1, timeout=None)
            found[key] = cache.get(key) or 1
    return [int(found[key]) for key in keys]


def _live_period(date_to: date) -> int | None:
    """For a range that reaches today, the number of the current clock period of
    ANALYTICS_LIVE_SECONDS: changes to today's plays bump no version (see
    analytics._versions_bump_on_commit), so such an answer is kept for the rest of the
    period at most. None for a range that ended before today, or when the setting is 0."""
    seconds = settings.ANALYTICS_LIVE_SECONDS
    if seconds <= 0 or date_to < timezone.localdate():
        return None
    return int(time.time() // seconds)


@dataclass(frozen=True, slots=True)
class _Key:
    """Where an answer is cached. For one reaching today (`_live_period`), also its live
    period and where the latest answer to the same question, of any period, is kept."""

    name: str
    period: int | None = None
    latest: str | None = None


def _key(prefix: str, parts: list, date_to: date) -> _Key:
    raw = json.dumps(parts, cls=DjangoJSONEncoder, sort_keys=True)
    digest = hashlib.sha256(raw.encode()).hexdigest()
    period = _live_period(date_to)
    if period is None:
        return _Key(f"{prefix}:{digest}")
    return _Key(f"{prefix}:{digest}:{period}", period, f"{prefix}:{digest}:latest")


def _cache_key(scope: Scope, q: RollupQuery, kind: str) -> _Key:
    if scope.name == "station":
        station_keys = [version_key_station(s) for s in scope.station_ids or ()]
        versions = _versions([VERSION_REBUILD, *station_keys])
    else:
        versions = _versions([VERSION_ALL])
    return _key(
        f"analytics:{kind}",
        [kind, scope.name, scope.station_ids, scope.user_id, q.__dict__, versions],
        q.date_to,
    )


def _cached(key: Callable[[], _Key], compute: Callable[[], bytes], *, seconds: int) -> bytes:
    """compute(), kept `seconds` under key() (which reads the versions: not when off).

    An answer reaching today expires with its live period, at the same instant for every
    dashboard asking it, and dashboards poll. So when a new period's answer is missing,
    the first request of the period computes it (it takes the period's "computing" mark)
    while the others meanwhile get the previous period's (one period older than the
    answer they would have waited for), instead of all computing the same answer at once.
    Nothing older is served, and a version bump (a change to an earlier day, a rebuild)
    changes the key, so it never serves an answer it outdated."""
    if seconds <= 0:
        return compute()
    k = key()
    result = cache.get(k.name)
    if result is not None:
        return result
    if k.latest is not None and not cache.add(
        f"{k.name}:computing", 1, timeout=settings.ANALYTICS_LIVE_SECONDS
    ):
        latest = cache.get(k.latest)
        if latest is not None and latest[0] >= k.period - 1:
            return latest[1]
    result = compute()
    fresh = {k.name: result}
    if k.latest is not None:
        fresh[k.latest] = (k.period, result)
    cache.set_many(fresh, timeout=seconds)
    return result


def play_rollup(*, user: User, query: RollupQuery) -> dict[str, Any]:
    """Plays, airtime and distinct stations per day/week/month, with totals, top tracks,
    top artists, top stations and breakdowns by region and station class, for what the
    user may see (counted from the rollup rows; `play_rollup_rendered` caches it)."""
    query.validate()
    return _compute(scope_for(user=user), query)


def play_rollup_rendered(
    *, user: User, query: RollupQuery, kind: str, render: Callable[[dict[str, Any]], bytes]
) -> bytes:
    """`render(play_rollup(...))`, cached in Redis under the version numbers the rollup
    services bump when a play in the scope changes (and at most ANALYTICS_CACHE_SECONDS;
    a range reaching today at most ANALYTICS_LIVE_SECONDS, see `_live_period`).
    The rendered bytes are cached, not the numbers: a repeat costs two cache reads and no
    serializing. `kind` names the rendering (each is cached on its own)."""
    query.validate()
    scope = scope_for(user=user)
    return _cached(
        lambda: _cache_key(scope, query, kind),
        lambda: render(_compute(scope, query)),
        seconds=settings.ANALYTICS_CACHE_SECONDS,
    )


# Health rows grouped by period and station, then folded per period: a hash over the
# (period, station) groups instead of sorting every row for COUNT(DISTINCT station).
_HEALTH_PERIODS = (
    "SELECT period, sum(windows), sum(matched), sum(low_confidence), sum(failed), count(*) "
    "FROM ({cells}) AS cells GROUP BY period"
)
_HEALTH_COUNTS = ("windows", "matched", "low_confidence", "failed")


def detection_health(
    *, date_from: date, date_to: date, granularity: str = "day", station_id: int | None = None
) -> dict[str, Any]:
    """Staff's view of detection: windows analysed, match rate, low-confidence share and
    failures per period (from DetectionHealthPeriod for the platform's whole periods,
    DetectionHealthDaily for a station and for partial periods), plays waiting for review
    (from ReviewBacklog) and the streams down now."""
    RollupQuery(date_from=date_from, date_to=date_to, granularity=granularity).validate()
    from stream_capture.selectors import streams_down

    daily = DetectionHealthDaily.objects.filter(day__gte=date_from, day__lte=date_to)
    backlog = ReviewBacklog.objects.all()
    down = streams_down().filter(link__enabled=True)
    whole: list[tuple] = []
    if station_id is not None:
        daily = daily.filter(station_id=station_id)
        backlog = backlog.filter(station_id=station_id)
        down = down.filter(link__station_id=station_id)
    else:
        # The platform's whole periods inside the range from DetectionHealthPeriod; only
        # the partial periods at the edges from the stations' daily rows.
        first = health_period_start(granularity, date_from)
        if first < date_from:
            first = health_period_after(granularity, first)
        end = health_period_start(granularity, date_to + timedelta(days=1))
        if first < end:
            whole = list(
                DetectionHealthPeriod.objects.filter(
                    kind=granularity, start__gte=first, start__lt=end
                ).values_list("start", *_HEALTH_COUNTS, "stations")
            )
            daily = daily.exclude(day__gte=first, day__lt=end)
    cells = (
        _truncated(daily.order_by(), granularity)
        .values("period", "station_id")
        .annotate(**{name: Sum(name) for name in _HEALTH_COUNTS})
        .order_by()
    )
    series = []
    totals = dict.fromkeys(_HEALTH_COUNTS, 0)
    for period, *counts, stations in [*whole, *_fetch(_HEALTH_PERIODS, [cells])]:
        row = {name: int(n or 0) for name, n in zip(_HEALTH_COUNTS, counts, strict=True)}
        for name in _HEALTH_COUNTS:
            totals[name] += row[name]
        series.append({"period": _day(period), **row, "stations": stations, **_rates(row)})
    series.sort(key=lambda point: point["period"])
    return {
        "granularity": granularity,
        "date_from": date_from,
        "date_to": date_to,
        "totals": {**totals, **_rates(totals)},
        "series": series,
        "plays_pending_review": backlog.aggregate(n=Sum("plays"))["n"] or 0,
        "streams_down": down.count(),
    }


def detection_health_rendered(
    *, render: Callable[[dict[str, Any]], bytes], kind: str, **query
) -> bytes:
    """`render(detection_health(**query))`, cached for a minute at most whatever
    ANALYTICS_CACHE_SECONDS says ("streams down" is a live number), and until a play or
    the health rows change."""

    def key() -> _Key:
        parts = [kind, sorted(query.items()), _versions([VERSION_ALL])]
        return _key("analytics:health", parts, query["date_to"])

    return _cached(
        key,
        lambda: render(detection_health(**query)),
        seconds=min(settings.ANALYTICS_CACHE_SECONDS, 60),
    )


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
