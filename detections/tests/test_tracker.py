"""The play tracker, fed matches directly (engine Match objects, as the matcher returns
them), so each rule is pinned down to the second."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import TestCase

from detections import selectors, services
from detections.models import (
    MatchCache,
    MatchStatus,
    PlayLog,
    RoyaltyStatus,
    VerificationStatus,
    WindowMatch,
)
from detections.tests.factories import T0, PlayLogFactory, StationFactory
from fingerprinting.engine import Match
from tracks.tests.factories import TrackFactory

pytestmark = pytest.mark.django_db


def _feed(
    station,
    track,
    at: float,
    offset: float,
    *,
    confidence=1.0,
    coverage=1.0,
    seconds=10.0,
    key=None,
    extra=(),
):
    """A window starting `at` s after T0 hearing `track` from its second `offset` on."""
    matches = (
        []
        if track is None
        else [
            Match(
                track_id=track.pk,
                track_offset=offset,
                query_offset=0.0,
                speed=1.0,
                confidence=confidence,
                hits=100,
                second_hits=3,
                coverage=coverage,
                query_hashes=400,
            )
        ]
    )
    matches += list(extra)
    captured_at = T0 + timedelta(seconds=at)
    return services.window_record_matches(
        station_id=station.pk,
        captured_at=captured_at,
        seconds=seconds,
        source="radio",
        window_key=key
        or services.window_key_for(source="radio", captured_at=captured_at, seconds=seconds),
        matches=matches,
    )


def _secs(at) -> float:
    return (at - T0).total_seconds()


def test_windows_of_one_airing_make_one_growing_play():
    station, track = StationFactory(), TrackFactory(duration_seconds=60.0)
    for at in range(0, 55, 5):  # windows 0-10, 5-15, ..., 50-60
        _feed(station, track, at, at)

    play = PlayLog.objects.get()
    assert (_secs(play.started_at), _secs(play.ended_at)) == (0.0, 60.0)
    assert play.duration_seconds == Decimal("60.00")
    assert play.window_count == 11
    assert play.is_open
    assert play.verification_status == VerificationStatus.VERIFIED
    assert play.royalty_bearing
    assert play.alignment == T0.timestamp()
    assert set(MatchCache.objects.values_list("status", flat=True)) == {MatchStatus.PROCESSED}
    assert MatchCache.objects.filter(play=play).count() == 11


def test_windows_log_nothing_until_three_agree():
    station, track = StationFactory(), TrackFactory(duration_seconds=200.0)

    first = _feed(station, track, 0, 30, confidence=0.55)
    _feed(station, track, 5, 35, confidence=1.0)  # however confident, two are not enough

    assert PlayLog.objects.count() == 0
    first.refresh_from_db()
    assert first.status == MatchStatus.LOW_CONFIDENCE
    assert WindowMatch.objects.filter(play__isnull=True).count() == 2

    _feed(station, track, 10, 40, confidence=0.6)

    play = PlayLog.objects.get()
    assert play.window_count == 3
    assert play.verification_status == VerificationStatus.VERIFIED  # one window was
    assert play.peak_confidence == 1.0
    assert play.avg_confidence == pytest.approx(0.7166667)
    # Heard first at its second 30, and no window came before: dated from when heard.
    assert _secs(play.started_at) == 0.0
    first.refresh_from_db()
    assert (first.status, first.play_id) == (MatchStatus.PROCESSED, play.pk)


def test_low_confidence_windows_make_a_play_pending_review_until_one_is_verified():
    station, track = StationFactory(), TrackFactory(duration_seconds=200.0)
    for at, confidence in ((0, 0.55), (5, 0.6), (10, 0.65)):
        _feed(station, track, at, at + 30, confidence=confidence)

    play = PlayLog.objects.get()
    assert play.verification_status == VerificationStatus.PENDING_REVIEW
    assert play.avg_confidence == pytest.approx(0.6)

    _feed(station, track, 15, 45, confidence=0.9)
    play.refresh_from_db()
    assert play.verification_status == VerificationStatus.VERIFIED


def test_low_confidence_windows_that_disagree_on_alignment_log_nothing():
    station, track = StationFactory(), TrackFactory(duration_seconds=200.0)
    _feed(station, track, 0, 30, confidence=0.55)
    _feed(station, track, 5, 90, confidence=0.55)  # the same track, 55 s off: chance

    assert PlayLog.objects.count() == 0
    assert WindowMatch.objects.filter(play__isnull=True).count() == 2


def test_the_same_song_aired_twice_is_two_plays():
    station, track = StationFactory(), TrackFactory(duration_seconds=30.0)
    for at in (0, 10, 20):
        _feed(station, track, at, at)
    _feed(station, None, 30, 0)
    for at in (40, 50, 60):
        _feed(station, track, at, at - 40)

    plays = list(PlayLog.objects.order_by("started_at"))
    assert [(_secs(p.started_at), _secs(p.ended_at)) for p in plays] == [(0, 30), (40, 70)]
    assert not plays[0].is_open


def test_a_repeated_stretch_inside_the_song_does_not_split_the_play():
    """Songs repeat a chorus: mid-song a window matches the earlier chorus (an alignment
    jump within the song's own run), and the airing stays one play."""
    station, track = StationFactory(), TrackFactory(duration_seconds=120.0)
    for at in (0, 10, 20, 30):
        _feed(station, track, at, at)
    _feed(station, track, 40, 10)  # the chorus of 0:10 again, at 0:40
    for at in (50, 60):
        _feed(station, track, at, at)

    play = PlayLog.objects.get()
    assert (_secs(play.started_at), _secs(play.ended_at), play.window_count) == (0, 70, 7)


def test_a_song_restarted_after_its_end_is_a_new_play():
    station, track = StationFactory(), TrackFactory(duration_seconds=30.0)
    for at in (0, 10, 20):
        _feed(station, track, at, at)
    for at in (30, 40, 50):  # straight into the same song again
        _feed(station, track, at, at - 30)

    assert PlayLog.objects.count() == 2


def test_a_song_cut_and_begun_again_is_two_plays_with_their_own_times():
    """The DJ stops a song 40 s in and starts it again: the second airing's windows lie
    inside the first's run (second 0 + 120 s), but they heard the song from its start
    after the first airing was last heard, so they are a new airing, not a continuation."""
    station, track = StationFactory(), TrackFactory(duration_seconds=120.0)
    for at in range(0, 35, 5):  # heard 0-40
        _feed(station, track, at, at)
    for at in range(40, 75, 5):  # from second 0 again at 0:40
        _feed(station, track, at, at - 40)

    plays = list(PlayLog.objects.order_by("started_at"))
    assert [(_secs(p.started_at), _secs(p.ended_at)) for p in plays] == [(0, 40), (40, 80)]
    assert [p.window_count for p in plays] == [7, 7]
    assert not plays[0].is_open


def test_a_song_begun_again_in_a_crossfade_is_a_new_play():
    """A song faded out early and crossfaded into itself: the new airing's second 0 is
    4 s before the old one was last heard, within the crossfade allowance."""
    station, track = StationFactory(), TrackFactory(duration_seconds=300.0)
    for at in range(0, 35, 5):  # heard 0-40
        _feed(station, track, at, at)
    for at in range(40, 75, 5):  # second 0 again at 0:36
        _feed(station, track, at, at - 36)

    plays = list(PlayLog.objects.order_by("started_at"))
    assert [(_secs(p.started_at), _secs(p.ended_at)) for p in plays] == [(0, 40), (36, 80)]


def test_one_window_hearing_the_song_s_opening_mid_song_does_not_split_the_play():
    """A loop that repeats the song's first seconds, heard once mid-song, is not a new
    airing (too little to confirm one), and the play goes on at its own alignment."""
    station, track = StationFactory(), TrackFactory(duration_seconds=120.0)
    for at in range(0, 35, 5):
        _feed(station, track, at, at)
    _feed(station, track, 40, 2)  # the opening again
    for at in (45, 50, 55, 60):
        _feed(station, track, at, at)

    play = PlayLog.objects.get()
    assert (_secs(play.started_at), _secs(play.ended_at)) == (0, 70)
    assert play.is_open
    assert WindowMatch.objects.filter(play__isnull=True).count() == 1


def test_a_retried_window_changes_nothing():
    station, track = StationFactory(), TrackFactory(duration_seconds=60.0)
    _feed(station, track, 0, 0)
    row = _feed(station, track, 5, 5)
    before = list(PlayLog.objects.values())

    again = _feed(station, track, 5, 5)

    assert again.pk == row.pk
    assert list(PlayLog.objects.values()) == before
    assert MatchCache.objects.count() == 2
    assert WindowMatch.objects.count() == 2


def test_the_database_refuses_a_second_play_of_the_same_airing():
    station, track = StationFactory(), TrackFactory()
    # 1000 s sits on a boundary of the first grid (cells of 20 s rounded: 990-1010|1010-1030
    # rounds 1000/20 = 50 ... pick both sides of a boundary of each grid.
    first = PlayLogFactory(station=station, track=track, alignment=1_000_000_010.0)
    for alignment in (1_000_000_008.0, 1_000_000_012.0, 1_000_000_001.0, 1_000_000_019.0):
        with pytest.raises(IntegrityError), transaction.atomic():
            PlayLogFactory(station=station, track=track, alignment=alignment)
    # Another airing (a song's length away), another track or another station: fine.
    PlayLogFactory(station=station, track=track, alignment=first.alignment + 200)
    PlayLogFactory(station=station, track=TrackFactory(), alignment=first.alignment)
    PlayLogFactory(station=StationFactory(), track=track, alignment=first.alignment)
    assert PlayLog.objects.count() == 4


def test_an_airing_that_collides_in_the_database_extends_the_logged_play():
    """7 s off is beyond the tracker's tolerance (4 s) but inside the constraint's 10 s:
    the insert is refused and the existing play is extended instead of failing."""
    station, track = StationFactory(), TrackFactory(duration_seconds=300.0)
    existing = PlayLogFactory(
        station=station,
        track=track,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=20),
        duration_seconds=Decimal("20.00"),
        alignment=T0.timestamp(),
        is_open=True,
        window_count=2,
    )

    _feed(station, track, 20, 13)  # alignment T0 + 7 s

    assert PlayLog.objects.count() == 1
    existing.refresh_from_db()
    assert (existing.window_count, _secs(existing.ended_at)) == (3, 30)


