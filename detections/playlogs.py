"""The station playlog comparison: a station's own log set against what ZamIO heard.

For a station and a date range every logged entry and every detected play (rejected ones
left out) lands in exactly one category:

- agreed: an entry and a play of the same song (same ISRC, or same title and artist once
  both are normalised) whose times are within STATIONS_PLAYLOG_MATCH_SLACK_SECONDS;
  pairs are made closest start first, one to one. Agreed pairs whose durations differ
  by more than STATIONS_PLAYLOG_DURATION_TOLERANCE_SECONDS are also listed as duration
  differences.
- unlogged: a play ZamIO heard that the station did not log.
- unheard: an entry ZamIO did not hear, with the monitoring coverage of its time (the
  share of it that analysed windows covered), so that a gap in capture is told apart
  from a song that did not air: "monitored" (>= 80 % covered), "partial", "not_monitored"
  (nothing analysed: not the station's fault), or "unknown" (older than the analysed
  windows are kept).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from detections.models import MatchCache, MatchStatus, PlayLog, VerificationStatus
from stations.models import Station, StationPlaylogEntry
from tracks.models import Track

MONITORED_SHARE = 0.8


def normalise(text: str) -> str:
    """Lower-case letters and digits only (Ghanaian letters such as ɔ and ɛ kept): no
    accents, punctuation, brackets or "feat." tails."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[\(\[].*?[\)\]]", " ", text)
    text = re.split(r"\b(?:feat|ft|featuring)\b\.?", text)[0]
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


@dataclass
class Pair:
    entry: StationPlaylogEntry
    play: PlayLog
    start_difference_seconds: float
    duration_difference_seconds: Decimal


@dataclass
class Unheard:
    entry: StationPlaylogEntry
    coverage: float | None
    coverage_status: str


@dataclass
class Comparison:
    station: Station
    date_from: date
    date_to: date
    agreed: list[Pair] = field(default_factory=list)
    unlogged: list[PlayLog] = field(default_factory=list)
    unheard: list[Unheard] = field(default_factory=list)
    duration_differences: list[Pair] = field(default_factory=list)

    @property
    def summary(self) -> dict:
        unheard_by = {"monitored": 0, "partial": 0, "not_monitored": 0, "unknown": 0}
        for item in self.unheard:
            unheard_by[item.coverage_status] += 1
        logged = len(self.agreed) + len(self.unheard)
        return {
            "logged": logged,
            "detected": len(self.agreed) + len(self.unlogged),
            "agreed": len(self.agreed),
            "unlogged": len(self.unlogged),
            "unheard": len(self.unheard),
            "unheard_by_coverage": unheard_by,
            "duration_differences": len(self.duration_differences),
            "agreement_rate": round(len(self.agreed) / logged, 4) if logged else None,
        }


def _same_song(entry: StationPlaylogEntry, play: PlayLog, artists: list[str]) -> bool:
    track = play.track
    if entry.isrc and track.isrc and entry.isrc == track.isrc.upper():
        return True
    if normalise(entry.title) != normalise(track.title):
        return False
    logged = normalise(entry.artist)
    return any(a and (a in logged or logged in a) for a in artists)


def _covered_seconds(
    windows: list[tuple[datetime, float]], start: datetime, end: datetime
) -> float:
    spans = sorted(
        (max(at, start), min(at + timedelta(seconds=seconds), end)) for at, seconds in windows
    )
    covered, reach = 0.0, start
    for lo, hi in spans:
        lo = max(lo, reach)
        if hi > lo:
            covered += (hi - lo).total_seconds()
            reach = hi
    return covered


def _coverages(station_id: int, entries: list[StationPlaylogEntry]) -> list[tuple]:
    """(coverage, status) of each entry, from the station's analysed windows around them
    (one read for all the entries, of the windows around them only)."""
    retention = timezone.now() - timedelta(days=settings.DETECTIONS_MATCHCACHE_RETENTION_DAYS)
    longest = timedelta(seconds=max(settings.DETECTIONS_WINDOW_SECONDS, 600))
    spans: list[list[datetime]] = []
    for lo, hi in sorted(
        (entry.started_at - longest, entry.ended_at)
        for entry in entries
        if entry.started_at >= retention
    ):
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    windows: list[tuple[datetime, float]] = []
    if spans:
        around = Q()
        for lo, hi in spans:
            around |= Q(captured_at__gt=lo, captured_at__lt=hi)
        windows = list(
            MatchCache.objects.filter(around, station_id=station_id)
            .exclude(status__in=[MatchStatus.PENDING, MatchStatus.FAILED])
            .order_by("captured_at")
            .values_list("captured_at", "window_seconds")
        )
    starts = [at for at, _seconds in windows]
    result = []
    for entry in entries:
        if entry.started_at < retention:
            result.append((None, "unknown"))
            continue
        # The windows that began within `longest` before the entry and before its end.
        around = windows[
            bisect_right(starts, entry.started_at - longest) : bisect_left(starts, entry.ended_at)
        ]
        span = (entry.ended_at - entry.started_at).total_seconds()
        share = min(1.0, _covered_seconds(around, entry.started_at, entry.ended_at) / span)
        if share >= MONITORED_SHARE:
            result.append((round(share, 4), "monitored"))
        else:
            result.append((round(share, 4), "partial" if share > 0 else "not_monitored"))
    return result


