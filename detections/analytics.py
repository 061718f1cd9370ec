"""The services of analytics: the daily rollups, the detection-health rollup, first-play
notices and the daily airplay digest.

Rollups are maintained rows, not queries over PlayLog:

- `PlayDaily` (day × station × track: plays, airtime) and `StationDaily` (day × station)
  are brought up to date in the same transaction as the play change that moves them. The
  play tracker, play_close, play_review, play_override and the dispute services call
  `play_rollup_snapshot` before they change a play and `play_rollup_changed` after; the
  cells the play left and entered are recounted from PlayLog (a handful of rows through
  the (station, started_at) index) under an advisory lock per station-day. Recounts, not
  +1/-1 deltas: a recount cannot drift, and plays written by other means (fixtures, an
  import, an admin script) are counted the next time their cell moves. The lock is per
  station-day, so stations never wait on each other, and a station's windows are
  analysed one after another anyway.
- `TrackDaily` (day × track, all stations) is PlayDaily summed over stations, for the
  days of platform-wide rollups outside whole months; kept like TrackMonthly below.
- `TrackMonthly` (month × track, all stations) is PlayDaily summed over a month, for
  platform-wide rollups over months. Each recount of a PlayDaily cell returns how much
  the cell changed, and that delta is added to the month row of its track in the same
  transaction (a row shared by every station cannot be recounted safely under a
  station-day lock: see `_summary_add`). `rollups_rebuild` recounts it from PlayDaily.
- `TrackYearly` (calendar year × track, all stations) is the same over a year, kept the
  same way, for the whole years of platform-wide rollups (the last 12 months read the year
  so far as one row per track).
- `StationMonthly` (month × station) and `StationWeekly` (week × station) are
  StationDaily summed over a month and a week (Monday to Sunday), and
  `TrackAreaMonthly` (month × region × station class × track) is PlayDaily summed over a
  month and the stations of one region and class, kept the same way: rollups by month or week,
  and platform rollups filtered by region or class, read them for whole months. A station
  is counted under the region and class StationArea records for it; when staff change
  them, `track_area_monthly_restate` (a Beat task) moves its plays, and until then readers
  count from PlayDaily. `TrackAreaYearly` is TrackAreaMonthly over a calendar year, kept
  and moved with it, for the whole years of region and class rollups.
- `ArtistDaily`, `ArtistMonthly` and `ArtistYearly` are TrackDaily, TrackMonthly and
  TrackYearly summed over each primary artist's tracks, kept the same way (the same
  deltas, added under the track's artist); `track_artist_restate` moves a track's rows
  when staff change its primary artist. `TrackSpan` holds each track's first and last
  day with plays. Platform-wide top artists and the number of tracks heard are read
  from these (analytics_selectors). `ArtistAreaMonthly` and `ArtistAreaYearly` are
  TrackAreaMonthly and TrackAreaYearly summed the same way, kept and moved with them (a
  station's new region, a track's new artist), for the top artists of a region or class,
  and `TrackAreaSpan` is TrackSpan per region and class, for the tracks it heard.
- `DetectionHealthDaily` is recounted from MatchCache by a Beat task every few minutes:
  windows are many and cheap, and their health is not money, so a few minutes of lag are
  fine and the tracker's hot path stays free of another write. The same task recounts
  `DetectionHealthPeriod` (the platform's day, week and month) for the days it refreshed.
- `ReviewBacklog` (plays waiting for review per station) is StationDaily.pending_review
  summed over all days, kept like TrackMonthly: each station-day recount adds how much
  its pending count changed.

A play counts once it exists and until it is rejected; its day is the Africa/Accra date
(settings.TIME_ZONE) of its start. While a play is on air the tracker extends it every
window; a change of its airtime alone waits (`play_rollup_deferred`) until it grows past a
multiple of DETECTIONS_ROLLUP_AIRTIME_STEP_SECONDS, and `play_close` settles the rest.
`rollups_rebuild` recounts a range of days from PlayLog (backfill, repair), and a test
pins deltas and recount to the same numbers.

Cached reads (analytics_selectors) are keyed by version numbers that these services bump
on commit: one per station, one for everything and one for rebuilds. Changes to today's
plays bump none of them (see `_versions_bump_on_commit`): answers reaching today are kept
for ANALYTICS_LIVE_SECONDS of clock time instead.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from detections.models import (
    ArtistAreaMonthly,
    ArtistAreaYearly,
    ArtistDaily,
    ArtistMonthly,
    ArtistYearly,
    DetectionHealthDaily,
    DetectionHealthPeriod,
    HealthPeriod,
    MatchCache,
    MatchStatus,
    PlayDaily,
    PlayLog,
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
    VerificationStatus,
)
from zamio import statements

logger = logging.getLogger(__name__)

VERSION_ALL = "analytics:v:all"
# Bumped by a rebuild: part of every station's key as well.
VERSION_REBUILD = "analytics:v:rebuild"


def version_key_station(station_id: int) -> str:
    return f"analytics:v:station:{station_id}"


@dataclass(frozen=True)
class RollupShare:
    """What one play adds to the rollups (None when it adds nothing: rejected)."""

    station_id: int
    track_id: int
    day: date
    airtime: Decimal
    verified: bool
    pending: bool  # waiting for review: counted in StationDaily.pending_review


def local_day(at: datetime) -> date:
    return timezone.localtime(at).date()


def play_rollup_snapshot(play: PlayLog) -> RollupShare | None:
    """The play's share of the rollups as it stands (call before changing it)."""
    if play.pk is None or play.verification_status == VerificationStatus.REJECTED:
        return None
    return RollupShare(
        station_id=play.station_id,
        track_id=play.track_id,
        day=local_day(play.started_at),
        airtime=Decimal(play.duration_seconds).quantize(Decimal("0.01")),
        verified=play.verification_status == VerificationStatus.VERIFIED,
        pending=play.verification_status == VerificationStatus.PENDING_REVIEW,
    )