def test_another_track_ends_the_open_play_and_a_gap_ends_it_too():
    station = StationFactory()
    first, second = TrackFactory(duration_seconds=300.0), TrackFactory(duration_seconds=300.0)
    for at in (0, 5, 10):
        _feed(station, first, at, at)
    _feed(station, second, 20, 0)  # windows of another track: not yet a play
    _feed(station, second, 25, 5)
    assert PlayLog.objects.filter(is_open=True).count() == 1
    _feed(station, second, 30, 10)

    one, two = PlayLog.objects.order_by("started_at")
    assert (one.is_open, two.is_open) == (False, True)
    assert _secs(one.ended_at) == 20

    _feed(station, None, 45, 0)  # talk: 15 s unheard, within the 30 s allowance
    two.refresh_from_db()
    assert two.is_open
    _feed(station, None, 65, 0)  # window ends 75: 35 s unheard
    two.refresh_from_db()
    assert not two.is_open
    # Heard until 40; the window at 45 was the first not to hear it, and 40-45 went
    # unobserved: the song is taken to have run until then.
    assert _secs(two.ended_at) == 45


def test_sampled_capture_extends_a_play_to_the_next_sample_but_not_past_the_song():
    """20 s samples every 60 s: a song heard in one sample and not the next is taken to
    have run on until the next sample began, or to its own end if sooner."""
    station = StationFactory(sample_seconds=20, sample_interval_seconds=60)
    long_song, short_song = (
        TrackFactory(duration_seconds=600.0),
        TrackFactory(duration_seconds=50.0),
    )
    # Each sample is analysed as three 10 s windows, 5 s apart.
    for at in (0, 5, 10):
        _feed(station, long_song, at, 100 + at)
    for at in (60, 65, 70):  # cut before this sample began
        _feed(station, None, at, 0)
    for at in (120, 125, 130):  # natural end at 160
        _feed(station, short_song, at, at - 110)
    _feed(station, None, 180, 0)

    cut, natural = PlayLog.objects.order_by("started_at")
    assert (_secs(cut.ended_at), cut.is_open) == (60, False)
    assert (_secs(natural.ended_at), natural.is_open) == (160, False)
    # The song's second 0 was 10 s before the sample and no sample covered that time.
    assert _secs(natural.started_at) == 110