# What the comparison and its outputs (JSON, CSV) read of entries and plays: a report of a
# busy station's day reads hundreds of rows, and each unused date-time column is parsed.
_ENTRY_FIELDS = ("id", "title", "artist", "isrc", "started_at", "duration_seconds", "ended_at")
_PLAY_FIELDS = (
    "id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "avg_confidence",
    "verification_status",
    "track__id",
    "track__title",
    "track__isrc",
    "track__primary_artist__id",
    "track__primary_artist__stage_name",
)


def playlog_comparison(*, station: Station, date_from: date, date_to: date) -> Comparison:
    """Compares the station's logged entries with its detected plays that started in
    [date_from, date_to] (station-local days). The caller decides who may see the station
    (stations.selectors.station_records_get)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(station.timezone)
    start = datetime.combine(date_from, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    slack = timedelta(seconds=settings.STATIONS_PLAYLOG_MATCH_SLACK_SECONDS)
    tolerance = Decimal(settings.STATIONS_PLAYLOG_DURATION_TOLERANCE_SECONDS)
    entries = list(
        StationPlaylogEntry.objects.filter(
            station=station, started_at__gte=start, started_at__lt=end
        )
        .only(*_ENTRY_FIELDS)
        .order_by("started_at", "id")
    )
    plays = list(
        PlayLog.objects.filter(station=station, started_at__gte=start, started_at__lt=end)
        .exclude(verification_status=VerificationStatus.REJECTED)
        .select_related("track", "track__primary_artist")
        .only(*_PLAY_FIELDS)
        .order_by("started_at", "id")
    )
    featured: dict[int, list[str]] = {}
    for track_id, stage_name in Track.featured_artists.through.objects.filter(
        track_id__in={play.track_id for play in plays}
    ).values_list("track_id", "artist__stage_name"):
        featured.setdefault(track_id, []).append(normalise(stage_name))
    artists = {
        play.pk: [normalise(play.track.primary_artist.stage_name), *featured.get(play.track_id, [])]
        for play in plays
    }
    candidates = []
    for entry in entries:
        for play in plays:
            if play.started_at > entry.ended_at + slack:
                break
            if play.ended_at < entry.started_at - slack:
                continue
            if _same_song(entry, play, artists[play.pk]):
                gap = abs((play.started_at - entry.started_at).total_seconds())
                candidates.append((gap, entry.pk, play.pk, entry, play))
    candidates.sort(key=lambda c: c[:3])
    result = Comparison(station=station, date_from=date_from, date_to=date_to)
    paired_entries: set[int] = set()
    paired_plays: set[int] = set()
    for _gap, entry_id, play_id, entry, play in candidates:
        if entry_id in paired_entries or play_id in paired_plays:
            continue
        paired_entries.add(entry_id)
        paired_plays.add(play_id)
        pair = Pair(
            entry=entry,
            play=play,
            start_difference_seconds=round((play.started_at - entry.started_at).total_seconds(), 2),
            duration_difference_seconds=play.duration_seconds - entry.duration_seconds,
        )
        result.agreed.append(pair)
        if abs(pair.duration_difference_seconds) > tolerance:
            result.duration_differences.append(pair)
    result.agreed.sort(key=lambda p: (p.entry.started_at, p.entry.pk))
    result.duration_differences.sort(key=lambda p: (p.entry.started_at, p.entry.pk))
    result.unlogged = [p for p in plays if p.pk not in paired_plays]
    unheard = [entry for entry in entries if entry.pk not in paired_entries]
    result.unheard = [
        Unheard(entry, *coverage)
        for entry, coverage in zip(unheard, _coverages(station.pk, unheard), strict=True)
    ]
    return result