def _day_bounds(day: date) -> tuple[Any, Any]:
    """The first instant of `day` and of the next, as the database compares them with a
    stored started_at: SQLite compares text, and a raw parameter's default text (with
    "+00:00") sorts after the stored one of the same instant, which would count a play
    starting at midnight in the day before."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    adapt = connection.ops.adapt_datetimefield_value
    return adapt(start), adapt(end)


_RECOUNT_CELL = (
    "INSERT INTO detections_playdaily (day, station_id, track_id, plays, airtime_seconds) "
    "SELECT %s, %s, %s, count(*), coalesce(sum(duration_seconds), 0) FROM detections_playlog "
    "WHERE station_id = %s AND track_id = %s AND started_at >= %s AND started_at < %s "
    "AND verification_status <> 'rejected' "
    "ON CONFLICT (station_id, track_id, day) DO UPDATE "
    "SET plays = excluded.plays, airtime_seconds = excluded.airtime_seconds"
)
_RECOUNT_STATION = (
    "INSERT INTO detections_stationdaily (day, station_id, plays, airtime_seconds, "
    "pending_review) "
    "SELECT %s, %s, count(*), coalesce(sum(duration_seconds), 0), "
    "coalesce(sum(CASE WHEN verification_status = 'pending_review' THEN 1 ELSE 0 END), 0) "
    "FROM detections_playlog "
    "WHERE station_id = %s AND started_at >= %s AND started_at < %s "
    "AND verification_status <> 'rejected' "
    "ON CONFLICT (station_id, day) DO UPDATE "
    "SET plays = excluded.plays, airtime_seconds = excluded.airtime_seconds, "
    "pending_review = excluded.pending_review "
    "RETURNING plays, airtime_seconds, pending_review"
)
_STATION_DAY = (
    "SELECT plays, airtime_seconds, pending_review FROM detections_stationdaily "
    "WHERE station_id = %s AND day = %s"
)
# Keeps these advisory locks apart from any other user of pg_advisory_xact_lock(int, int).
_LOCK_SPACE = 0x2A000000


@dataclass(frozen=True)
class _Recounted:
    """How a station-day's recount changed its cells: per track (plays, airtime), for
    TrackMonthly and TrackAreaMonthly; the station's (plays, airtime), for StationMonthly
    and StationWeekly; and the station's plays waiting for review, for ReviewBacklog."""

    tracks: dict[int, tuple[int, Decimal]]
    station: tuple[int, Decimal]
    pending: int

    @property
    def changed(self) -> bool:
        return bool(self.pending or any(self.station) or any(any(c) for c in self.tracks.values()))


def _station_day_recount(*, station_id: int, day: date, track_ids: set[int]) -> _Recounted:
    """Recounts the cells of these tracks and the station's total for one station-day;
    returns how much they changed.

    Under a transaction-scoped advisory lock on (station, day), taken before the counting
    statements start: a concurrent change of the same station-day waits until this one
    commits, and its own recount (a new statement, a new snapshot) then sees it, so no
    change is lost. Stations never wait on each other.
    """
    start, end = _day_bounds(day)
    cells = PlayDaily.objects.filter(station_id=station_id, day=day, track_id__in=track_ids)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE ^ station_id, day.toordinal()]
            )
        before = {
            t: (n, a) for t, n, a in cells.values_list("track_id", "plays", "airtime_seconds")
        }
        cursor.execute(_STATION_DAY, [station_id, day])
        plays_before, airtime_before, pending_before = cursor.fetchone() or (0, 0, 0)
        for track_id in sorted(track_ids):
            cursor.execute(
                _RECOUNT_CELL, [day, station_id, track_id, station_id, track_id, start, end]
            )
        cursor.execute(_RECOUNT_STATION, [day, station_id, station_id, start, end])
        plays_after, airtime_after, pending_after = cursor.fetchone()
        after = {t: (n, a) for t, n, a in cells.values_list("track_id", "plays", "airtime_seconds")}
    # An emptied cell is deleted, so "distinct stations/tracks" never counts it.
    cells.filter(plays=0).delete()
    StationDaily.objects.filter(station_id=station_id, day=day, plays=0).delete()
    zero = (0, Decimal("0.00"))
    return _Recounted(
        tracks={
            t: (
                after.get(t, zero)[0] - before.get(t, zero)[0],
                after.get(t, zero)[1] - before.get(t, zero)[1],
            )
            for t in track_ids
        },
        station=(plays_after - plays_before, Decimal(airtime_after) - Decimal(airtime_before)),
        pending=pending_after - pending_before,
    )