def test_under_sampled_capture_a_repeated_chorus_in_a_later_sample_does_not_split_the_play():
    """20 s samples every 60 s: the third sample hears the song's repeated chorus, whose
    audio is that of 0:40-1:10, so its three windows agree on an alignment 60 s late. The
    airing's run still covers them, the song was heard 40 s earlier, and no window
    listened in between: one airing, as under continuous capture."""
    station = StationFactory(sample_seconds=20, sample_interval_seconds=60)
    song = TrackFactory(duration_seconds=240.0)
    for sample in (0, 60):
        for at in (sample, sample + 5, sample + 10):
            _feed(station, song, at, at)
    for at in (120, 125, 130):  # the chorus of 0:40 again, at 2:00
        _feed(station, song, at, at - 60)
    for at in (180, 185, 190):
        _feed(station, song, at, at)

    play = PlayLog.objects.get()
    assert (_secs(play.started_at), _secs(play.ended_at), play.window_count) == (0, 200, 12)
    assert not WindowMatch.objects.filter(play__isnull=True).exists()


def test_under_sampled_capture_a_song_begun_again_in_a_later_sample_is_a_new_play():
    """The same samples, but the third hears the song from its start: begun again."""
    station = StationFactory(sample_seconds=20, sample_interval_seconds=60)
    song = TrackFactory(duration_seconds=240.0)
    for sample in (0, 60):
        for at in (sample, sample + 5, sample + 10):
            _feed(station, song, at, at)
    for at in (120, 125, 130):  # from second 0 again at 1:58
        _feed(station, song, at, at - 118)

    first, second = PlayLog.objects.order_by("started_at")
    assert (_secs(first.started_at), _secs(second.started_at)) == (0, 118)


