"""From audio windows to PlayLogs: window analysis, the play tracker, play statuses, uploads.

The play tracker is plain service code called by `window_analyse` (no signals): every
match of a window becomes an observation "track T was on air from heard_start to
heard_end, its second 0 at `alignment`". Observations of one station that share track
and alignment are one airing, one PlayLog, however many windows saw it, in whatever
process and order they were analysed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Func
from django.utils import timezone

from detections import analytics  # rollup hooks: see "# rollups:" below
from detections.models import (
    ACTIVE_DISPUTE_STATUSES,
    ALIGNMENT_CELL_SECONDS,
    MatchCache,
    MatchStatus,
    PaymentStatus,
    PlayLog,
    PlaySource,
    RoyaltyStatus,
    StationUpload,
    UploadStatus,
    VerificationStatus,
    WindowMatch,
)
from fingerprinting.engine import MIN_QUERY_SECONDS, SPEC, FingerprintError, Match, decode
from fingerprinting.services import samples_identify
from tracks.models import Track
from users.models import User
from users.services import audit_record
from zamio import live
from zamio.errors import InvalidTransition, NotFound, ValidationFailed
from zamio.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

_TWO_PLACES = Decimal("0.01")
# How far apart (s of track) two windows' positions in a track may be and still be one
# airing when they are all there is to go by (see _same_run). Windows of a real airing
# agree to a few tenths of a second, even 2 % fast or slow.
CONFIRM_OFFSET_TOLERANCE_SECONDS = 1.0


def sample_rate() -> int:
    """The rate of the samples window_analyse takes (the engine's analysis rate)."""
    return settings.FINGERPRINT_SAMPLE_RATE


_rate = sample_rate


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def window_key_for(*, source: str, captured_at: datetime, seconds: float) -> str:
    """The natural key of a window: the same audio of the same moment gets the same key."""
    return f"{source}:{captured_at.astimezone(UTC).isoformat()}:{seconds:.2f}"


# --- Observations -----------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    track_id: int
    track_offset: float
    query_offset: float
    speed: float
    confidence: float
    hits: int
    coverage: float
    alignment: float  # epoch seconds at which the track's second 0 was on air
    heard_start: datetime
    heard_end: datetime


def observations_from(
    *,
    matches: list[Match],
    captured_at: datetime,
    seconds: float,
    durations: dict[int, float | None],
) -> list[Observation]:
    """One observation per track heard in a window (its best match), most confident first.

    The heard stretch starts at the first aligned hit and lasts for the share of the
    window that held aligned hits (the matcher's coverage), clipped to the window and to
    the track's own end. Matches of tracks no longer in the catalogue are dropped.
    """
    window_start = _epoch(captured_at)
    window_end = window_start + seconds
    seen: set[int] = set()
    result = []
    for m in sorted(matches, key=lambda m: (-m.confidence, -m.hits)):
        if m.track_id in seen or m.track_id not in durations:
            continue
        seen.add(m.track_id)
        speed = m.speed or 1.0
        alignment = window_start + m.query_offset - m.track_offset / speed
        start = window_start + m.query_offset
        end = min(window_end, start + max(m.coverage, 0.0) * math.ceil(seconds))
        duration = durations[m.track_id]
        if duration:
            end = min(end, alignment + duration / speed)
        end = max(end, start)
        result.append(
            Observation(
                track_id=m.track_id,
                track_offset=m.track_offset,
                query_offset=m.query_offset,
                speed=speed,
                confidence=min(1.0, max(0.0, float(m.confidence))),
                hits=m.hits,
                coverage=m.coverage,
                alignment=alignment,
                heard_start=_at(start),
                heard_end=_at(end),
            )
        )
    return result


# --- Window analysis --------------------------------------------------------------------
def _window_claim(
    *, station_id: int, captured_at: datetime, seconds: float, source: str, window_key: str
) -> MatchCache:
    row = MatchCache.objects.filter(station_id=station_id, window_key=window_key).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return MatchCache.objects.create(
                station_id=station_id,
                captured_at=captured_at,
                window_seconds=round(seconds, 3),
                window_key=window_key,
                source=source,
            )
    except IntegrityError:  # another worker claimed the same window a moment ago
        return MatchCache.objects.get(station_id=station_id, window_key=window_key)


def window_analyse(
    *,
    station_id: int,
    captured_at: datetime,
    samples: np.ndarray,
    source: str,
    window_key: str,
) -> MatchCache:
    """Identifies one window of a station's audio, stores it as a MatchCache row and feeds
    its matches to the play tracker (PlayLogs created, extended, closed; play events
    broadcast on commit).

    Safe to run twice: a window_key already analysed returns its row and changes nothing.
    `samples` are mono float32 at the engine's rate; `captured_at` is when the first of
    them was on air.
    """
    if source not in PlaySource.values:
        raise ValidationFailed(f"Unknown play source {source!r}.")
    samples = np.asarray(samples, dtype=np.float32)
    seconds = samples.size / _rate()
    row = _window_claim(
        station_id=station_id,
        captured_at=captured_at,
        seconds=seconds,
        source=source,
        window_key=window_key,
    )
    if row.status != MatchStatus.PENDING:
        return row
    started = time.perf_counter()
    try:
        matches = samples_identify(samples)
    except FingerprintError as exc:
        MatchCache.objects.filter(pk=row.pk, status=MatchStatus.PENDING).update(
            status=MatchStatus.FAILED, error=str(exc)[:2000]
        )
        row.refresh_from_db()
        return row
    return _window_store(
        row_id=row.pk, matches=matches, elapsed_ms=int((time.perf_counter() - started) * 1000)
    )


def window_record_matches(
    *,
    station_id: int,
    captured_at: datetime,
    seconds: float,
    source: str,
    window_key: str,
    matches: list[Match],
) -> MatchCache:
    """`window_analyse` for a window already identified elsewhere (a matcher in another
    process, a replay of stored matches): stores it and feeds the tracker. Same
    idempotence: a window_key already analysed changes nothing."""
    if source not in PlaySource.values:
        raise ValidationFailed(f"Unknown play source {source!r}.")
    row = _window_claim(
        station_id=station_id,
        captured_at=captured_at,
        seconds=seconds,
        source=source,
        window_key=window_key,
    )
    if row.status != MatchStatus.PENDING:
        return row
    return _window_store(row_id=row.pk, matches=matches, elapsed_ms=None)


def _window_store(*, row_id: int, matches: list[Match], elapsed_ms: int | None) -> MatchCache:
    with transaction.atomic():
        row = MatchCache.objects.select_for_update().get(pk=row_id)
        if row.status != MatchStatus.PENDING:  # a concurrent run finished it first
            return row
        tracks = dict(
            Track.objects.filter(pk__in={m.track_id for m in matches}).values_list(
                "pk", "duration_seconds"
            )
        )
        observations = observations_from(
            matches=matches,
            captured_at=row.captured_at,
            seconds=row.window_seconds,
            durations=tracks,
        )
        row.analysed_ms = elapsed_ms
        row.match_count = len(observations)
        if observations:
            best = observations[0]
            row.track_id = best.track_id
            row.track_offset = best.track_offset
            row.query_offset = best.query_offset
            row.speed = best.speed
            row.confidence = best.confidence
            row.status = (
                MatchStatus.VERIFIED
                if best.confidence >= settings.FINGERPRINT_VERIFIED_THRESHOLD
                else MatchStatus.LOW_CONFIDENCE
            )
        else:
            row.status = MatchStatus.NO_MATCH
        row.save(
            update_fields=[
                "analysed_ms",
                "match_count",
                "track",
                "track_offset",
                "query_offset",
                "speed",
                "confidence",
                "status",
            ]
        )
        _tracker_feed(window=row, observations=observations, durations=tracks)
    return row


def audio_windows(
    samples: np.ndarray, *, window_seconds: float | None = None, hop_seconds: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """(offset seconds, samples) of the analysis windows of a stretch of audio: every hop,
    plus one flush with the end so the tail is heard; nothing under the engine's minimum.

    Audio longer than one window yields at least DETECTIONS_CONFIRM_WINDOWS windows (the
    hop shrinks for a short sample), so that a song heard throughout a station's sample
    can be confirmed from that sample alone.
    """
    rate = _rate()
    window = int((window_seconds or settings.DETECTIONS_WINDOW_SECONDS) * rate)
    hop = max(1, int((hop_seconds or settings.DETECTIONS_HOP_SECONDS) * rate))
    total = samples.size
    if total < MIN_QUERY_SECONDS * rate:
        return
    if total <= window:
        yield 0.0, samples
        return
    confirm = max(2, settings.DETECTIONS_CONFIRM_WINDOWS)
    hop = max(1, min(hop, (total - window) // (confirm - 1)))
    position = 0
    last_end = 0
    while position + window <= total:
        yield position / rate, samples[position : position + window]
        last_end = position + window
        position += hop
    if total - last_end >= rate:  # more than a second unheard at the end
        yield (total - window) / rate, samples[total - window :]


def audio_analyse(
    *, station_id: int, started_at: datetime, samples: np.ndarray, source: str
) -> list[MatchCache]:
    """Cuts a stretch of audio (a sample, an upload, a recording) into windows and analyses
    each with `window_analyse`; safe to run twice for the same audio and start."""
    rows = []
    for offset, chunk in audio_windows(samples):
        captured_at = started_at + timedelta(seconds=offset)
        key = window_key_for(source=source, captured_at=captured_at, seconds=chunk.size / _rate())
        rows.append(
            window_analyse(
                station_id=station_id,
                captured_at=captured_at,
                samples=chunk,
                source=source,
                window_key=key,
            )
        )
    return rows


# --- The play tracker -------------------------------------------------------------------
def _duration(started_at: datetime, ended_at: datetime) -> Decimal:
    seconds = max(0.0, (ended_at - started_at).total_seconds())
    return Decimal(str(seconds)).quantize(_TWO_PLACES, rounding=ROUND_HALF_UP)


def _royalty_bearing(duration: Decimal) -> bool:
    return duration >= Decimal(settings.DETECTIONS_MIN_ROYALTY_SECONDS)


def _verification_for(peak_confidence: float) -> str:
    if peak_confidence >= settings.FINGERPRINT_VERIFIED_THRESHOLD:
        return VerificationStatus.VERIFIED
    return VerificationStatus.PENDING_REVIEW


def _plays_locked():
    return PlayLog.objects.select_for_update()


def _play_for_airing(*, station_id: int, track_id: int, alignment: float) -> PlayLog | None:
    """The play of this airing (same track, alignment within the tolerance), if logged."""
    tolerance = settings.DETECTIONS_ALIGNMENT_TOLERANCE_SECONDS
    return (
        _plays_locked()
        .filter(
            station_id=station_id,
            track_id=track_id,
            alignment__gte=alignment - tolerance,
            alignment__lte=alignment + tolerance,
        )
        .annotate(distance=Func(F("alignment") - alignment, function="ABS"))
        .order_by("distance")
        .first()
    )


def _play_continued(
    *, station_id: int, track_id: int, obs: Observation, duration: float | None
) -> PlayLog | None:
    """A recent play of the track whose own run still covers this observation.

    Songs repeat themselves (a chorus, a loop): a window inside an airing may match an
    earlier or later stretch of the same track and so seem to jump. While the airing's
    own second 0 + duration has not passed, such a window is the same airing.

    Unless it is the song begun again: an observation whose second 0 aired no earlier
    than the play was last heard, less a crossfade, heard the track from its start after
    the play stopped being heard, as when the DJ cuts a song and plays it again or a song
    faded out early is aired once more. A repeated stretch inside an airing puts second 0
    well before the play's last heard moment, unless it repeats the song's first seconds.
    Such an observation goes to confirmation like any new airing's. So does one heard
    after windows listened for longer than DETECTIONS_MAX_GAP_SECONDS without hearing the
    play: time no window listened to (between sampled captures, an outage) does not
    count, since nothing could hear the song then.
    """
    if not duration:
        return None
    tolerance = settings.DETECTIONS_ALIGNMENT_TOLERANCE_SECONDS
    crossfade = settings.DETECTIONS_CROSSFADE_SECONDS
    heard_start, heard_end = _epoch(obs.heard_start), _epoch(obs.heard_end)
    longest_run = duration / (1.0 - SPEC.max_speed_change) + tolerance
    for play in _plays_locked().filter(
        station_id=station_id,
        track_id=track_id,
        alignment__gte=heard_end - longest_run,
        alignment__lte=heard_start + tolerance,
    ):
        run_end = play.alignment + duration / play.speed
        begun_again = obs.alignment >= _epoch(play.ended_at) - crossfade
        # Wholly inside the airing's run (its start is in the filter): a song started
        # again as it ends is a new airing.
        if (
            not begun_again
            and heard_end <= run_end + tolerance
            and _listened_seconds(station_id=station_id, start=play.ended_at, end=obs.heard_start)
            <= settings.DETECTIONS_MAX_GAP_SECONDS
        ):
            return play
    return None


def _listened_seconds(*, station_id: int, start: datetime, end: datetime) -> float:
    """How much of [start, end) the station's windows covered (overlaps counted once)."""
    if end <= start:
        return 0.0
    windows = (
        MatchCache.objects.filter(
            station_id=station_id,
            captured_at__gte=start - timedelta(seconds=settings.DETECTIONS_WINDOW_SECONDS),
            captured_at__lt=end,
        )
        .order_by("captured_at")
        .values_list("captured_at", "window_seconds")
    )
    listened, reached = 0.0, start
    for captured_at, seconds in windows:
        begin = max(captured_at, reached)
        finish = min(captured_at + timedelta(seconds=seconds), end)
        if finish > begin:
            listened += (finish - begin).total_seconds()
            reached = finish
    return listened


def _start_estimate(*, window: MatchCache, heard_start: datetime, alignment: float) -> datetime:
    """When the airing began: its second 0, if that is close enough before the first window
    that heard it (talk over an intro, a window too short to be sure); else when heard.

    "Close enough" is the backfill allowance plus any time no window covered (sampled
    capture listens 20 s a minute), never before the station's previous window began
    when there was none to go by.
    """
    previous = (
        MatchCache.objects.filter(station_id=window.station_id, captured_at__lt=window.captured_at)
        .order_by("-captured_at")
        .values_list("captured_at", "window_seconds")
        .first()
    )
    backfill = float(settings.DETECTIONS_START_BACKFILL_SECONDS)
    if previous is None:
        earliest = max(_epoch(heard_start) - backfill, _epoch(window.captured_at))
    else:
        previous_end = _epoch(previous[0]) + previous[1]
        unobserved = max(0.0, _epoch(window.captured_at) - previous_end)
        earliest = _epoch(heard_start) - backfill - unobserved
    return _at(min(_epoch(heard_start), max(alignment, earliest)))


def _play_extend(*, play: PlayLog, obs: Observation, duration: float | None) -> bool:
    """Grows a (locked) play by one observation; False when the play is frozen."""
    if play.royalty_status != RoyaltyStatus.PENDING:
        return False  # royalties were computed on it: its numbers no longer move
    share = analytics.play_rollup_snapshot(play)  # rollups: before the change
    ended_at = max(play.ended_at, obs.heard_end)
    if duration:
        ended_at = min(ended_at, max(play.ended_at, _at(play.alignment + duration / play.speed)))
    play.started_at = min(play.started_at, obs.heard_start)
    play.ended_at = max(ended_at, play.started_at)
    play.window_count += 1
    play.confidence_sum += obs.confidence
    play.avg_confidence = play.confidence_sum / play.window_count
    play.peak_confidence = max(play.peak_confidence, obs.confidence)
    play.duration_seconds = _duration(play.started_at, play.ended_at)
    play.royalty_bearing = _royalty_bearing(play.duration_seconds)
    if play.verification_status == VerificationStatus.PENDING_REVIEW:
        play.verification_status = _verification_for(play.peak_confidence)
    play.unheard_since = None
    if not play.is_open:
        play.is_open = True
        play.closed_at = None
    play.save()
    if not analytics.play_rollup_deferred(before=share, play=play):
        analytics.play_rollup_changed(before=share, play=play)  # rollups: after the change
    return True


def _play_create(
    *, window: MatchCache, obs: Observation, earlier: list[WindowMatch], source: str
) -> tuple[PlayLog, bool]:
    """Logs a new airing from this observation and the earlier candidates it confirms;
    (play, True) when created.

    If the database says the airing is logged already (a concurrent or repeated run
    landed on a taken alignment cell), that play is extended instead: (play, False).
    """
    first_heard = min([obs.heard_start, *[c.heard_start for c in earlier]])
    first_window = min([c.window for c in earlier], key=lambda w: w.captured_at, default=window)
    started_at = _start_estimate(
        window=first_window, heard_start=first_heard, alignment=obs.alignment
    )
    ended_at = max([obs.heard_end, *[c.heard_end for c in earlier]])
    confidences = [obs.confidence, *[c.confidence for c in earlier]]
    duration = _duration(started_at, ended_at)
    try:
        with transaction.atomic():
            play = PlayLog.objects.create(
                station_id=window.station_id,
                track_id=obs.track_id,
                started_at=started_at,
                ended_at=ended_at,
                duration_seconds=duration,
                avg_confidence=sum(confidences) / len(confidences),
                peak_confidence=max(confidences),
                confidence_sum=sum(confidences),
                window_count=len(confidences),
                speed=obs.speed,
                source=source,
                alignment=obs.alignment,
                verification_status=_verification_for(max(confidences)),
                royalty_bearing=_royalty_bearing(duration),
            )
            analytics.play_rollup_changed(before=None, play=play)  # rollups: a new play
        return play, True
    except IntegrityError as exc:
        collision = exc
    play = (
        _plays_locked()
        .filter(
            station_id=window.station_id,
            track_id=obs.track_id,
            alignment__gte=obs.alignment - ALIGNMENT_CELL_SECONDS,
            alignment__lte=obs.alignment + ALIGNMENT_CELL_SECONDS,
        )
        .annotate(distance=Func(F("alignment") - obs.alignment, function="ABS"))
        .order_by("distance")
        .first()
    )
    if play is None:  # not an airing collision: a real error
        raise collision
    _play_extend(play=play, obs=obs, duration=None)
    return play, False


def _same_run(candidate: WindowMatch, obs: Observation) -> bool:
    """Whether an unassigned earlier window heard the track where this observation says the
    airing was then: its track position, run on at the observed speed to when `obs` was
    heard, lands within CONFIRM_OFFSET_TOLERANCE_SECONDS of where `obs` heard the track.

    The alignment tolerance is wide because an alignment divides a large track offset by a
    speed the matcher estimates to a percent; this compares positions a few seconds apart,
    so that error vanishes and chance agreement does not get through.
    """
    elapsed = (obs.heard_start - candidate.heard_start).total_seconds()
    expected = candidate.track_offset + elapsed * obs.speed
    return abs(expected - obs.track_offset) <= CONFIRM_OFFSET_TOLERANCE_SECONDS


def _unbroken_run(*, station_id: int, obs: Observation, match: WindowMatch) -> list[WindowMatch]:
    """The station's recent unassigned windows of this track that heard the same run as
    `obs` (see _same_run), since the last one that heard the track somewhere else.

    Recent: heard within DETECTIONS_MAX_GAP_SECONDS, the time a play may go unheard.
    """
    recent = (
        WindowMatch.objects.select_related("window")
        .filter(
            station_id=station_id,
            track_id=obs.track_id,
            play__isnull=True,
            heard_end__gte=obs.heard_start - timedelta(seconds=settings.DETECTIONS_MAX_GAP_SECONDS),
            heard_start__lte=obs.heard_start,
        )
        .exclude(pk=match.pk)
        .order_by("heard_start")
    )
    run: list[WindowMatch] = []
    for candidate in recent:
        if _same_run(candidate, obs):
            run.append(candidate)
        else:
            run = []  # heard the track elsewhere: what came before is not this run's
    return run


def _heard_beyond_one_window(
    *, window: MatchCache, obs: Observation, earlier: list[WindowMatch]
) -> bool:
    """Whether the windows confirming an airing heard it over more audio than one window
    holds. Windows overlap (10 s every 5 s), so two of them agreeing on a few seconds
    both heard is one piece of evidence counted twice, not two."""
    first = min([obs.heard_start, *[c.heard_start for c in earlier]])
    last = max([obs.heard_end, *[c.heard_end for c in earlier]])
    return (last - first).total_seconds() > window.window_seconds


def _observation_apply(
    *, window: MatchCache, obs: Observation, match: WindowMatch, duration: float | None
) -> tuple[PlayLog | None, str]:
    """Merges one observation into the station's plays: (play, "started"|"updated"|"")."""
    station_id = window.station_id
    play = _play_for_airing(station_id=station_id, track_id=obs.track_id, alignment=obs.alignment)
    if play is None:
        play = _play_continued(
            station_id=station_id, track_id=obs.track_id, obs=obs, duration=duration
        )
    if play is not None:
        changed = _play_extend(play=play, obs=obs, duration=duration)
        WindowMatch.objects.filter(pk=match.pk).update(play=play)
        return play, ("updated" if changed else "")
    # However confident, one window is not an airing: two catalogue recordings can share
    # a stretch of audio (a remix, a sampled hook). Nor are two overlapping windows that
    # heard the same few seconds, windows whose track positions only roughly keep step,
    # windows long apart, or two that agree while the windows between them heard the
    # track elsewhere: a song outside the catalogue can share a loop with a catalogue
    # song and match it weakly (8-17 hits) again and again, and the benchmark's false
    # plays were made in just these ways.
    earlier = _unbroken_run(station_id=station_id, obs=obs, match=match)
    if len(earlier) + 1 < settings.DETECTIONS_CONFIRM_WINDOWS or not _heard_beyond_one_window(
        window=window, obs=obs, earlier=earlier
    ):
        return None, ""
    play, created = _play_create(window=window, obs=obs, earlier=earlier, source=window.source)
    ids = [match.pk, *[c.pk for c in earlier]]
    WindowMatch.objects.filter(pk__in=ids).update(play=play)
    MatchCache.objects.filter(pk__in=[c.window_id for c in earlier], play__isnull=True).update(
        play=play, status=MatchStatus.PROCESSED
    )
    return play, ("started" if created else "updated")


def _tracker_feed(
    *, window: MatchCache, observations: list[Observation], durations: dict[int, float | None]
) -> None:
    """Applies a window's observations, then ends the station's plays it shows are over."""
    heard: dict[int, str] = {}
    best_play: PlayLog | None = None
    for obs in observations:
        match = WindowMatch.objects.create(
            window=window,
            station_id=window.station_id,
            track_id=obs.track_id,
            track_offset=obs.track_offset,
            query_offset=obs.query_offset,
            speed=obs.speed,
            confidence=obs.confidence,
            hits=obs.hits,
            coverage=obs.coverage,
            alignment=obs.alignment,
            heard_start=obs.heard_start,
            heard_end=obs.heard_end,
        )
        play, change = _observation_apply(
            window=window, obs=obs, match=match, duration=durations.get(obs.track_id)
        )
        if play is None:
            continue
        if best_play is None:
            best_play = play
        if change:
            heard[play.pk] = change
        else:
            heard.setdefault(play.pk, "")
    if best_play is not None:
        window.play = best_play
        window.status = MatchStatus.PROCESSED
        window.save(update_fields=["play", "status"])
    window_end = window.captured_at + timedelta(seconds=window.window_seconds)
    _plays_close_unheard(window=window, window_end=window_end, heard=set(heard))
    if heard:
        plays = PlayLog.objects.in_bulk(list(heard))
        for play_id, change in heard.items():
            if change:
                _play_broadcast(play=plays[play_id], event=f"play.{change}")


def _plays_close_unheard(*, window: MatchCache, window_end: datetime, heard: set[int]) -> None:
    """Ends the station's open plays this window did not hear, when another track took
    over or the play has gone unheard for longer than the gap allowance."""
    other_track_heard = bool(heard)
    gap = timedelta(seconds=settings.DETECTIONS_MAX_GAP_SECONDS)
    for play in (
        _plays_locked().filter(station_id=window.station_id, is_open=True).exclude(pk__in=heard)
    ):
        if play.started_at > window_end:
            continue  # a later window of a backfill: not ours to judge
        if play.unheard_since is None and window.captured_at >= play.started_at:
            play.unheard_since = window.captured_at
            play.save(update_fields=["unheard_since", "updated_at"])
        if other_track_heard or window_end - play.ended_at > gap:
            play_close(play=play)


def _natural_end(play: PlayLog) -> datetime | None:
    duration = Track.objects.filter(pk=play.track_id).values_list("duration_seconds", flat=True)
    seconds = duration.first()
    if not seconds:
        return None
    return _at(play.alignment + seconds / play.speed)


def play_close(*, play: PlayLog) -> PlayLog:
    """Ends an open (locked) play and broadcasts play.ended on commit.

    When the first window that did not hear the play began after its last heard moment
    (sampled capture leaves gaps), the song is taken to have run on until then, but
    never past its own end.
    """
    if not play.is_open:
        return play
    share = analytics.play_rollup_snapshot(play)  # rollups: before the change
    if (
        play.unheard_since
        and play.unheard_since > play.ended_at
        and play.royalty_status == (RoyaltyStatus.PENDING)
    ):
        natural = _natural_end(play)
        if natural is not None:
            play.ended_at = max(play.ended_at, min(natural, play.unheard_since))
            play.duration_seconds = _duration(play.started_at, play.ended_at)
            play.royalty_bearing = _royalty_bearing(play.duration_seconds)
    play.is_open = False
    play.closed_at = timezone.now()
    play.save()
    # Settled: the airtime its extensions deferred is counted now.
    analytics.play_rollup_changed(before=share, play=play, settle=True)
    _play_broadcast(play=play, event="play.ended")
    return play


def plays_close_open(*, station_id: int, until: datetime) -> int:
    """Ends the station's open plays last heard before `until` (the end of a recording or
    of a capture session); returns how many."""
    closed = 0
    with transaction.atomic():
        for play in _plays_locked().filter(
            station_id=station_id, is_open=True, ended_at__lte=until
        ):
            play_close(play=play)
            closed += 1
    return closed


def plays_close_stale(*, now: datetime | None = None) -> int:
    """Ends open plays of stations that stopped sending windows (capture down, worker
    gone): unheard for longer than the gap allowance plus the station's sampling interval."""
    now = now or timezone.now()
    gap = settings.DETECTIONS_MAX_GAP_SECONDS
    closed = 0
    candidates = PlayLog.objects.filter(is_open=True).values_list(
        "pk", "station__sample_interval_seconds", "ended_at"
    )
    for play_id, interval, ended_at in candidates:
        if now - ended_at <= timedelta(seconds=gap + (interval or 0) * 2):
            continue
        with transaction.atomic():
            play = _plays_locked().filter(pk=play_id, is_open=True).first()
            if play is not None:
                play_close(play=play)
                closed += 1
    return closed


# --- Live feed --------------------------------------------------------------------------
def _play_groups(play: PlayLog) -> tuple[list[str], Track]:
    from artists.models import PublisherArtistRelationship, RelationshipStatus

    track = Track.objects.select_related("primary_artist").get(pk=play.track_id)
    artist_ids = [track.primary_artist_id, *track.featured_artists.values_list("pk", flat=True)]
    publisher_ids = PublisherArtistRelationship.objects.filter(
        artist_id__in=artist_ids, status=RelationshipStatus.ACTIVE
    ).values_list("publisher_id", flat=True)
    return [
        live.station_group(play.station_id),
        live.track_group(play.track_id),
        *[live.artist_group(a) for a in artist_ids],
        *[live.publisher_group(p) for p in sorted(set(publisher_ids))],
        live.staff_group(),
    ], track


def _play_broadcast(*, play: PlayLog, event: str, extra_groups: list[str] = ()) -> None:
    # extra_groups: where the play was seen before a correction moved it (play_override).
    groups, track = _play_groups(play)
    live.broadcast_on_commit(
        groups=[*groups, *extra_groups],
        event=event,
        payload={
            "play_id": play.pk,
            "station_id": play.station_id,
            "track_id": play.track_id,
            "title": track.title,
            "artist": track.primary_artist.stage_name,
            "started_at": play.started_at,
            "ended_at": play.ended_at,
            "duration_seconds": play.duration_seconds,
            "confidence": round(play.avg_confidence, 4),
            "verification_status": play.verification_status,
            "is_open": play.is_open,
        },
    )


# --- Statuses other apps set ------------------------------------------------------------
def plays_set_royalty_status(*, play_ids: list[int], status: str) -> int:
    """Sets the royalty status of many plays in one UPDATE (the royalties app calls it)."""
    if status not in RoyaltyStatus.values:
        raise ValidationFailed(f"Unknown royalty status {status!r}.", details={"status": status})
    return PlayLog.objects.filter(pk__in=list(play_ids)).update(
        royalty_status=status, updated_at=timezone.now()
    )


def plays_set_payment_status(*, play_ids: list[int], status: str) -> int:
    """Sets the payment status of many plays in one UPDATE (station invoicing calls it)."""
    if status not in PaymentStatus.values:
        raise ValidationFailed(f"Unknown payment status {status!r}.", details={"status": status})
    return PlayLog.objects.filter(pk__in=list(play_ids)).update(
        payment_status=status, updated_at=timezone.now()
    )


_REVIEWABLE = {
    VerificationStatus.VERIFIED,
    VerificationStatus.REJECTED,
    VerificationStatus.DISPUTED,
    VerificationStatus.PENDING_REVIEW,
}


def play_review(*, actor: User, play_id: int, status: str, note: str = "") -> PlayLog:
    """Staff decide a play's verification status; audited. A play whose royalties are
    already calculated cannot be rejected or disputed here (royalties reverse it)."""
    if status not in _REVIEWABLE:
        raise ValidationFailed("Unknown verification status.", details={"status": [status]})
    with transaction.atomic():
        play = _plays_locked().filter(pk=play_id).first()
        if play is None:
            raise NotFound("No such play.")
        if play.disputes.filter(status__in=ACTIVE_DISPUTE_STATUSES).exists():
            raise InvalidTransition(
                "This play has an open dispute; it is decided by the dispute's resolution.",
                code="play_under_dispute",
            )
        if status in (
            VerificationStatus.REJECTED,
            VerificationStatus.DISPUTED,
        ) and play.royalty_status not in (RoyaltyStatus.PENDING, RoyaltyStatus.WITHHELD):
            raise InvalidTransition(
                "Royalties were already calculated on this play; reverse them first.",
                details={"royalty_status": play.royalty_status},
            )
        before = {"verification_status": play.verification_status, "review_note": play.review_note}
        share = analytics.play_rollup_snapshot(play)  # rollups: before the change
        play.verification_status = status
        play.review_note = note
        play.reviewed_by = actor
        play.reviewed_at = timezone.now()
        play.save(
            update_fields=[
                "verification_status",
                "review_note",
                "reviewed_by",
                "reviewed_at",
                "updated_at",
            ]
        )
        analytics.play_rollup_changed(before=share, play=play)  # rollups: after the change
        audit_record(
            actor=actor,
            action="detections.play_review",
            target=play,
            before=before,
            after={"verification_status": status, "review_note": note},
        )
        _play_broadcast(play=play, event="play.updated")
    return play


# --- Retention --------------------------------------------------------------------------
def match_cache_prune(*, older_than_days: int | None = None) -> int:
    """Deletes analysed windows (and their matches) older than the retention period."""
    days = older_than_days or settings.DETECTIONS_MATCHCACHE_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = (
        MatchCache.objects.filter(created_at__lt=cutoff)
        .exclude(status=MatchStatus.PENDING)
        .delete()
    )
    return deleted


# --- Station uploads --------------------------------------------------------------------
@dataclass(frozen=True)
class UploadResult:
    upload: StationUpload
    created: bool


def station_upload_receive(
    *,
    station_id: int,
    user: User | None,
    chunk_id: str,
    captured_at: datetime,
    data: bytes,
    filename: str,
) -> UploadResult:
    """Stores a clip a station's device recorded and queues its analysis on commit.

    Re-sending a chunk_id the station sent before returns the first upload and creates
    nothing (the device retries when it missed our answer). The clip is decoded first,
    so something that is not audio is refused with 400 and nothing is stored.
    """
    existing = StationUpload.objects.filter(station_id=station_id, chunk_id=chunk_id).first()
    if existing is not None:
        return UploadResult(upload=existing, created=False)
    if len(data) > settings.DETECTIONS_UPLOAD_MAX_BYTES:
        raise ValidationFailed(
            "The clip is too large.",
            details={"audio": [f"At most {settings.DETECTIONS_UPLOAD_MAX_BYTES} bytes."]},
        )
    now = timezone.now()
    if captured_at > now + timedelta(minutes=5):
        raise ValidationFailed(
            "captured_at is in the future.", details={"captured_at": ["Is in the future."]}
        )
    if captured_at < now - timedelta(days=settings.DETECTIONS_UPLOAD_MAX_AGE_DAYS):
        raise ValidationFailed(
            "The clip is too old.",
            details={
                "captured_at": [
                    f"Clips older than {settings.DETECTIONS_UPLOAD_MAX_AGE_DAYS} days are refused."
                ]
            },
        )
    try:
        samples = decode(data, name=filename or "<upload>", min_seconds=MIN_QUERY_SECONDS)
    except FingerprintError as exc:
        raise ValidationFailed(
            "The file is not usable audio.", details={"audio": [str(exc)]}
        ) from None
    seconds = samples.size / _rate()
    if seconds > settings.DETECTIONS_UPLOAD_MAX_SECONDS:
        raise ValidationFailed(
            "The clip is too long.",
            details={"audio": [f"At most {settings.DETECTIONS_UPLOAD_MAX_SECONDS} seconds."]},
        )
    try:
        with transaction.atomic():
            upload = StationUpload(
                station_id=station_id,
                chunk_id=chunk_id,
                captured_at=captured_at,
                seconds=round(seconds, 3),
                size_bytes=len(data),
                uploaded_by=user,
            )
            upload.audio.save(filename or "clip", ContentFile(data), save=False)
            upload.save()
            enqueue_on_commit("detections.analyse_upload", upload_id=upload.pk)
    except IntegrityError:  # the same chunk raced in on a parallel request
        upload = StationUpload.objects.get(station_id=station_id, chunk_id=chunk_id)
        return UploadResult(upload=upload, created=False)
    return UploadResult(upload=upload, created=True)


def station_upload_analyse(*, upload_id: int) -> StationUpload | None:
    """Analyses a received clip like captured audio (source station_upload); marks it
    processed or failed. Safe to run twice: a processed upload is left alone, and its
    windows are keyed by time, so a retry analyses none of them again."""
    upload = StationUpload.objects.filter(pk=upload_id).first()
    if upload is None or upload.status == UploadStatus.PROCESSED:
        return upload
    try:
        with upload.audio.open("rb") as fh:
            samples = decode(fh.read(), name=upload.audio.name)
    except (FingerprintError, OSError) as exc:
        StationUpload.objects.filter(pk=upload.pk).update(
            status=UploadStatus.FAILED, error=str(exc)[:2000], processed_at=timezone.now()
        )
        upload.refresh_from_db()
        return upload
    audio_analyse(
        station_id=upload.station_id,
        started_at=upload.captured_at,
        samples=samples,
        source=PlaySource.STATION_UPLOAD,
    )
    StationUpload.objects.filter(pk=upload.pk).update(
        status=UploadStatus.PROCESSED, error="", processed_at=timezone.now()
    )
    upload.refresh_from_db()
    return upload