def month_after(day: date) -> date:
    """The first day of the month after the one `day` falls in."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def year_after(day: date) -> date:
    """1 January of the year after the one `day` falls in."""
    return date(day.year + 1, 1, 1)


def day_after(day: date) -> date:
    return day + timedelta(days=1)


def week_of(day: date) -> date:
    """The Monday of the day's week (weeks run Monday to Sunday, as PostgreSQL's
    date_trunc('week') has them)."""
    return day - timedelta(days=day.weekday())


def week_after(day: date) -> date:
    return week_of(day) + timedelta(days=7)


@dataclass(frozen=True)
class _Summary:
    """A summary kept by adding the changes of the station-day rows it sums: its model, its
    period column (`day`, `month` or `year`) and the first day of the next period, the columns
    besides the period that key a row, and how one row is recounted from the station-day
    rows (parameters: period, the key, the key again, the period's first day and the
    next's)."""

    model: type
    period: str
    after: Callable[[date], date]
    keys: tuple[str, ...]
    recount: str

    @property
    def table(self) -> str:
        return self.model._meta.db_table


def _recounted_from(model, period: str, after, key: str, *, cells: str) -> _Summary:
    """The summary `model`, keyed by (period, `key`), whose one-row recount sums the day
    rows `cells` names (SQL: a FROM of rows aliased `cell`, and a WHERE that takes the key
    as its one parameter)."""
    table = model._meta.db_table
    recount = (
        f"INSERT INTO {table} ({period}, {key}, plays, airtime_seconds) "  # noqa: S608
        "SELECT %s, %s, coalesce(sum(cell.plays), 0), coalesce(sum(cell.airtime_seconds), 0) "
        f"FROM {cells} AND cell.day >= %s AND cell.day < %s "
        f"ON CONFLICT ({key}, {period}) DO UPDATE "
        "SET plays = excluded.plays, airtime_seconds = excluded.airtime_seconds"
    )
    return _Summary(model, period, after, (key,), recount)


def _summary_keyed_by(model, period: str, after, key: str, *, source) -> _Summary:
    """The summary `model`, keyed by (period, `key`), whose rows sum the day rows of
    `source` (PlayDaily or StationDaily) sharing that key."""
    cells = f"{source._meta.db_table} AS cell WHERE cell.{key} = %s"
    return _recounted_from(model, period, after, key, cells=cells)


def _artist_summary(model, period: str, after) -> _Summary:
    """The artist summary `model` by (period, artist), whose rows sum TrackDaily over the
    tracks whose primary artist that is."""
    cells = (
        "detections_trackdaily AS cell JOIN tracks_track AS track ON track.id = cell.track_id "
        "WHERE track.primary_artist_id = %s"
    )
    return _recounted_from(model, period, after, "artist_id", cells=cells)


_TRACK_DAYS = _summary_keyed_by(TrackDaily, "day", day_after, "track_id", source=PlayDaily)
_TRACK_MONTHS = _summary_keyed_by(TrackMonthly, "month", month_after, "track_id", source=PlayDaily)
_TRACK_YEARS = _summary_keyed_by(TrackYearly, "year", year_after, "track_id", source=PlayDaily)
_STATION_MONTHS = _summary_keyed_by(
    StationMonthly, "month", month_after, "station_id", source=StationDaily
)
_STATION_WEEKS = _summary_keyed_by(
    StationWeekly, "week", week_after, "station_id", source=StationDaily
)
_ARTIST_DAYS = _artist_summary(ArtistDaily, "day", day_after)
_ARTIST_MONTHS = _artist_summary(ArtistMonthly, "month", month_after)
_ARTIST_YEARS = _artist_summary(ArtistYearly, "year", year_after)
# A (region, class, track) or (region, class, artist) row of an area summary counted from
# PlayDaily over its period, for the stations StationArea puts in that region and class
# (an artist's: the tracks whose primary artist it is).
_AREA_RECOUNT = (
    "INSERT INTO {table} "
    "({period}, region, station_class, {key}, plays, airtime_seconds) "
    "SELECT %s, %s, %s, %s, coalesce(sum(cell.plays), 0), "
    "coalesce(sum(cell.airtime_seconds), 0) FROM detections_playdaily AS cell "
    "JOIN detections_stationarea AS area ON area.station_id = cell.station_id{join} "
    "WHERE area.region = %s AND area.station_class = %s AND {of_key} = %s "
    "AND cell.day >= %s AND cell.day < %s "
    "ON CONFLICT (region, station_class, {period}, {key}) DO UPDATE "
    "SET plays = excluded.plays, airtime_seconds = excluded.airtime_seconds"
)


def _area_summary(model, period: str, after, key: str = "track_id") -> _Summary:
    if key == "track_id":
        join, of_key = "", "cell.track_id"
    else:
        join = " JOIN tracks_track AS track ON track.id = cell.track_id"
        of_key = "track.primary_artist_id"
    recount = _AREA_RECOUNT.format(
        table=model._meta.db_table, period=period, key=key, join=join, of_key=of_key
    )
    return _Summary(model, period, after, ("region", "station_class", key), recount)


_AREA_MONTHS = _area_summary(TrackAreaMonthly, "month", month_after)
_AREA_YEARS = _area_summary(TrackAreaYearly, "year", year_after)
_ARTIST_AREA_MONTHS = _area_summary(ArtistAreaMonthly, "month", month_after, "artist_id")
_ARTIST_AREA_YEARS = _area_summary(ArtistAreaYearly, "year", year_after, "artist_id")


# In the order a play change writes them (and a rebuild locks them).
_SUMMARIES = (
    _TRACK_DAYS,
    _TRACK_MONTHS,
    _TRACK_YEARS,
    _STATION_MONTHS,
    _STATION_WEEKS,
    _AREA_MONTHS,
    _AREA_YEARS,
    _ARTIST_DAYS,
    _ARTIST_MONTHS,
    _ARTIST_YEARS,
    _ARTIST_AREA_MONTHS,
    _ARTIST_AREA_YEARS,
)


def _summary_add(rows: _Summary, changes: dict[tuple, tuple[int, Decimal]]) -> None:
    """Adds the changes of station-day rows ({(period, *key): (plays, airtime)}) to the
    summary rows that sum them.

    Deltas, not recounts: a summary row sums rows of many station-days (a track's, of every
    station; a station's, of every day), recounted concurrently under their own locks, so
    a recount of the summary row could miss another's uncommitted change; an added delta
    waits on the row lock instead and cannot lose one. Each delta is the difference of an
    exact recount of its station-day row, so the summary row stays equal to the sum of
    those. Rows are updated in key order, so two changes never wait on each other in a
    cycle."""
    table, period, keys = rows.table, rows.period, ", ".join(rows.keys)
    add = (
        f"INSERT INTO {table} ({period}, {keys}, plays, airtime_seconds) "  # noqa: S608
        f"VALUES (%s, {', '.join(['%s'] * len(rows.keys))}, %s, %s) "
        f"ON CONFLICT ({keys}, {period}) DO UPDATE "
        f"SET plays = {table}.plays + excluded.plays, "
        f"airtime_seconds = {table}.airtime_seconds + excluded.airtime_seconds"
    )
    # PostgreSQL checks the proposed row of an upsert (plays >= 0) before it finds the
    # conflict, so a decrease is an UPDATE of the row the decreased cell was counted in.
    subtract = (
        f"UPDATE {table} SET plays = plays + %s, airtime_seconds = airtime_seconds + %s "  # noqa: S608
        f"WHERE {period} = %s AND {' AND '.join(f'{k} = %s' for k in rows.keys)}"
    )
    with connection.cursor() as cursor:
        for (start, *key), (plays, airtime) in sorted(changes.items()):
            if not plays and not airtime:
                continue
            if plays >= 0 and airtime >= 0:
                cursor.execute(add, [start, *key, plays, airtime])
                continue
            cursor.execute(subtract, [plays, airtime, start, *key])
            if cursor.rowcount == 0:
                # No row to subtract from: the rows were never filled for this period (cells
                # written by other means); count it from its cells instead.
                cursor.execute(rows.recount, [start, *key, *key, start, rows.after(start)])
    emptied = Q()
    for start, *key in changes:
        emptied |= Q(**{rows.period: start}, **dict(zip(rows.keys, key, strict=True)))
    rows.model.objects.filter(emptied, plays__lte=0).delete()


def _station_areas(station_ids: set[int]) -> dict[int, tuple[str, str]]:
    """The (region, class) each station's plays are counted under in TrackAreaMonthly;
    a station counted there for the first time is recorded with its current ones.

    The rows are read FOR SHARE (PostgreSQL): `track_area_monthly_restate` cannot move a
    station between this read and the commit that adds its plays under what was read."""

    if not station_ids:
        return {}

    def read() -> dict[int, tuple[str, str]]:
        areas = StationArea.objects.filter(station_id__in=station_ids).order_by("station_id")
        sql, params = areas.values_list(
            "station_id", "region", "station_class"
        ).query.sql_with_params()
        if connection.vendor == "postgresql":
            sql += " FOR SHARE"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {s: (r, c) for s, r, c in cursor.fetchall()}

    found = read()
    missing = station_ids - found.keys()
    if missing:
        from stations.models import Station

        StationArea.objects.bulk_create(
            [
                StationArea(station_id=pk, region=region, station_class=cls)
                for pk, region, cls in Station.objects.filter(pk__in=missing).values_list(
                    "pk", "region", "station_class"
                )
            ],
            ignore_conflicts=True,  # a concurrent change counted the station first
        )
        found = read()
    return found


_BACKLOG_ADD = (
    "INSERT INTO detections_reviewbacklog (station_id, plays) VALUES (%s, %s) "
    "ON CONFLICT (station_id) DO UPDATE "
    "SET plays = detections_reviewbacklog.plays + excluded.plays"
)
_BACKLOG_SUBTRACT = "UPDATE detections_reviewbacklog SET plays = plays + %s WHERE station_id = %s"
_BACKLOG_RECOUNT = (
    "INSERT INTO detections_reviewbacklog (station_id, plays) "
    "SELECT %s, coalesce(sum(pending_review), 0) FROM detections_stationdaily "
    "WHERE station_id = %s "
    "ON CONFLICT (station_id) DO UPDATE SET plays = excluded.plays"
)


def _review_backlog_add(changes: dict[int, int]) -> None:
    """Adds the changes of StationDaily.pending_review to the stations' ReviewBacklog rows.

    Deltas of exact recounts, as for TrackMonthly (see `_summary_add`): a station's row sums
    all its days, and two days of one station are recounted under different locks."""
    with connection.cursor() as cursor:
        for station_id, delta in sorted(changes.items()):
            if delta > 0:
                cursor.execute(_BACKLOG_ADD, [station_id, delta])
            elif delta < 0:
                cursor.execute(_BACKLOG_SUBTRACT, [delta, station_id])
                if cursor.rowcount == 0:  # never filled for this station: count it instead
                    cursor.execute(_BACKLOG_RECOUNT, [station_id, station_id])


def _versions_bump(keys: list[str]) -> None:
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:  # never read yet: any new value differs from none
            cache.set(key, 1, timeout=None)


def _versions_bump_on_commit(cells: set[tuple[int, date]] | None) -> None:
    """On commit, bumps the versions cached answers are keyed by: for the changed
    (station, day) cells, the platform's and each station's; for None (a rebuild), the
    platform's and every station's.

    Cells of today (or later) bump nothing while ANALYTICS_LIVE_SECONDS > 0: live capture
    changes a station's open play every window, which would invalidate every answer every
    few seconds. Answers over a range that reaches today are keyed by a clock period of
    that many seconds instead (analytics_selectors), so they lag today's plays by at most
    that; a change to an earlier day (a review, a dispute, a correction) shows at once."""

    def bump() -> None:
        if cells is None:
            _versions_bump([VERSION_ALL, VERSION_REBUILD])
            return
        live = settings.ANALYTICS_LIVE_SECONDS > 0
        today = timezone.localdate()
        stations = {station_id for station_id, day in cells if not live or day < today}
        if stations:
            _versions_bump([VERSION_ALL, *(version_key_station(s) for s in sorted(stations))])

    transaction.on_commit(bump)


@dataclass(frozen=True)
class _Spans:
    """A table of first and last days with plays per key (a track, or a track in one
    region and class), kept from the day rows it spans: `days` is the SQL of a key's
    first and last day with plays (parameters: the key), `fill` of every key's."""

    model: type
    keys: tuple[str, ...]
    days: str
    fill: str

    @property
    def table(self) -> str:
        return self.model._meta.db_table


_SPAN_GROW = (
    "INSERT INTO {table} ({keys}, first_day, last_day) VALUES ({marks}, %s, %s) "
    "ON CONFLICT ({keys}) DO UPDATE SET "
    "first_day = {least}({table}.first_day, excluded.first_day), "
    "last_day = {greatest}({table}.last_day, excluded.last_day)"
)
_SPAN_SET = "UPDATE {table} SET first_day = %s, last_day = %s WHERE {where}"
# The smaller and the larger of two values, in each database's SQL.
_LEAST_GREATEST = {"postgresql": ("least", "greatest"), "sqlite": ("min", "max")}
_TRACK_SPANS = _Spans(
    TrackSpan,
    ("track_id",),
    "SELECT min(day), max(day) FROM detections_trackdaily WHERE track_id = %s AND plays > 0",
    "INSERT INTO detections_trackspan (track_id, first_day, last_day) "
    "SELECT track_id, min(day), max(day) FROM detections_trackdaily WHERE plays > 0 "
    "GROUP BY track_id",
)
_AREA_SPANS = _Spans(
    TrackAreaSpan,
    ("region", "station_class", "track_id"),
    "SELECT min(cell.day), max(cell.day) FROM detections_playdaily AS cell "
    "JOIN detections_stationarea AS area ON area.station_id = cell.station_id "
    "WHERE area.region = %s AND area.station_class = %s AND cell.track_id = %s "
    "AND cell.plays > 0",
    "INSERT INTO detections_trackareaspan "
    "(region, station_class, track_id, first_day, last_day) "
    "SELECT area.region, area.station_class, cell.track_id, min(cell.day), max(cell.day) "
    "FROM detections_playdaily AS cell "
    "JOIN detections_stationarea AS area ON area.station_id = cell.station_id "
    "WHERE cell.plays > 0 GROUP BY 1, 2, 3",
)


def _spans_update(spans: _Spans, changes: dict[tuple, int]) -> None:
    """Brings a span table up to date with changes of the plays of its day rows
    ({(day, *key): plays}), after those rows were changed in this transaction.

    A key heard on a day widens its span to it: least/greatest merges, which commute,
    so concurrent changes of one key never lose each other. A day that lost plays is
    recounted from the day rows only when it is an end of the span, under the span row's
    lock: a concurrent widening either committed before the lock was granted (and the
    recount, a new statement, sees it) or merges into the recounted row after it."""
    grown: dict[tuple, tuple[date, date]] = {}
    shrunk: dict[tuple, set[date]] = defaultdict(set)
    for (day, *key), plays in changes.items():
        if plays > 0:
            first, last = grown.get(tuple(key), (day, day))
            grown[tuple(key)] = (min(first, day), max(last, day))
        elif plays < 0:
            shrunk[tuple(key)].add(day)
    least, greatest = _LEAST_GREATEST[connection.vendor]
    keys = ", ".join(spans.keys)
    grow = _SPAN_GROW.format(
        table=spans.table,
        keys=keys,
        marks=", ".join(["%s"] * len(spans.keys)),
        least=least,
        greatest=greatest,
    )
    where = " AND ".join(f"{k} = %s" for k in spans.keys)
    update = _SPAN_SET.format(table=spans.table, where=where)
    with connection.cursor() as cursor:
        for key in sorted(grown.keys() | shrunk.keys()):
            if key in grown:
                cursor.execute(grow, [*key, *grown[key]])
            if key not in shrunk:
                continue
            span = spans.model.objects.select_for_update().filter(
                **dict(zip(spans.keys, key, strict=True))
            )
            ends = span.values_list("first_day", "last_day").first()
            if ends is None:
                continue  # never filled: a rebuild counts it
            if not shrunk[key] & set(ends):
                continue
            cursor.execute(spans.days, list(key))
            first, last = cursor.fetchone()
            if first is None:
                span.delete()
            else:
                cursor.execute(update, [first, last, *key])


def _artists_of(track_ids: set[int]) -> dict[int, int]:
    """Each track's primary artist, read FOR SHARE (PostgreSQL): a change of the artist
    (`track_artist_restate`, in the transaction that updates the track) waits until this
    play change commits, and a play change after it reads the new artist."""
    from tracks.models import Track

    if not track_ids:
        return {}
    sql, params = (
        Track.objects.filter(pk__in=track_ids)
        .order_by("pk")
        .values_list("pk", "primary_artist_id")
        .query.sql_with_params()
    )
    if connection.vendor == "postgresql":
        sql += " FOR SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def play_rollup_deferred(*, before: RollupShare | None, play: PlayLog) -> bool:
    """Whether this change of an open play may stay out of the rollups for now: only its
    airtime grew, and not past a multiple of DETECTIONS_ROLLUP_AIRTIME_STEP_SECONDS.

    Rollups are recounted from PlayLog, so the airtime left out is counted by the next
    recount of the play's cell: a later step, any other change of the play or of its
    cell, and at the latest `play_close` (which settles). Airtime only grows while a play
    is extended, so the rollups hold all but less than one step of an open play's."""
    step = settings.DETECTIONS_ROLLUP_AIRTIME_STEP_SECONDS
    after = play_rollup_snapshot(play)
    if step <= 0 or not play.is_open or before is None or after is None:
        return False
    if replace(before, airtime=after.airtime) != after or after.airtime < before.airtime:
        return False
    return before.airtime // step == after.airtime // step


def play_rollup_changed(*, before: RollupShare | None, play: PlayLog, settle: bool = False) -> None:
    """Brings the rollup cells the play was and is in up to date (recounted from PlayLog),
    bumps the cache versions on commit, and records a first play (notice to the artist)
    when the play is, or just became, verified. Call inside the transaction of the change.

    ``settle``: recount the play's cell even if its share did not change, because airtime
    of it may have been deferred (`play_rollup_deferred`; `play_close` settles)."""
    after = play_rollup_snapshot(play)
    if before == after and not settle:
        return
    cells: dict[tuple[int, date], set[int]] = defaultdict(set)
    for share in (before, after):
        if share is not None:
            cells[(share.station_id, share.day)].add(share.track_id)
    summaries: dict[_Summary, dict[tuple, tuple[int, Decimal]]] = defaultdict(dict)
    backlog: dict[int, int] = defaultdict(int)
    areas = _station_areas({station_id for station_id, _day in cells})

    def add(rows: _Summary, key: tuple, plays: int, airtime: Decimal) -> None:
        n, a = summaries[rows].get(key, (0, Decimal(0)))
        summaries[rows][key] = (n + plays, a + airtime)

    artists = _artists_of(set().union(*cells.values()))
    area_days: dict[tuple, int] = defaultdict(int)  # (day, region, class, track) -> plays
    moved: set[tuple[int, date]] = set()  # the cells whose recount changed anything
    for (station_id, day), track_ids in sorted(cells.items()):
        recounted = _station_day_recount(station_id=station_id, day=day, track_ids=track_ids)
        if not recounted.changed:
            continue
        moved.add((station_id, day))
        month, year = day.replace(day=1), date(day.year, 1, 1)
        for track_id, (plays, airtime) in recounted.tracks.items():
            add(_TRACK_DAYS, (day, track_id), plays, airtime)
            add(_TRACK_MONTHS, (month, track_id), plays, airtime)
            add(_TRACK_YEARS, (year, track_id), plays, airtime)
            add(_AREA_MONTHS, (month, *areas[station_id], track_id), plays, airtime)
            add(_AREA_YEARS, (year, *areas[station_id], track_id), plays, airtime)
            artist_id = artists[track_id]
            add(_ARTIST_DAYS, (day, artist_id), plays, airtime)
            add(_ARTIST_MONTHS, (month, artist_id), plays, airtime)
            add(_ARTIST_YEARS, (year, artist_id), plays, airtime)
            add(_ARTIST_AREA_MONTHS, (month, *areas[station_id], artist_id), plays, airtime)
            add(_ARTIST_AREA_YEARS, (year, *areas[station_id], artist_id), plays, airtime)
            area_days[(day, *areas[station_id], track_id)] += plays
        add(_STATION_MONTHS, (month, station_id), *recounted.station)
        add(_STATION_WEEKS, (week_of(day), station_id), *recounted.station)
        backlog[station_id] += recounted.pending
    if moved:
        for rows in _SUMMARIES:
            _summary_add(rows, summaries[rows])
        _spans_update(
            _TRACK_SPANS, {key: plays for key, (plays, _a) in summaries[_TRACK_DAYS].items()}
        )
        _spans_update(_AREA_SPANS, area_days)
        _review_backlog_add(backlog)
        _versions_bump_on_commit(moved)
    if (
        after is not None
        and after.verified
        and not (before is not None and before.verified and before.track_id == after.track_id)
    ):
        first_play_record(play=play)


def track_artist_restate(*, track_id: int, from_artist_id: int, to_artist_id: int) -> None:
    """Moves a track's plays from one primary artist's summary rows to another's. Call in
    the transaction that changed the track's primary artist, after the change (its row
    lock holds off play changes of the track until commit; see `_artists_of`)."""
    if from_artist_id == to_artist_id:
        return
    for rows, source in (
        (_ARTIST_DAYS, TrackDaily),
        (_ARTIST_MONTHS, TrackMonthly),
        (_ARTIST_YEARS, TrackYearly),
        (_ARTIST_AREA_MONTHS, TrackAreaMonthly),
        (_ARTIST_AREA_YEARS, TrackAreaYearly),
    ):
        changes: dict[tuple, tuple[int, Decimal]] = {}
        area = rows.keys[:-1]  # () or (region, station_class)
        cells = source.objects.filter(track_id=track_id).values_list(
            rows.period, *area, "plays", "airtime_seconds"
        )
        for start, *where, plays, airtime in cells:
            changes[(start, *where, from_artist_id)] = (-plays, -airtime)
            changes[(start, *where, to_artist_id)] = (plays, airtime)
        _summary_add(rows, changes)
    _versions_bump_on_commit(None)


def _tables_lock(*models) -> None:
    """Holds off other writers of these tables until the transaction ends (readers go on);
    on PostgreSQL (SQLite writes one transaction at a time anyway). Tables are locked in
    the order given, which must be the order a play change takes them in (StationArea
    first: `_station_areas` reads it FOR SHARE before any rollup write), or the two could
    each hold what the other waits for."""
    if connection.vendor == "postgresql":
        tables = ", ".join(model._meta.db_table for model in models)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")


def rollups_rebuild(*, date_from: date, date_to: date) -> int:
    """Recounts PlayDaily and StationDaily for [date_from, date_to] from PlayLog (backfill
    and repair), the month summaries of the months they touch from those and ReviewBacklog
    from StationDaily; returns the PlayDaily rows written. Locks the summary tables
    meanwhile (on PostgreSQL) so the tracker's changes wait and land on the recounted rows."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(date_from, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    plays = (
        PlayLog.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(verification_status=VerificationStatus.REJECTED)
        .annotate(day=TruncDate("started_at"))
        .values("day", "station_id", "track_id")
        .annotate(
            n=Count("id"),
            airtime=Sum("duration_seconds"),
            pending=Count("id", filter=Q(verification_status=VerificationStatus.PENDING_REVIEW)),
        )
        .order_by()
    )
    written = 0
    with transaction.atomic():
        _tables_lock(
            StationArea,
            PlayDaily,
            StationDaily,
            TrackDaily,
            TrackMonthly,
            TrackYearly,
            StationMonthly,
            StationWeekly,
            TrackAreaMonthly,
            TrackAreaYearly,
            ArtistDaily,
            ArtistMonthly,
            ArtistYearly,
            ArtistAreaMonthly,
            ArtistAreaYearly,
            TrackSpan,
            TrackAreaSpan,
            ReviewBacklog,
        )
        PlayDaily.objects.filter(day__gte=date_from, day__lte=date_to).delete()
        StationDaily.objects.filter(day__gte=date_from, day__lte=date_to).delete()
        per_station: dict[tuple[date, int], list] = defaultdict(lambda: [0, Decimal(0), 0])
        batch: list[PlayDaily] = []
        for row in plays.iterator(chunk_size=5000):
            batch.append(
                PlayDaily(
                    day=row["day"],
                    station_id=row["station_id"],
                    track_id=row["track_id"],
                    plays=row["n"],
                    airtime_seconds=row["airtime"],
                )
            )
            total = per_station[(row["day"], row["station_id"])]
            total[0] += row["n"]
            total[1] += row["airtime"]
            total[2] += row["pending"]
            if len(batch) >= 5000:
                PlayDaily.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        PlayDaily.objects.bulk_create(batch)
        written += len(batch)
        StationDaily.objects.bulk_create(
            [
                StationDaily(
                    day=day,
                    station_id=station_id,
                    plays=n,
                    airtime_seconds=airtime,
                    pending_review=pending,
                )
                for (day, station_id), (n, airtime, pending) in per_station.items()
            ],
            batch_size=5000,
        )
        summaries_recount(date_from=date_from, date_to=date_to)
        _review_backlog_recount()
        _versions_bump_on_commit(None)
    return written


def _review_backlog_recount() -> None:
    """Rewrites ReviewBacklog as the sums of StationDaily.pending_review (all days)."""
    ReviewBacklog.objects.all().delete()
    ReviewBacklog.objects.bulk_create(
        ReviewBacklog(station_id=row["station_id"], plays=row["n"])
        for row in StationDaily.objects.filter(pending_review__gt=0)
        .values("station_id")
        .annotate(n=Sum("pending_review"))
        .order_by()
    )


_DAYS_OF_TRACKS = (
    "INSERT INTO detections_trackdaily (day, track_id, plays, airtime_seconds) "
    "SELECT day, track_id, sum(plays), sum(airtime_seconds) FROM detections_playdaily "
    "WHERE day >= %s AND day < %s GROUP BY 1, 2"
)
# Summary rows for a range of months or weeks, from their day rows ({start}: the first
# day of a day row's month or week, from _START_OF_CELL).
_MONTHS_OF_TRACKS = (
    "INSERT INTO detections_trackmonthly (month, track_id, plays, airtime_seconds) "
    "SELECT {start}, track_id, sum(plays), sum(airtime_seconds) "
    "FROM detections_playdaily AS cell WHERE day >= %s AND day < %s GROUP BY 1, 2"
)
_PERIODS_OF_STATIONS = (  # StationMonthly or StationWeekly
    "INSERT INTO {table} ({period}, station_id, plays, airtime_seconds) "
    "SELECT {start}, station_id, sum(plays), sum(airtime_seconds) "
    "FROM detections_stationdaily AS cell WHERE day >= %s AND day < %s GROUP BY 1, 2"
)
_MONTHS_OF_AREAS = (
    "INSERT INTO detections_trackareamonthly "
    "(month, region, station_class, track_id, plays, airtime_seconds) "
    "SELECT {start}, area.region, area.station_class, cell.track_id, sum(cell.plays), "
    "sum(cell.airtime_seconds) FROM detections_playdaily AS cell "
    "JOIN detections_stationarea AS area ON area.station_id = cell.station_id "
    "WHERE cell.day >= %s AND cell.day < %s GROUP BY 1, 2, 3, 4"
)
# A year summary's rows for a range of years, from its month summary's rows.
_YEARS_OF_MONTHS = (
    "INSERT INTO {years} (year, {keys}, plays, airtime_seconds) "
    "SELECT {year}, {keys}, sum(plays), sum(airtime_seconds) "
    "FROM {months} AS cell WHERE month >= %s AND month < %s GROUP BY {year}, {keys}"
)
# An artist summary's rows (platform or area: {area} is "" or "region, station_class, ")
# for a range of periods, from the track summary of the same periods and area, each
# track under its primary artist.
_ARTIST_CELLS = (
    "INSERT INTO {artists} ({period}, {area}artist_id, plays, airtime_seconds) "
    "SELECT cell.{period}, {cell_area}track.primary_artist_id, sum(cell.plays), "
    "sum(cell.airtime_seconds) FROM {tracks} AS cell "
    "JOIN tracks_track AS track ON track.id = cell.track_id "
    "WHERE cell.{period} >= %s AND cell.{period} < %s GROUP BY {groups}"
)


def _artists_rewrite(rows: _Summary, tracks, first: date, end: date) -> None:
    """Rewrites the artist summary `rows` for the periods that start in [first, end) from
    the rows of the track summary `tracks` (model) of the same periods."""
    rows.model.objects.filter(**{f"{rows.period}__gte": first, f"{rows.period}__lt": end}).delete()
    area = rows.keys[:-1]  # () or (region, station_class)
    insert = _ARTIST_CELLS.format(
        artists=rows.table,
        tracks=tracks._meta.db_table,
        period=rows.period,
        area="".join(f"{column}, " for column in area),
        cell_area="".join(f"cell.{column}, " for column in area),
        groups=", ".join(str(i) for i in range(1, len(area) + 3)),
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, [first, end])


def _spans_rewrite(spans: _Spans) -> None:
    """Rewrites a span table from its day rows."""
    spans.model.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(spans.fill)


# 1 January of a month row's year, in each database's SQL.
_YEAR_OF_CELL = {
    "postgresql": "date_trunc('year', cell.month)::date",
    "sqlite": "date(cell.month, 'start of year')",
}
# The first day of a day row's month, in each database's SQL.
_MONTH_OF_CELL = {
    "postgresql": "date_trunc('month', cell.day)::date",
    "sqlite": "date(cell.day, 'start of month')",
}
# The Monday of a day row's week ('weekday 0' moves to the next Sunday, or stays on one).
_WEEK_OF_CELL = {
    "postgresql": "date_trunc('week', cell.day)::date",
    "sqlite": "date(cell.day, 'weekday 0', '-6 days')",
}
_START_OF_CELL = {"month": _MONTH_OF_CELL, "week": _WEEK_OF_CELL}


def _years_rewrite(years: _Summary, months: _Summary, first: date, end: date) -> None:
    """Rewrites the rows of `years` for the years in [first, end) as sums of the rows of
    `months` (the same keys) in them."""
    years.model.objects.filter(year__gte=first, year__lt=end).delete()
    insert = _YEARS_OF_MONTHS.format(
        years=years.table,
        months=months.table,
        keys=", ".join(years.keys),
        year=_YEAR_OF_CELL[connection.vendor],
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, [first, end])


def summaries_recount(*, date_from: date, date_to: date) -> None:
    """Rewrites TrackDaily for [date_from, date_to], TrackMonthly, StationMonthly and
    TrackAreaMonthly for the months those days fall in (whole months, all days) and
    StationWeekly for their weeks (whole weeks), as sums of their station-day rows; then
    TrackYearly and TrackAreaYearly for the years they fall in, as sums of their month
    rows, and ArtistDaily, ArtistMonthly and ArtistYearly for the same days, months and
    years from those track rows (ArtistAreaMonthly and ArtistAreaYearly for every month
    and year of those years, from the track area rows); TrackSpan and TrackAreaSpan for
    every track.
    Stations with day rows but no StationArea yet are recorded with their current region
    and class. Call with the tables locked (as `rollups_rebuild` does)."""
    TrackDaily.objects.filter(day__gte=date_from, day__lte=date_to).delete()
    with connection.cursor() as cursor:
        cursor.execute(_DAYS_OF_TRACKS, [date_from, date_to + timedelta(days=1)])
    first, end = date_from.replace(day=1), month_after(date_to)
    with_cells = StationDaily.objects.filter(day__gte=first, day__lt=end).values("station_id")
    _station_areas(set(with_cells.distinct().values_list("station_id", flat=True)))
    months, weeks = (first, end), (week_of(date_from), week_after(date_to))
    with connection.cursor() as cursor:
        for rows, insert, (first, end) in (
            (_TRACK_MONTHS, _MONTHS_OF_TRACKS, months),
            (_STATION_MONTHS, _PERIODS_OF_STATIONS, months),
            (_STATION_WEEKS, _PERIODS_OF_STATIONS, weeks),
            (_AREA_MONTHS, _MONTHS_OF_AREAS, months),
        ):
            rows.model.objects.filter(
                **{f"{rows.period}__gte": first, f"{rows.period}__lt": end}
            ).delete()
            start = _START_OF_CELL[rows.period][connection.vendor]
            sql = insert.format(table=rows.table, period=rows.period, start=start)
            cursor.execute(sql, [first, end])
        # Whole years, from the month rows just rewritten and the others of those years.
        first, end = date(date_from.year, 1, 1), year_after(date_to)
        _years_rewrite(_TRACK_YEARS, _TRACK_MONTHS, first, end)
        _years_rewrite(_AREA_YEARS, _AREA_MONTHS, first, end)
    # The artists' rows of the same days, months and years, from the tracks' rows (the
    # areas' for every month of those years).
    years = (date(date_from.year, 1, 1), year_after(date_to))
    for rows, tracks, (first, end) in (
        (_ARTIST_DAYS, TrackDaily, (date_from, date_to + timedelta(days=1))),
        (_ARTIST_MONTHS, TrackMonthly, (date_from.replace(day=1), month_after(date_to))),
        (_ARTIST_YEARS, TrackYearly, years),
        (_ARTIST_AREA_MONTHS, TrackAreaMonthly, years),
        (_ARTIST_AREA_YEARS, TrackAreaYearly, years),
    ):
        _artists_rewrite(rows, tracks, first, end)
    _spans_rewrite(_TRACK_SPANS)
    _spans_rewrite(_AREA_SPANS)


def _moved_stations():
    """StationArea rows of stations whose region or class is no longer the one recorded."""
    from stations.models import Station

    moved = Station.objects.filter(pk=OuterRef("station_id")).exclude(
        region=OuterRef("region"), station_class=OuterRef("station_class")
    )
    return StationArea.objects.filter(Exists(moved)).values_list("pk")[:1]


# Asked by every rollup filtered by region or class: compiled once (zamio.statements).
_ANY_STATION_MOVED = statements.Compiled(_moved_stations, arity=0)


def area_months_current() -> bool:
    """Whether every station is counted in TrackAreaMonthly under its region and class
    as they are now (else a reader counts from PlayDaily)."""
    return not _ANY_STATION_MOVED.rows()


def track_area_monthly_restate() -> int:
    """Counts the plays of stations whose region or class staff changed under their new
    ones in TrackAreaMonthly (the table recounted from PlayDaily), TrackAreaYearly (from
    those months), the artist area summaries (from those) and TrackAreaSpan, and bumps
    the cache versions on commit; returns how many stations moved. Safe to run twice:
    when no station moved it reads the stations and writes nothing."""
    from stations.models import Station

    if area_months_current():
        return 0
    with transaction.atomic():
        _tables_lock(
            StationArea,
            TrackAreaMonthly,
            TrackAreaYearly,
            ArtistAreaMonthly,
            ArtistAreaYearly,
            TrackAreaSpan,
        )
        current = {
            pk: (region, cls)
            for pk, region, cls in Station.objects.values_list("pk", "region", "station_class")
        }
        moved = [
            area
            for area in StationArea.objects.select_for_update()
            if current.get(area.station_id, (area.region, area.station_class))
            != (area.region, area.station_class)
        ]
        if not moved:
            return 0
        for area in moved:
            area.region, area.station_class = current[area.station_id]
        StationArea.objects.bulk_update(moved, ["region", "station_class"])
        TrackAreaMonthly.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(
                _MONTHS_OF_AREAS.format(start=_MONTH_OF_CELL[connection.vendor]),
                [date.min, date.max],
            )
        _years_rewrite(_AREA_YEARS, _AREA_MONTHS, date.min, date.max)
        _artists_rewrite(_ARTIST_AREA_MONTHS, TrackAreaMonthly, date.min, date.max)
        _artists_rewrite(_ARTIST_AREA_YEARS, TrackAreaYearly, date.min, date.max)
        _spans_rewrite(_AREA_SPANS)
        # Region and class answers change; a station's own do not.
        transaction.on_commit(lambda: _versions_bump([VERSION_ALL]))
    return len(moved)


# --- Detection health ---------------------------------------------------------------------
def detection_health_refresh(*, days: int = 2, today: date | None = None) -> int:
    """Recounts DetectionHealthDaily for the last `days` days (today included) from
    MatchCache; returns the rows written. Safe to run twice: a recount replaces the row."""
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=tz)
    threshold = settings.FINGERPRINT_VERIFIED_THRESHOLD
    analysed = ~Q(status__in=[MatchStatus.PENDING, MatchStatus.FAILED])
    counts = (
        MatchCache.objects.filter(captured_at__gte=start)
        .annotate(day=TruncDate("captured_at"))
        .values("day", "station_id")
        .annotate(
            windows=Count("id", filter=analysed),
            matched=Count("id", filter=analysed & Q(match_count__gt=0)),
            low=Count("id", filter=analysed & Q(match_count__gt=0, confidence__lt=threshold)),
            failed=Count("id", filter=Q(status=MatchStatus.FAILED)),
            seconds=Sum("window_seconds", filter=analysed),
        )
        .order_by()
    )
    now = timezone.now()
    rows = [
        DetectionHealthDaily(
            day=row["day"],
            station_id=row["station_id"],
            windows=row["windows"],
            matched=row["matched"],
            low_confidence=row["low"],
            failed=row["failed"],
            audio_seconds=row["seconds"] or 0.0,
            refreshed_at=now,
        )
        for row in counts
    ]
    DetectionHealthDaily.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["station", "day"],
        update_fields=[
            "windows",
            "matched",
            "low_confidence",
            "failed",
            "audio_seconds",
            "refreshed_at",
        ],
        batch_size=2000,
    )
    detection_health_periods_recount(date_from=today - timedelta(days=days - 1), date_to=today)
    _versions_bump([VERSION_ALL])
    return len(rows)


def health_period_start(kind: str, day: date) -> date:
    """The first day of the day, week (Monday) or month that `day` falls in."""
    if kind == HealthPeriod.WEEK:
        return week_of(day)
    if kind == HealthPeriod.MONTH:
        return day.replace(day=1)
    return day


def health_period_after(kind: str, start: date) -> date:
    """The first day of the period after the one starting on `start`."""
    if kind == HealthPeriod.WEEK:
        return start + timedelta(days=7)
    if kind == HealthPeriod.MONTH:
        return month_after(start)
    return start + timedelta(days=1)


def _health_by_period(kind: str):
    if kind == HealthPeriod.WEEK:
        return TruncWeek("day")
    if kind == HealthPeriod.MONTH:
        return TruncMonth("day")
    return F("day")


def detection_health_periods_recount(*, date_from: date, date_to: date) -> int:
    """Recounts the DetectionHealthPeriod rows of every day, week and month overlapping
    [date_from, date_to] (whole periods) from DetectionHealthDaily; returns the rows
    written. Health rows written by other means (an import, a script) are counted by
    running this over their days."""
    written = 0
    with transaction.atomic():
        for kind in HealthPeriod.values:
            first = health_period_start(kind, date_from)
            end = health_period_after(kind, health_period_start(kind, date_to))
            counts = (
                DetectionHealthDaily.objects.filter(day__gte=first, day__lt=end)
                .annotate(period=_health_by_period(kind))
                .values("period")
                .annotate(
                    windows=Sum("windows"),
                    matched=Sum("matched"),
                    low_confidence=Sum("low_confidence"),
                    failed=Sum("failed"),
                    stations=Count("station_id", distinct=True),
                )
                .order_by()
            )
            rows = [
                DetectionHealthPeriod(
                    kind=kind,
                    start=row["period"],
                    windows=row["windows"],
                    matched=row["matched"],
                    low_confidence=row["low_confidence"],
                    failed=row["failed"],
                    stations=row["stations"],
                )
                for row in counts
            ]
            DetectionHealthPeriod.objects.filter(
                kind=kind, start__gte=first, start__lt=end
            ).delete()
            DetectionHealthPeriod.objects.bulk_create(rows)
            written += len(rows)
    return written


# --- First play on a station ----------------------------------------------------------------
def first_play_record(*, play: PlayLog) -> bool:
    """Records the first verified play of a track on a station and notifies the track's
    artist (kind first_play_on_station); False when it was not the first. Once per pair,
    whichever worker gets there first: the insert is conditional on the unique pair."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO detections_firstplay (track_id, station_id, play_id, created_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (track_id, station_id) DO NOTHING RETURNING id",
            [play.track_id, play.station_id, play.pk, timezone.now()],
        )
        inserted = cursor.fetchone() is not None
    if not inserted:
        return False
    from notifications.services import notify
    from stations.models import Station
    from tracks.models import Track

    track = Track.objects.select_related("primary_artist__user").get(pk=play.track_id)
    station = Station.objects.get(pk=play.station_id)
    user = track.primary_artist.user
    if user is None or not user.is_active:
        return True
    played_at = timezone.localtime(play.started_at)
    notify(
        user=user,
        kind="first_play_on_station",
        title=f"First play of {track.title} on {station.name}",
        body=f"{station.name} played {track.title} for the first time, "
        f"at {played_at:%Y-%m-%d %H:%M}.",
        link=f"/plays/{play.pk}",
        context={
            "track_title": track.title,
            "station_name": station.name,
            "played_at": played_at.isoformat(),
            "play_id": play.pk,
        },
    )
    return True