def test_a_song_heard_again_mid_run_after_a_minute_of_listening_is_a_new_airing():
    """Continuous capture: a song unheard for longer than the gap allowance, with windows
    listening all along, is not continued by a later stretch of it, even one that lies
    within its first airing's run and did not begin it again (a DJ going back to it after
    a minute of something else): that is a new airing."""
    station, other = StationFactory(), TrackFactory(duration_seconds=600.0)
    song = TrackFactory(duration_seconds=600.0)
    for at in range(0, 35, 5):
        _feed(station, song, at, at)
    for at in range(40, 100, 5):  # something else for a minute
        _feed(station, other, at, at)
    for at in range(100, 135, 5):  # the song's 1:15 on, at 1:40
        _feed(station, song, at, at - 25)

    assert PlayLog.objects.filter(track=song).count() == 2


def test_talk_over_an_intro_dates_the_play_from_the_songs_start():
    station, track = StationFactory(), TrackFactory(duration_seconds=200.0)
    _feed(station, None, 0, 0)
    _feed(station, None, 5, 0)  # the intro under talk: unmatched
    _feed(station, track, 10, 12)  # heard at its second 12: it started at 0 s... -2 s
    _feed(station, track, 15, 17)
    _feed(station, track, 20, 22)

    play = PlayLog.objects.get()
    assert _secs(play.started_at) == -2.0


def test_a_short_play_is_kept_but_not_royalty_bearing(settings):
    settings.DETECTIONS_MIN_ROYALTY_SECONDS = 20
    station, track = StationFactory(), TrackFactory(duration_seconds=18.0)
    for at in (0, 4, 8):
        _feed(station, track, at, at)

    play = PlayLog.objects.get()
    assert play.duration_seconds == Decimal("18.00")
    assert not play.royalty_bearing
    assert play.verification_status == VerificationStatus.VERIFIED


def test_a_play_with_royalties_calculated_no_longer_changes():
    station, track = StationFactory(), TrackFactory(duration_seconds=300.0)
    for at in (0, 5, 10):
        _feed(station, track, at, at)
    play = PlayLog.objects.get()
    services.plays_set_royalty_status(play_ids=[play.pk], status=RoyaltyStatus.CALCULATED)

    _feed(station, track, 15, 15)

    play.refresh_from_db()
    assert (play.window_count, _secs(play.ended_at)) == (3, 20)
    assert WindowMatch.objects.filter(play=play).count() == 4


def test_two_songs_in_one_window_feed_both_plays():
    station = StationFactory()
    ending, starting = TrackFactory(duration_seconds=25.0), TrackFactory(duration_seconds=300.0)
    _feed(station, ending, 0, 10)
    _feed(station, ending, 5, 15)
    both = Match(
        track_id=starting.pk,
        track_offset=0.0,
        query_offset=6.0,
        speed=1.0,
        confidence=0.95,
        hits=60,
        second_hits=3,
        coverage=0.4,
        query_hashes=400,
    )
    row = _feed(station, ending, 10, 20, coverage=0.5, extra=[both])
    _feed(station, starting, 20, 4)
    _feed(station, starting, 25, 9)

    one, two = PlayLog.objects.order_by("started_at")
    # Heard from its second 10 in the station's first window: nothing before it to go by.
    assert (one.track_id, _secs(one.started_at), _secs(one.ended_at)) == (ending.pk, 0, 15)
    assert (two.track_id, _secs(two.started_at), _secs(two.ended_at)) == (starting.pk, 16, 35)
    assert row.match_count == 2 and row.track_id == ending.pk


def test_stale_open_plays_are_closed_by_the_sweeper():
    station, track = StationFactory(sample_interval_seconds=60), TrackFactory()
    for at in (0, 5, 10):
        _feed(station, track, at, at)
    play = PlayLog.objects.get()

    assert services.plays_close_stale(now=T0 + timedelta(seconds=105)) == 0
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        assert services.plays_close_stale(now=T0 + timedelta(seconds=400)) == 1

    play.refresh_from_db()
    assert not play.is_open
    assert len(callbacks) == 1  # the play.ended broadcast, on commit


def test_plays_for_royalties_selects_verified_closed_royalty_bearing_pending_plays():
    wanted = PlayLogFactory(started_at=T0)
    PlayLogFactory(started_at=T0, verification_status=VerificationStatus.PENDING_REVIEW)
    PlayLogFactory(started_at=T0, verification_status=VerificationStatus.DISPUTED)
    PlayLogFactory(started_at=T0, royalty_bearing=False)
    PlayLogFactory(started_at=T0, royalty_status=RoyaltyStatus.WITHHELD)
    PlayLogFactory(started_at=T0, royalty_status=RoyaltyStatus.CALCULATED)
    PlayLogFactory(started_at=T0, is_open=True)
    PlayLogFactory(started_at=T0 + timedelta(days=1))

    found = list(selectors.plays_for_royalties(start=T0, end=T0 + timedelta(days=1)))

    assert found == [wanted]


def test_statuses_are_set_in_bulk_and_unknown_ones_refused():
    plays = [PlayLogFactory(), PlayLogFactory(), PlayLogFactory()]
    ids = [p.pk for p in plays[:2]]

    assert services.plays_set_royalty_status(play_ids=ids, status="calculated") == 2
    assert services.plays_set_payment_status(play_ids=ids, status="charged") == 2
    with pytest.raises(services.ValidationFailed):
        services.plays_set_royalty_status(play_ids=ids, status="paid")

    assert list(PlayLog.objects.order_by("pk").values_list("royalty_status", "payment_status")) == [
        ("calculated", "charged"),
        ("calculated", "charged"),
        ("pending", "pending"),
    ]


def test_one_window_of_a_twin_recording_during_a_play_is_not_an_airing():
    """A remix shares a stretch with its original: for one window the twin matches as
    surely as the song on air. One window, however confident, logs nothing."""
    station = StationFactory()
    original, remix = TrackFactory(duration_seconds=200.0), TrackFactory(duration_seconds=200.0)
    for at in (0, 5, 10):
        twin = (
            [
                Match(
                    track_id=remix.pk,
                    track_offset=60.0,
                    query_offset=0.0,
                    speed=1.0,
                    confidence=0.99,
                    hits=150,
                    second_hits=3,
                    coverage=1.0,
                    query_hashes=400,
                )
            ]
            if at == 5
            else []
        )
        _feed(station, original, at, at, extra=twin)

    assert list(PlayLog.objects.values_list("track_id", flat=True)) == [original.pk]
    assert WindowMatch.objects.get(track=remix).play is None


def _weak(station, track, at: float, *, query_offset, offset, speed, coverage, confidence):
    """A window starting `at` s after T0 that matched `track` weakly, as the benchmark's
    songs outside the catalogue drew (figures from bench/monitor.py's 24-hour run)."""
    match = Match(
        track_id=track.pk,
        track_offset=offset,
        query_offset=query_offset,
        speed=speed,
        confidence=confidence,
        hits=10,
        second_hits=5,
        coverage=coverage,
        query_hashes=9000,
    )
    return _feed(station, None, at, 0, extra=[match])