# --- Daily airplay digest -------------------------------------------------------------------
DIGEST_MAX_ROWS = 20


def digests_send(*, day: date | None = None) -> int:
    """Sends the opt-in daily airplay digest of `day` (default: yesterday) to every user
    who turned it on and whose tracks or station were played that day (notify, kind
    daily_airplay_digest); returns how many were sent. Safe to run twice: a user who
    already has the digest of that day is skipped."""
    from detections.analytics_selectors import airplay_of_day
    from notifications.models import Notification
    from notifications.selectors import user_ids_opted_in
    from notifications.services import notify
    from users.models import User

    day = day or timezone.localdate() - timedelta(days=1)
    kind = "daily_airplay_digest"
    sent = 0
    for user in User.objects.filter(pk__in=user_ids_opted_in(kind=kind), is_active=True):
        already = Notification.objects.filter(
            user=user, kind=kind, context__date=day.isoformat()
        ).exists()
        if already:
            continue
        rows = airplay_of_day(user=user, day=day)
        if not rows:
            continue
        total = sum(row["plays"] for row in rows)
        with transaction.atomic():
            notify(
                user=user,
                kind=kind,
                title=f"Your airplay on {day:%d %b %Y}: {total} play{'s' if total != 1 else ''}",
                body=f"{total} play{'s' if total != 1 else ''} on {day:%A %d %B %Y}.",
                link=f"/analytics?date_from={day.isoformat()}&date_to={day.isoformat()}",
                context={
                    "date": day.isoformat(),
                    "total_plays": total,
                    "rows": rows[:DIGEST_MAX_ROWS],
                },
            )
        sent += 1
    return sent