def test_two_overlapping_windows_hearing_the_same_seconds_are_not_an_airing():
    """A song not in the catalogue sounded for a few seconds like one that is. The windows
    overlap, so both heard those same seconds and agree to the hundredth: one piece of
    evidence seen twice, not two."""
    station, track = StationFactory(), TrackFactory(duration_seconds=233.7)
    _weak(
        station,
        track,
        970,
        query_offset=5.71,
        offset=212.83,
        speed=1.005,
        coverage=0.4,
        confidence=0.633,
    )
    _weak(
        station,
        track,
        975,
        query_offset=0.71,
        offset=212.82,
        speed=1.015,
        coverage=0.6,
        confidence=0.836,
    )
    _feed(station, None, 980, 0)

    assert PlayLog.objects.count() == 0
    assert WindowMatch.objects.filter(play__isnull=True).count() == 2


def test_chance_matches_that_only_roughly_agree_on_alignment_are_not_an_airing():
    """Two windows 30 s apart whose alignments differ by 1.3 s (inside the 4 s tolerance
    that large track offsets at estimated speeds need), but whose track positions are
    1.3 s out of step over those 28 s: a real airing keeps step to a few tenths."""
    station, track = StationFactory(), TrackFactory(duration_seconds=460.7)
    _weak(
        station,
        track,
        460,
        query_offset=2.23,
        offset=374.35,
        speed=1.02,
        coverage=0.6,
        confidence=0.799,
    )
    for at in range(465, 490, 5):
        _feed(station, None, at, 0)
    _weak(
        station,
        track,
        490,
        query_offset=0.5,
        offset=401.86,
        speed=1.02,
        coverage=0.7,
        confidence=0.552,
    )

    assert PlayLog.objects.count() == 0


def test_windows_agreeing_minutes_apart_are_not_an_airing():
    """Alignments 1.6 s apart, but 110 s apart in time with nothing heard in between:
    evidence older than a play may go unheard does not confirm a new one."""
    station, track = StationFactory(), TrackFactory(duration_seconds=460.7)
    _weak(
        station,
        track,
        85,
        query_offset=1.76,
        offset=266.81,
        speed=1.015,
        coverage=0.5,
        confidence=0.7,
    )
    for at in range(90, 195, 5):
        _feed(station, None, at, 0)
    _weak(
        station,
        track,
        195,
        query_offset=0.97,
        offset=376.03,
        speed=1.015,
        coverage=0.5,
        confidence=0.633,
    )

    assert PlayLog.objects.count() == 0


def test_a_weakly_heard_airing_is_logged_once_the_windows_heard_more_than_one_window():
    """Talk over the start: each window holds aligned hits for under half its length, 2 %
    fast. The third window takes the evidence past one window's worth of audio; the play
    is dated from the song's second 0, which the first window placed at 1 s."""
    station, track = StationFactory(), TrackFactory(duration_seconds=200.0)
    for at in (0, 5, 10):
        heard = at + 2.0  # each window's aligned hits begin 2 s in: the song's (heard - 1) s
        _weak(
            station,
            track,
            at,
            query_offset=2.0,
            offset=(heard - 1.0) * 1.02,
            speed=1.02,
            coverage=0.4,
            confidence=0.6,
        )
        if at < 10:
            assert PlayLog.objects.count() == 0

    play = PlayLog.objects.get()
    assert play.window_count == 3
    assert _secs(play.started_at) == pytest.approx(1.0, abs=0.01)


def test_windows_that_keep_step_are_not_an_airing_when_those_between_heard_the_track_elsewhere():
    """A song outside the catalogue shares a loop with a catalogue song: windows 15 s apart
    both heard the catalogue song in step (to 0.03 s), but the two windows between them
    heard it at other places. A real airing is heard in step window after window."""
    station, track = StationFactory(), TrackFactory(duration_seconds=460.7)
    for at, query_offset, offset, coverage in (
        (225, 0.71, 372.51, 0.8),
        (230, 0.11, 372.54, 0.8),  # the loop again: the same stretch of the catalogue song
        (235, 0.32, 389.39, 0.6),
        (240, 0.55, 387.60, 0.5),  # in step with the window at 225
    ):
        _weak(
            station,
            track,
            at,
            query_offset=query_offset,
            offset=offset,
            speed=1.015,
            coverage=coverage,
            confidence=0.633,
        )

    assert PlayLog.objects.count() == 0
