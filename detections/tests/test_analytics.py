"""Airplay rollups: maintained rows equal a direct count over PlayLog on a seeded data set
(after tracker growth, closes, reviews, disputes and corrections), each role sees only
its own numbers, caches follow changes, first plays and the daily digest."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek, TruncYear
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from detections import analytics, disputes, services, tasks
from detections.analytics_selectors import RollupQuery, play_rollup, play_rollup_rendered
from detections.models import (
    ArtistAreaMonthly,
    ArtistAreaYearly,
    ArtistDaily,
    ArtistMonthly,
    ArtistYearly,
    DetectionHealthDaily,
    FirstPlay,
    MatchCache,
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
)
from detections.tests.factories import T0, PlayLogFactory, StationFactory
from detections.tests.parties import Parties
from detections.tests.test_rankings import (
    area_spans,
    assert_artist_summaries_equal_a_direct_count,
    direct_area_spans,
    direct_spans,
    track_spans,
)
from fingerprinting.engine import Match
from notifications.models import Notification, NotificationPreference
from tracks.tests.factories import TrackFactory

pytestmark = pytest.mark.django_db


def _feed(station, track, at: float, offset: float, *, confidence=1.0):
    captured_at = T0 + timedelta(days=3, seconds=at)
    return services.window_record_matches(
        station_id=station.pk,
        captured_at=captured_at,
        seconds=10.0,
        source="radio",
        window_key=services.window_key_for(source="radio", captured_at=captured_at, seconds=10.0),
        matches=[
            Match(
                track_id=track.pk,
                track_offset=offset,
                query_offset=0.0,
                speed=1.0,
                confidence=confidence,
                hits=100,
                second_hits=3,
                coverage=1.0,
                query_hashes=400,
            )
        ],
    )


def _direct_cells() -> dict:
    rows = (
        PlayLog.objects.exclude(verification_status="rejected")
        .annotate(day=TruncDate("started_at"))
        .values("day", "station_id", "track_id")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
    )
    return {(r["day"], r["station_id"], r["track_id"]): (r["n"], r["s"]) for r in rows}


def _rollup_cells() -> dict:
    return {
        (r.day, r.station_id, r.track_id): (r.plays, r.airtime_seconds)
        for r in PlayDaily.objects.all()
    }


def _track_cells(model, period: str) -> dict:
    """TrackMonthly or TrackYearly as {(period, track): (plays, airtime)}."""
    rows = model.objects.values_list(period, "track_id", "plays", "airtime_seconds")
    return {(at, track): (n, airtime) for at, track, n, airtime in rows}


def _direct_track_cells(trunc) -> dict:
    """The same counted directly over PlayLog by TruncMonth or TruncYear (Accra time,
    rejected plays excluded)."""
    rows = (
        PlayLog.objects.exclude(verification_status="rejected")
        .annotate(period=trunc("started_at"))
        .values("period", "track_id")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
    )
    return {(r["period"].date(), r["track_id"]): (r["n"], r["s"]) for r in rows}


def _monthly_cells() -> dict:
    return _track_cells(TrackMonthly, "month")


def _direct_monthly_cells() -> dict:
    return _direct_track_cells(TruncMonth)


def _yearly_cells() -> dict:
    return _track_cells(TrackYearly, "year")


def _direct_yearly_cells() -> dict:
    return _direct_track_cells(TruncYear)


def _summaries() -> tuple[dict, dict, dict, dict, dict]:
    """StationMonthly as {(month, station): (plays, airtime)}, TrackAreaMonthly as
    {(month, region, class, track): (plays, airtime)}, TrackDaily as {(day, track): …},
    TrackAreaYearly as {(year, region, class, track): …} and StationWeekly as
    {(week, station): …}."""
    return (
        {
            (r.month, r.station_id): (r.plays, r.airtime_seconds)
            for r in StationMonthly.objects.all()
        },
        {
            (r.month, r.region, r.station_class, r.track_id): (r.plays, r.airtime_seconds)
            for r in TrackAreaMonthly.objects.all()
        },
        {(r.day, r.track_id): (r.plays, r.airtime_seconds) for r in TrackDaily.objects.all()},
        {
            (r.year, r.region, r.station_class, r.track_id): (r.plays, r.airtime_seconds)
            for r in TrackAreaYearly.objects.all()
        },
        {(r.week, r.station_id): (r.plays, r.airtime_seconds) for r in StationWeekly.objects.all()},
    )


def _direct_summaries() -> tuple[dict, dict, dict, dict, dict]:
    """The same counted directly over PlayLog, by the stations' current region and class."""
    counted = PlayLog.objects.exclude(verification_status="rejected").annotate(
        month=TruncMonth("started_at"), year=TruncYear("started_at"), week=TruncWeek("started_at")
    )
    by_station = counted.values("month", "station_id").annotate(
        n=Count("id"), s=Sum("duration_seconds")
    )
    area = ("station__region", "station__station_class", "track_id")
    by_area = counted.values("month", *area).annotate(n=Count("id"), s=Sum("duration_seconds"))
    by_area_year = counted.values("year", *area).annotate(n=Count("id"), s=Sum("duration_seconds"))
    by_week = counted.values("week", "station_id").annotate(
        n=Count("id"), s=Sum("duration_seconds")
    )
    by_day = (
        PlayLog.objects.exclude(verification_status="rejected")
        .annotate(day=TruncDate("started_at"))
        .values("day", "track_id")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
    )
    return (
        {(r["month"].date(), r["station_id"]): (r["n"], r["s"]) for r in by_station},
        {
            (
                r["month"].date(),
                r["station__region"],
                r["station__station_class"],
                r["track_id"],
            ): (r["n"], r["s"])
            for r in by_area
        },
        {(r["day"], r["track_id"]): (r["n"], r["s"]) for r in by_day},
        {(r["year"].date(), *(r[k] for k in area)): (r["n"], r["s"]) for r in by_area_year},
        {(r["week"].date(), r["station_id"]): (r["n"], r["s"]) for r in by_week},
    )


def _station_cells() -> dict:
    direct = (
        PlayLog.objects.exclude(verification_status="rejected")
        .annotate(day=TruncDate("started_at"))
        .values("day", "station_id")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
    )
    return {(r["day"], r["station_id"]): (r["n"], r["s"]) for r in direct}


_SOME_REJECTED = ["verified", "verified", "rejected"]


def _seeded_play(rng, stations, tracks, *, at: datetime, seconds: int, statuses) -> PlayLog:
    """A play of a random track on a random station (random status), `seconds` long."""
    return PlayLogFactory(
        station=rng.choice(stations),
        track=rng.choice(tracks),
        started_at=at,
        ended_at=at + timedelta(seconds=seconds),
        duration_seconds=Decimal(seconds),
        alignment=at.timestamp() + seconds * 0.001,
        verification_status=rng.choice(statuses),
    )


def _rebuild_with_own_play(p: Parties, first: date, last: date) -> None:
    """Counts [first, last] by a rebuild, and the day of the parties' own play wherever the
    factory sequence (advanced by every play other tests made) put it."""
    own = p.play.started_at.date()
    analytics.rollups_rebuild(date_from=min(own, first), date_to=max(own, last))


def _seed(p: Parties, n: int = 120) -> None:
    """Plays over 10 days, 3 stations and 4 tracks (seeded), counted by a rebuild."""
    rng = random.Random(42)
    stations = [p.station, p.other_station, p.other_station]
    tracks = [
        p.track,
        p.other_track,
        TrackFactory(),
        TrackFactory(primary_artist=p.track.primary_artist),
    ]
    for i in range(n):
        start = T0 + timedelta(days=rng.randrange(10), minutes=rng.randrange(1440))
        _seeded_play(
            rng,
            stations,
            tracks,
            at=start,
            seconds=180 + i,
            statuses=["verified", "verified", "pending_review"],
        )
    _rebuild_with_own_play(p, date(2025, 3, 1), date(2025, 3, 31))


def test_rollups_equal_a_direct_count_after_growth_closes_reviews_disputes_and_corrections(
    parties,
):
    _seed(parties)
    assert _rollup_cells() == _direct_cells()
    assert {
        (r.day, r.station_id): (r.plays, r.airtime_seconds) for r in StationDaily.objects.all()
    } == _station_cells()
    assert _monthly_cells() == _direct_monthly_cells()

    # The tracker: a new airing grows window by window, then another track ends it.
    fresh = TrackFactory(duration_seconds=60.0)
    for at in range(0, 40, 5):
        _feed(parties.station, fresh, at, at)
    _feed(parties.station, parties.other_track, 60, 0)
    _feed(parties.station, parties.other_track, 65, 5)
    # Reviews: a pending play confirmed, a verified one rejected.
    pending = PlayLog.objects.filter(verification_status="pending_review", is_open=False).first()
    services.play_review(actor=parties.support, play_id=pending.pk, status="verified")
    victim = PlayLog.objects.filter(verification_status="verified", is_open=False).last()
    services.play_review(actor=parties.support, play_id=victim.pk, status="rejected")
    # A dispute that rejects its play, and a correction that moves one to another day/track.
    disputed = PlayLog.objects.filter(verification_status="verified", is_open=False).first()
    dispute = disputes.dispute_open(
        actor=parties.support, play_id=disputed.pk, dispute_type="not_aired", description="No."
    )
    disputes.dispute_review_start(actor=parties.support, dispute_id=dispute.pk)
    disputes.dispute_resolve(
        actor=parties.support, dispute_id=dispute.pk, outcome="upheld", note="Off air."
    )
    moved = PlayLog.objects.filter(verification_status="verified", is_open=False).last()
    disputes.play_override(
        actor=parties.support,
        play_id=moved.pk,
        track_id=fresh.pk,
        started_at=moved.started_at + timedelta(days=1),
        ended_at=moved.started_at + timedelta(days=1, seconds=95),
        reason="Logged on the wrong day and track.",
    )
    services.plays_close_open(station_id=parties.station.pk, until=T0 + timedelta(days=30))

    direct = _direct_cells()
    assert _rollup_cells() == direct
    assert {
        (r.day, r.station_id): (r.plays, r.airtime_seconds) for r in StationDaily.objects.all()
    } == _station_cells()
    monthly = _direct_monthly_cells()
    assert _monthly_cells() == monthly
    yearly = _direct_yearly_cells()
    assert _yearly_cells() == yearly
    summaries = _direct_summaries()
    assert _summaries() == summaries
    assert (
        sum(n for n, _ in direct.values())
        == sum(n for n, _ in monthly.values())
        == sum(n for n, _ in yearly.values())
        == sum(n for n, _ in summaries[0].values())
        == sum(n for n, _ in summaries[1].values())
        == sum(n for n, _ in summaries[2].values())
        == sum(n for n, _ in summaries[4].values())
        == PlayLog.objects.exclude(verification_status="rejected").count()
    )
    assert_artist_summaries_equal_a_direct_count()
    spans = direct_spans()
    assert track_spans() == spans
    assert area_spans() == direct_area_spans()
    # A recount from scratch agrees with what the services maintained.
    for model in (
        TrackDaily,
        TrackMonthly,
        TrackYearly,
        StationMonthly,
        StationWeekly,
        TrackAreaMonthly,
        TrackAreaYearly,
        StationArea,
        ArtistDaily,
        ArtistMonthly,
        ArtistYearly,
        ArtistAreaMonthly,
        ArtistAreaYearly,
        TrackSpan,
        TrackAreaSpan,
    ):
        model.objects.all().delete()
    analytics.rollups_rebuild(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    assert _rollup_cells() == direct
    assert _monthly_cells() == monthly
    assert _yearly_cells() == yearly
    assert _summaries() == summaries
    assert_artist_summaries_equal_a_direct_count()
    assert track_spans() == spans
    assert area_spans() == direct_area_spans()


@pytest.mark.parametrize("step", [30, 0])
def test_an_open_plays_airtime_reaches_the_rollups_by_steps_and_in_full_when_it_ends(
    parties, settings, step
):
    """Live capture extends a play every window; its airtime alone is counted each time it
    grows past a step (not every window), and all of it once the play ends."""
    settings.DETECTIONS_ROLLUP_AIRTIME_STEP_SECONDS = step
    _rebuild_with_own_play(parties, date(2025, 3, 1), date(2025, 3, 31))
    station, song = StationFactory(), TrackFactory(duration_seconds=300.0)
    lags = []
    for at in range(0, 150, 5):
        _feed(station, song, at, at)
        play = PlayLog.objects.filter(track=song).first()
        if play is None:
            continue  # not confirmed yet
        assert play.is_open
        cell = PlayDaily.objects.get(station=station, track=song)
        assert cell.plays == 1
        for rolled in (
            cell.airtime_seconds,
            TrackDaily.objects.get(track=song).airtime_seconds,
            StationDaily.objects.get(station=station).airtime_seconds,
            TrackMonthly.objects.get(track=song).airtime_seconds,
            ArtistDaily.objects.get(artist_id=song.primary_artist_id).airtime_seconds,
        ):
            assert rolled == cell.airtime_seconds
        lags.append(play.duration_seconds - cell.airtime_seconds)
    assert len(lags) > 20
    if step:
        # Behind while on air, by less than one step; caught up at every step.
        assert all(0 <= lag < step for lag in lags)
        assert sum(lag > 0 for lag in lags) > len(lags) // 2
        assert 0 in lags[5:]
    else:
        assert set(lags) == {0}
    services.plays_close_open(station_id=station.pk, until=T0 + timedelta(days=30))
    assert _rollup_cells() == _direct_cells()
    assert _summaries() == _direct_summaries()
    assert _monthly_cells() == _direct_monthly_cells()
    assert _yearly_cells() == _direct_yearly_cells()
    assert_artist_summaries_equal_a_direct_count()


def test_a_decrease_of_a_summary_row_never_filled_recounts_it(parties):
    # Given counted plays whose day, month and year summaries were never filled (written
    # by other means), and one of the plays rejected
    _seed(parties, n=20)
    play = PlayLog.objects.filter(verification_status="verified", started_at__month=3).first()
    for later in (timedelta(days=1), timedelta(days=31)):  # the next day, the next month
        PlayLogFactory(
            station=play.station,
            track=play.track,
            started_at=play.started_at + later,
            ended_at=play.ended_at + later,
            duration_seconds=play.duration_seconds,
            verification_status="verified",
        )
    analytics.rollups_rebuild(date_from=date(2025, 3, 1), date_to=date(2025, 4, 30))
    for model in (
        TrackDaily,
        TrackMonthly,
        TrackYearly,
        StationMonthly,
        ArtistAreaMonthly,
        ArtistAreaYearly,
    ):
        model.objects.all().delete()
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.play_review(actor=parties.support, play_id=play.pk, status="rejected")
    # Then the rows the decrease found missing are recounted from their day rows
    day = play.started_at.date()
    month, year = day.replace(day=1), date(day.year, 1, 1)
    counted = PlayLog.objects.exclude(verification_status="rejected")

    def direct(key: tuple, **when) -> dict:
        """{key: (plays, airtime)} counted over PlayLog; {} when none are left."""
        rows = counted.filter(**when)
        n = rows.count()
        return {key: (n, rows.aggregate(s=Sum("duration_seconds"))["s"])} if n else {}

    track, station = play.track_id, play.station_id
    assert _monthly_cells() == direct((month, track), started_at__month=3, track_id=track)
    assert _yearly_cells() == direct((year, track), started_at__year=day.year, track_id=track)
    assert {
        (r.day, r.track_id): (r.plays, r.airtime_seconds) for r in TrackDaily.objects.all()
    } == direct((day, track), started_at__date=day, track_id=track)
    assert {
        (r.month, r.station_id): (r.plays, r.airtime_seconds) for r in StationMonthly.objects.all()
    } == direct((month, station), started_at__month=3, station_id=station)
    area = (play.station.region, play.station.station_class, play.track.primary_artist_id)
    of_area = {
        "station__region": area[0],
        "station__station_class": area[1],
        "track__primary_artist": area[2],
    }
    for model, period, start, when in (
        (ArtistAreaMonthly, "month", month, {"started_at__month": 3}),
        (ArtistAreaYearly, "year", year, {"started_at__year": day.year}),
    ):
        rows = model.objects.values_list(
            period, "region", "station_class", "artist_id", "plays", "airtime_seconds"
        )
        assert {tuple(r[:4]): tuple(r[4:]) for r in rows} == direct(
            (start, *area), **when, **of_area
        )
    # The track has other plays that month and year: rows were recounted, not left empty
    assert _monthly_cells() and _yearly_cells()


def _backlog() -> dict:
    """ReviewBacklog as {station: plays waiting for review} (stations with any)."""
    return {r.station_id: r.plays for r in ReviewBacklog.objects.filter(plays__gt=0)}


def _direct_backlog() -> dict:
    rows = PlayLog.objects.filter(verification_status="pending_review").values("station_id")
    return {r["station_id"]: r["n"] for r in rows.annotate(n=Count("id")).order_by()}


def _pending_cells() -> tuple[dict, dict]:
    """StationDaily.pending_review per (day, station), and the same counted directly."""
    direct = (
        PlayLog.objects.filter(verification_status="pending_review")
        .annotate(day=TruncDate("started_at"))
        .values("day", "station_id")
        .annotate(n=Count("id"))
    )
    return (
        {
            (r.day, r.station_id): r.pending_review
            for r in StationDaily.objects.filter(pending_review__gt=0)
        },
        {(r["day"], r["station_id"]): r["n"] for r in direct},
    )


def test_the_review_backlog_equals_a_direct_count_after_growth_reviews_disputes_and_fixes(
    parties,
):
    # Given plays counted by a rebuild, a third of them waiting for review
    _seed(parties)
    assert _backlog() == _direct_backlog()
    assert sum(_backlog().values()) > 10
    # When the tracker logs a low-confidence airing (it waits for review) and grows it
    fresh = TrackFactory(duration_seconds=60.0)
    for at in range(0, 20, 5):
        _feed(parties.other_station, fresh, at, at, confidence=0.55)
    # and staff confirm one waiting play and reject another
    waiting = PlayLog.objects.filter(verification_status="pending_review", is_open=False)
    services.play_review(actor=parties.support, play_id=waiting[0].pk, status="verified")
    services.play_review(actor=parties.support, play_id=waiting[1].pk, status="rejected")
    # and a party disputes a waiting play (disputed: no longer waiting for review), while
    # another is disputed and the dispute withdrawn (waiting again)
    disputed, withdrawn = waiting.filter(station=parties.station)[:2]
    disputes.dispute_open(
        actor=parties.station_user, play_id=disputed.pk, dispute_type="not_aired", description="?"
    )
    taken_back = disputes.dispute_open(
        actor=parties.station_user, play_id=withdrawn.pk, dispute_type="not_aired", description="?"
    )
    disputes.dispute_withdraw(actor=parties.station_user, dispute_id=taken_back.pk)
    # and staff move a waiting play to another day and station's track
    moved = waiting.exclude(pk__in=[withdrawn.pk]).last()
    disputes.play_override(
        actor=parties.support,
        play_id=moved.pk,
        track_id=fresh.pk,
        started_at=moved.started_at + timedelta(days=2),
        ended_at=moved.started_at + timedelta(days=2, seconds=95),
        reason="Logged on the wrong day.",
    )
    services.plays_close_open(station_id=parties.other_station.pk, until=T0 + timedelta(days=30))

    # Then the backlog and the day cells still equal a direct count
    assert PlayLog.objects.get(pk=disputed.pk).verification_status == "disputed"
    assert PlayLog.objects.get(pk=withdrawn.pk).verification_status == "pending_review"
    assert PlayLog.objects.filter(track=fresh, verification_status="pending_review").exists()
    assert _backlog() == _direct_backlog()
    cells, direct_cells = _pending_cells()
    assert cells == direct_cells
    # And a recount from scratch agrees with what the services maintained
    ReviewBacklog.objects.all().delete()
    analytics.rollups_rebuild(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    assert _backlog() == _direct_backlog()


def test_detection_health_counts_plays_waiting_for_review_from_the_backlog(parties, client_for):
    _seed(parties, n=40)
    waiting = PlayLog.objects.filter(verification_status="pending_review")
    url = "/api/v1/analytics/detection-health/"

    everyone = client_for(parties.support).get(url).json()["plays_pending_review"]
    one = client_for(parties.support).get(url, {"station": parties.station.pk}).json()

    assert everyone == waiting.count() > 0
    assert one["plays_pending_review"] == waiting.filter(station=parties.station).count()


def test_month_rows_follow_a_play_moved_across_months_and_rejected(parties):
    # Given plays counted in March
    _seed(parties, n=30)
    play = PlayLog.objects.filter(verification_status="verified").first()
    # When staff move one to April 30 (another month and track) and then reject another
    disputes.play_override(
        actor=parties.support,
        play_id=play.pk,
        track_id=parties.other_track.pk,
        started_at=datetime(2025, 4, 30, 23, 0, tzinfo=UTC),
        ended_at=datetime(2025, 4, 30, 23, 3, tzinfo=UTC),
        reason="Aired in April.",
    )
    gone = PlayLog.objects.filter(verification_status="verified").exclude(pk=play.pk).first()
    services.play_review(actor=parties.support, play_id=gone.pk, status="rejected")
    # Then every month row equals a direct count, April's included
    monthly = _direct_monthly_cells()
    assert monthly[(date(2025, 4, 1), parties.other_track.pk)] == (1, Decimal("180.00"))
    assert _monthly_cells() == monthly
    summaries = _direct_summaries()
    assert summaries[0][(date(2025, 4, 1), play.station_id)] == (1, Decimal("180.00"))
    assert summaries[2][(date(2025, 4, 30), parties.other_track.pk)] == (1, Decimal("180.00"))
    assert _summaries() == summaries


def test_platform_rollup_over_whole_months_and_partial_edges_equals_a_direct_count(parties):
    # Given plays from mid-February to mid-April (Accra time is UTC)
    rng = random.Random(5)
    tracks = [parties.track, parties.other_track, TrackFactory(), TrackFactory()]
    stations = [parties.station, parties.other_station]
    start = datetime(2025, 2, 10, tzinfo=UTC)
    for i in range(150):
        at = start + timedelta(hours=rng.randrange(65 * 24))
        _seeded_play(rng, stations, tracks, at=at, seconds=200 + i, statuses=_SOME_REJECTED)
    analytics.rollups_rebuild(date_from=date(2025, 2, 1), date_to=date(2025, 4, 30))
    # When staff ask for Feb 20 - Apr 5: March from the month rows, the edges from the days
    query = RollupQuery(
        date_from=date(2025, 2, 20), date_to=date(2025, 4, 5), granularity="month", top=4
    )
    result = play_rollup(user=parties.support, query=query)
    # Then tracks, artists, stations and totals equal a count over exactly those days
    counted = PlayLog.objects.exclude(verification_status="rejected").filter(
        started_at__gte=datetime(2025, 2, 20, tzinfo=UTC),
        started_at__lt=datetime(2025, 4, 6, tzinfo=UTC),
    )
    _assert_rollup_equals_direct_count(result, counted)
    # And a range inside one month (no whole month) agrees too
    inside = play_rollup(
        user=parties.support,
        query=RollupQuery(date_from=date(2025, 3, 3), date_to=date(2025, 3, 30)),
    )
    assert (
        inside["totals"]["plays"]
        == counted.filter(
            started_at__gte=datetime(2025, 3, 3, tzinfo=UTC),
            started_at__lt=datetime(2025, 3, 31, tzinfo=UTC),
        ).count()
    )


def test_ranges_up_to_the_last_play_and_across_a_new_year_equal_a_direct_count(parties):
    # Given plays from 10 November 2024 to 14 February 2025 on stations in two regions
    rng = random.Random(23)
    third = StationFactory(region="Ashanti", station_class="C")
    stations = [parties.station, parties.other_station, third]
    tracks = [parties.track, parties.other_track, TrackFactory(), TrackFactory()]
    start = datetime(2024, 11, 10, tzinfo=UTC)
    for i in range(200):
        at = start + timedelta(hours=rng.randrange(97 * 24), seconds=i * 7)
        _seeded_play(rng, stations, tracks, at=at, seconds=150 + i, statuses=_SOME_REJECTED)
    last = PlayLog.objects.order_by("-started_at").first().started_at.date()
    analytics.rollups_rebuild(date_from=date(2024, 11, 1), date_to=last)  # and the parties' plays

    def counted(first: date, last_day: date):
        return PlayLog.objects.filter(
            started_at__gte=datetime.combine(first, datetime.min.time(), tzinfo=UTC),
            started_at__lt=datetime.combine(
                last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC
            ),
        )

    def rollup(first: date, last_day: date, **filters):
        query = RollupQuery(
            date_from=first, date_to=last_day, granularity="month", top=100, **filters
        )
        with CaptureQueriesContext(connection) as queries:
            result = play_rollup(user=parties.support, query=query)
        return result, " ".join(q["sql"] for q in queries.captured_queries)

    # When staff ask for ranges that run past the last play, start before the first, or
    # end on the last play's day: the year and month so far answer from their own rows
    for first, last_day, summary in (
        (date(2024, 11, 20), date(2025, 11, 19), "detections_trackyearly"),
        (date(2024, 3, 1), date(2025, 2, 5), "detections_trackyearly"),
        (date(2024, 12, 1), last, "detections_trackyearly"),
        (date(2025, 1, 10), last, "detections_trackmonthly"),
    ):
        result, sql = rollup(first, last_day)
        # Then every number equals a count over exactly those days
        _assert_rollup_equals_direct_count(result, counted(first, last_day))
        assert summary in sql
    # And with a region, the year so far comes from the region's year rows, and a whole
    # month before it from the region's month rows
    result, sql = rollup(date(2024, 12, 1), last, region="Ashanti")
    _assert_rollup_equals_direct_count(
        result, counted(date(2024, 12, 1), last).filter(station__region="Ashanti")
    )
    assert "detections_trackareayearly" in sql
    assert "detections_trackareamonthly" in sql

    # When a later play exists in the same month and year, those rows no longer answer
    # a range that ends before it, and the numbers still equal a direct count
    later = last + timedelta(days=2)
    _seeded_play(
        rng,
        stations,
        tracks,
        at=datetime.combine(later, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9),
        seconds=240,
        statuses=["verified"],
    )
    analytics.rollups_rebuild(date_from=later, date_to=later)
    for first in (date(2024, 11, 20), date(2025, 2, 1)):
        result, sql = rollup(first, last)
        _assert_rollup_equals_direct_count(result, counted(first, last))
        assert "detections_trackyearly" not in sql


def _seed_months(parties) -> list:
    """Plays from mid-February to mid-April (Accra time is UTC) on three stations in two
    regions and two classes, counted by a rebuild; returns the stations."""
    rng = random.Random(11)
    third = StationFactory(region="Ashanti", station_class="C")
    stations = [parties.station, parties.other_station, third]
    tracks = [parties.track, parties.other_track, TrackFactory(), TrackFactory()]
    start = datetime(2025, 2, 10, tzinfo=UTC)
    for i in range(240):
        at = start + timedelta(hours=rng.randrange(65 * 24), seconds=i * 13)
        _seeded_play(rng, stations, tracks, at=at, seconds=200 + i, statuses=_SOME_REJECTED)
    _rebuild_with_own_play(parties, date(2025, 2, 1), date(2025, 4, 30))
    return stations


def _assert_rollup_equals_direct_count(result: dict, plays, trunc=TruncMonth) -> None:
    """Totals, series, tracks, artists, stations, regions and classes of a rollup by
    month (or by the period `trunc` cuts: TruncDate, TruncWeek) equal a count over
    exactly `plays`."""
    counted = plays.exclude(verification_status="rejected")
    by_track = list(
        counted.values("track_id")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
        .order_by("-n", "-s", "track_id")
    )
    assert [(t["track_id"], t["plays"], t["airtime_seconds"]) for t in result["top_tracks"]] == [
        (r["track_id"], r["n"], r["s"]) for r in by_track
    ]
    assert result["totals"]["distinct_tracks"] == len(by_track)
    assert result["totals"]["plays"] == counted.count()
    assert result["totals"]["distinct_stations"] == counted.values("station").distinct().count()
    assert {a["artist_id"]: a["plays"] for a in result["top_artists"]} == dict(
        counted.values_list("track__primary_artist").annotate(n=Count("id")).order_by()
    )
    series = (
        counted.annotate(period=trunc("started_at"))
        .values("period")
        .annotate(n=Count("id"), s=Sum("duration_seconds"), st=Count("station", distinct=True))
        .order_by("period")
    )
    assert [
        (p["period"], p["plays"], p["airtime_seconds"], p["distinct_stations"])
        for p in result["series"]
    ] == [
        (
            r["period"].date() if isinstance(r["period"], datetime) else r["period"],
            r["n"],
            r["s"],
            r["st"],
        )
        for r in series
    ]
    assert {
        s["station_id"]: (s["plays"], s["airtime_seconds"]) for s in result["top_stations"]
    } == {
        r["station"]: (r["n"], r["s"])
        for r in counted.values("station").annotate(n=Count("id"), s=Sum("duration_seconds"))
    }
    for key, field in (("region", "station__region"), ("station_class", "station__station_class")):
        assert {r[key]: r["plays"] for r in result[f"by_{key}"]} == dict(
            counted.values_list(field).annotate(n=Count("id")).order_by()
        )


def test_month_rollups_by_region_and_class_with_partial_months_equal_a_direct_count(parties):
    # Given plays from mid-February to mid-April on stations in two regions and classes
    _seed_months(parties)
    edges = PlayLog.objects.filter(
        started_at__gte=datetime(2025, 2, 20, tzinfo=UTC),
        started_at__lt=datetime(2025, 4, 6, tzinfo=UTC),
    )
    cases = [
        ({}, Q()),
        ({"region": "Ashanti"}, Q(station__region="Ashanti")),
        ({"station_class": "A"}, Q(station__station_class="A")),
        (
            {"region": "Ashanti", "station_class": "C"},
            Q(station__region="Ashanti", station__station_class="C"),
        ),
        ({"region": "Volta"}, Q(station__region="Volta")),  # no station there: zeros
    ]
    for filters, plays in cases:
        # When staff ask by month for Feb 20 - Apr 5 (March whole, both edges partial)
        query = RollupQuery(
            date_from=date(2025, 2, 20),
            date_to=date(2025, 4, 5),
            granularity="month",
            top=10,
            **filters,
        )
        with CaptureQueriesContext(connection) as read:
            result = play_rollup(user=parties.support, query=query)
        # Then every number equals a count over exactly those days of PlayLog
        _assert_rollup_equals_direct_count(result, edges.filter(plays))
        # And March came from the month summaries (the area rows when filtered, where
        # any station is)
        sql = " ".join(q["sql"] for q in read.captured_queries)
        assert "detections_stationmonthly" in sql
        somewhere = bool(filters) and filters.get("region") != "Volta"
        assert ("detections_trackareamonthly" in sql) == somewhere
        assert ("detections_trackdaily" in sql) == (not filters)  # the partial months' days
    # And a station account's month rollup (its own station, from StationMonthly) agrees
    result = play_rollup(
        user=parties.station_user,
        query=RollupQuery(
            date_from=date(2025, 2, 20), date_to=date(2025, 4, 5), granularity="month"
        ),
    )
    _assert_rollup_equals_direct_count(result, edges.filter(station=parties.station))


def test_stations_by_day_and_week_over_whole_months_equal_a_direct_count(parties):
    # Given plays from mid-February to mid-April on stations in two regions and classes
    _seed_months(parties)
    edges = PlayLog.objects.exclude(verification_status="rejected").filter(
        started_at__gte=datetime(2025, 2, 20, tzinfo=UTC),
        started_at__lt=datetime(2025, 4, 6, tzinfo=UTC),
    )
    for granularity, trunc in (("day", TruncDate), ("week", TruncWeek)):
        for filters in ({}, {"region": "Ashanti"}):
            # When staff ask for Feb 20 - Apr 5 by day or week, with or without a region
            query = RollupQuery(
                date_from=date(2025, 2, 20),
                date_to=date(2025, 4, 5),
                granularity=granularity,
                top=100,
                **filters,
            )
            with CaptureQueriesContext(connection) as read:
                result = play_rollup(user=parties.support, query=query)
            # Then the stations' totals come from March's month rows and the days left,
            sql = " ".join(q["sql"] for q in read.captured_queries)
            assert "detections_stationmonthly" in sql
            # the weekly series' whole weeks (24 February - 30 March) from their week rows
            assert ("detections_stationweekly" in sql) == (granularity == "week")
            plays = edges.filter(station__region=filters["region"]) if filters else edges
            # and the series and every other number equal a direct count
            _assert_rollup_equals_direct_count(result, plays, trunc)


def test_a_station_moved_to_another_region_is_counted_there_once_restated(parties):
    # Given month summaries counted with Luv FM in Ashanti
    _seed_months(parties)
    query = RollupQuery(
        date_from=date(2025, 2, 20), date_to=date(2025, 4, 5), granularity="month", region="Volta"
    )
    edges = PlayLog.objects.filter(
        started_at__gte=datetime(2025, 2, 20, tzinfo=UTC),
        started_at__lt=datetime(2025, 4, 6, tzinfo=UTC),
    )
    # When staff move it to Volta (a plain update, as the stations service writes it)
    type(parties.other_station).objects.filter(pk=parties.other_station.pk).update(region="Volta")
    # Then before the summaries are restated, readers count from the day rows: still right
    assert not analytics.area_months_current()
    _assert_rollup_equals_direct_count(
        play_rollup(user=parties.support, query=query), edges.filter(station=parties.other_station)
    )
    # And a play change meanwhile is counted under the area the station was counted in
    play = PlayLog.objects.filter(station=parties.other_station, verification_status="verified")
    services.play_review(actor=parties.support, play_id=play.first().pk, status="rejected")
    # And once restated, the summaries equal a direct count by the new region, and are read
    assert tasks.restate_area_months() == 1  # the Beat task
    assert analytics.track_area_monthly_restate() == 0
    assert analytics.area_months_current()
    assert _summaries() == _direct_summaries()
    assert_artist_summaries_equal_a_direct_count()
    assert area_spans() == direct_area_spans()
    assert StationArea.objects.get(station=parties.other_station).region == "Volta"
    with CaptureQueriesContext(connection) as read:
        result = play_rollup(user=parties.support, query=query)
    assert "detections_trackareamonthly" in " ".join(q["sql"] for q in read.captured_queries)
    _assert_rollup_equals_direct_count(result, edges.filter(station=parties.other_station))


def _query(**kwargs) -> RollupQuery:
    return RollupQuery(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31), **kwargs)


def _in_march(plays):
    """`plays` in March 2025, the month of _query (the parties' own play is dated by a
    factory sequence other tests advance, and may fall outside it)."""
    return plays.filter(
        started_at__gte=datetime(2025, 3, 1, tzinfo=UTC),
        started_at__lt=datetime(2025, 4, 1, tzinfo=UTC),
    )


def _direct(plays) -> dict:
    agg = (
        _in_march(plays)
        .exclude(verification_status="rejected")
        .aggregate(n=Count("id"), s=Sum("duration_seconds"), st=Count("station", distinct=True))
    )
    return {
        "plays": agg["n"],
        "airtime_seconds": agg["s"] or Decimal("0.00"),
        "distinct_stations": agg["st"],
    }


def test_each_role_sees_exactly_its_own_numbers(parties):
    _seed(parties)
    p = parties
    own_tracks = Q(track__primary_artist__user=p.artist_user) | Q(
        track__featured_artists__user=p.artist_user
    )
    cases = [
        (p.support, PlayLog.objects.all()),
        (p.finance, PlayLog.objects.all()),
        (p.station_user, PlayLog.objects.filter(station=p.station)),
        (p.other_station_user, PlayLog.objects.filter(station=p.other_station)),
        (
            p.artist_user,
            PlayLog.objects.filter(pk__in=PlayLog.objects.filter(own_tracks).values("pk")),
        ),
        (p.featured_user, PlayLog.objects.filter(track=p.track)),
        (p.publisher_user, PlayLog.objects.filter(track__primary_artist=p.track.primary_artist)),
        (p.other_artist_user, PlayLog.objects.filter(track=p.other_track)),
    ]
    for user, plays in cases:
        result = play_rollup(user=user, query=_query(granularity="week"))
        totals = {k: result["totals"][k] for k in ("plays", "airtime_seconds", "distinct_stations")}
        assert totals == _direct(plays), user.email
        assert sum(pt["plays"] for pt in result["series"]) == totals["plays"]
        assert sum(t["plays"] for t in result["by_region"]) == totals["plays"]

    # A filter pointing outside the scope gives nothing, not someone else's numbers.
    peek = play_rollup(user=p.station_user, query=_query(station_id=p.other_station.pk))
    assert peek["totals"]["plays"] == 0
    peek = play_rollup(user=p.other_artist_user, query=_query(track_id=p.track.pk))
    assert peek["totals"]["plays"] == 0


def test_top_lists_and_breakdowns_match_direct_counts(parties):
    _seed(parties)
    result = play_rollup(user=parties.support, query=_query(granularity="month", top=2))

    counted = _in_march(PlayLog.objects.exclude(verification_status="rejected"))
    by_track = list(
        counted.values("track_id")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
        .order_by("-n", "-s", "track_id")[:2]
    )
    assert [(t["track_id"], t["plays"]) for t in result["top_tracks"]] == [
        (r["track_id"], r["n"]) for r in by_track
    ]
    by_region = dict(counted.values_list("station__region").annotate(n=Count("id")))
    assert {r["region"]: r["plays"] for r in result["by_region"]} == by_region
    artist_plays = counted.filter(track__primary_artist=parties.track.primary_artist).count()
    assert {a["artist_id"]: a["plays"] for a in result["top_artists"]}[
        parties.track.primary_artist_id
    ] == artist_plays
    assert [pt["period"] for pt in result["series"]] == [date(2025, 3, 1)]


def _cached_totals(query: RollupQuery, *, kind: str):
    """(renders, plays_for): plays_for(user) is the user's total plays for `query` through
    the analytics cache; renders lists the scope of each answer computed (a cache miss)."""
    renders: list[str] = []

    def render(data) -> bytes:
        renders.append(data["scope"])
        return str(data["totals"]["plays"]).encode()

    def plays_for(user) -> int:
        return int(play_rollup_rendered(user=user, query=query, kind=kind, render=render))

    return renders, plays_for


def _todays_plays(parties, times: dict[str, datetime]) -> tuple[dict[str, PlayLog], Callable]:
    """(plays, reject): a verified 200 s play of the parties' track at their station at each
    named time, counted in the rollups of yesterday and today; reject(name) rejects one
    through the review service, as staff would."""
    plays = {
        name: PlayLogFactory(
            station=parties.station,
            track=parties.track,
            started_at=at,
            ended_at=at + timedelta(seconds=200),
            duration_seconds=Decimal(200),
            verification_status="verified",
        )
        for name, at in times.items()
    }
    from django.utils import timezone

    today = timezone.localdate()
    analytics.rollups_rebuild(date_from=today - timedelta(days=1), date_to=today)

    def reject(name: str) -> None:
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.play_review(actor=parties.support, play_id=plays[name].pk, status="rejected")

    return plays, reject


def test_cached_answers_change_when_a_play_changes(parties):
    _seed(parties, n=20)
    query = _query()
    renders, plays_for = _cached_totals(query, kind="test")

    def reject(station) -> None:
        play = (
            # One of the seeded March plays (the parties' own play is dated by a factory
            # sequence other tests advance, and may fall outside the query's month).
            PlayLog.objects.filter(station=station, is_open=False, started_at__month=3)
            .exclude(verification_status="rejected")
            .first()
        )
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.play_review(actor=parties.support, play_id=play.pk, status="rejected")

    first = plays_for(parties.station_user)
    assert plays_for(parties.station_user) == first
    assert renders == ["station"]  # the repeat came from the cache

    reject(parties.other_station)  # another station's play: this station's answer stands
    assert plays_for(parties.station_user) == first
    assert renders == ["station"]

    reject(parties.station)
    assert plays_for(parties.station_user) == first - 1
    assert renders == ["station", "station"]
    assert (
        plays_for(parties.support)
        == PlayLog.objects.exclude(verification_status="rejected")
        .filter(started_at__month=3)
        .count()
    )


def test_todays_changes_show_within_the_live_period_and_earlier_ones_at_once(parties, settings):
    # Given a station with plays today and yesterday, counted, and a live period of 4 s
    # (what the test does inside one period takes ~1 s on SQLite; 2 s was too tight)
    import time

    from django.utils import timezone

    settings.ANALYTICS_LIVE_SECONDS = live = 4
    now = timezone.now().replace(microsecond=0)
    today = timezone.localdate()
    start_of_today = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    # (Ten minutes apart even just after midnight, where the first is clamped to today's
    # start: two plays of one track at one station at the same time are one airing.)
    first_today = max(now - timedelta(minutes=30), start_of_today)
    plays, reject = _todays_plays(
        parties,
        {
            "today": first_today,
            "today-2": first_today + timedelta(minutes=10),
            "yesterday": start_of_today - timedelta(hours=3),
        },
    )
    query = RollupQuery(date_from=today - timedelta(days=6), date_to=today)
    renders, plays_for = _cached_totals(query, kind="live")

    def counted() -> int:
        return (
            PlayLog.objects.filter(station=parties.station, started_at__date__gte=query.date_from)
            .exclude(verification_status="rejected")
            .count()
        )

    time.sleep(live - time.time() % live + 0.05)  # at the start of a live period
    first = plays_for(parties.station_user)
    assert first == counted() >= 3
    # When one of today's plays is rejected: the answer for a range reaching today stands
    # for the rest of the live period (live capture changes today's plays every window)
    reject("today")
    assert plays_for(parties.station_user) == first
    assert renders == ["station"]
    # When a play of an earlier day is rejected: it shows at once, with today's change
    reject("yesterday")
    assert plays_for(parties.station_user) == first - 2 == counted()
    assert renders == ["station", "station"]
    # And a later change of today's plays shows once the live period is over
    reject("today-2")
    assert plays_for(parties.station_user) == first - 2
    time.sleep(live - time.time() % live + 0.05)
    assert plays_for(parties.station_user) == first - 3 == counted()
    # And with no live period, a change of today's plays shows at once
    settings.ANALYTICS_LIVE_SECONDS = 0
    plays_for(parties.station_user)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.play_review(actor=parties.support, play_id=plays["today"].pk, status="verified")
    assert plays_for(parties.station_user) == first - 2 == counted()


def test_a_new_live_period_is_computed_once_while_others_get_the_last_periods_answer(
    parties, settings
):
    """Dashboards poll on the same clock, so every answer reaching today expires at the
    same instant: while one request computes the new period's answer, the others get the
    previous period's, never an older one, and never one a correction outdated."""
    import time

    from django.core.cache import cache
    from django.utils import timezone

    from detections import analytics_selectors

    settings.ANALYTICS_LIVE_SECONDS = live = 3
    now, today = timezone.now().replace(microsecond=0), timezone.localdate()
    start_of_today = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    _, reject = _todays_plays(
        parties,
        {
            "today": max(now - timedelta(minutes=30), start_of_today),
            "yesterday": start_of_today - timedelta(hours=3),
        },
    )
    query = RollupQuery(date_from=today - timedelta(days=6), date_to=today)
    renders, plays_for = _cached_totals(query, kind="swr")
    scope = analytics_selectors.scope_for(user=parties.station_user)

    def computing() -> str:  # what a request computing the current answer holds
        return analytics_selectors._cache_key(scope, query, "swr").name + ":computing"

    def next_period() -> None:
        time.sleep(live - time.time() % live + 0.05)

    next_period()
    first = plays_for(parties.station_user)
    reject("today")  # shows in the next period
    next_period()
    # Another request is computing this period's answer: this one gets the last one.
    assert cache.add(computing(), 1)
    assert plays_for(parties.station_user) == first
    assert len(renders) == 1
    cache.delete(computing())
    assert plays_for(parties.station_user) == first - 1
    assert len(renders) == 2
    # Two periods on, the latest answer is too old to stand in: computed.
    next_period()
    next_period()
    assert cache.add(computing(), 1)
    assert plays_for(parties.station_user) == first - 1
    assert len(renders) == 3
    # A correction of an earlier day bumps the version: the answer it outdated is not
    # served, even while another request is computing the new one.
    reject("yesterday")
    assert cache.add(computing(), 1)
    assert plays_for(parties.station_user) == first - 2
    assert len(renders) == 4


def test_a_play_starting_at_midnight_counts_in_its_own_day(parties):
    # Given a play that starts at midnight to the second (Accra time), counted as it is made
    # (on SQLite, where dates compare as text, a raw bound once put it in the day before)
    from django.utils import timezone

    midnight = datetime(2025, 3, 7, tzinfo=timezone.get_current_timezone())
    play = PlayLogFactory(
        station=parties.station,
        track=parties.track,
        started_at=midnight,
        ended_at=midnight + timedelta(seconds=200),
        duration_seconds=Decimal(200),
        verification_status="rejected",
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.play_review(actor=parties.support, play_id=play.pk, status="verified")
    # Then its station-day and track-day rows are those of 7 March, and 6 March has none
    days = PlayDaily.objects.filter(station=parties.station, track=parties.track)
    assert days.filter(day=date(2025, 3, 7)).get().plays == 1
    assert not days.filter(day=date(2025, 3, 6)).exists()
    assert StationDaily.objects.get(station=parties.station, day=date(2025, 3, 7)).plays == 1


def test_a_rebuild_of_days_without_plays_counts_nothing_and_keeps_the_rest(parties):
    _seed(parties, n=20)
    before = (_rollup_cells(), _monthly_cells(), _yearly_cells(), _summaries())

    assert analytics.rollups_rebuild(date_from=date(2020, 1, 1), date_to=date(2020, 1, 31)) == 0

    assert (_rollup_cells(), _monthly_cells(), _yearly_cells(), _summaries()) == before


def test_a_rebuild_invalidates_every_cached_answer(parties):
    # Given a station's answer and staff's cached, and a play written without the services
    _seed(parties, n=20)
    query = _query()
    renders, plays_for = _cached_totals(query, kind="rebuild")

    station_first, staff_first = plays_for(parties.station_user), plays_for(parties.support)
    PlayLogFactory(
        station=parties.station,
        track=parties.track,
        started_at=T0 + timedelta(days=2, hours=5),
        ended_at=T0 + timedelta(days=2, hours=5, seconds=180),
        duration_seconds=Decimal(180),
        verification_status="verified",
    )
    # When the rollups are rebuilt
    with TestCase.captureOnCommitCallbacks(execute=True):
        analytics.rollups_rebuild(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    # Then both answers are counted again and include it
    assert plays_for(parties.station_user) == station_first + 1
    assert plays_for(parties.support) == staff_first + 1
    assert renders == ["station", "staff", "station", "staff"]


def test_a_bad_query_is_refused(parties):
    from zamio.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        play_rollup(
            user=parties.support,
            query=RollupQuery(
                date_from=date(2025, 3, 2), date_to=date(2025, 3, 1), granularity="hour"
            ),
        )
    assert set(refused.value.details) == {"granularity", "date_to"}
    with pytest.raises(ValidationFailed) as refused:
        play_rollup(
            user=parties.support,
            query=RollupQuery(date_from=date(9999, 12, 1), date_to=date(9999, 12, 31)),
        )
    assert set(refused.value.details) == {"date_to"}


# --- First play and digest ------------------------------------------------------------------
def test_the_first_verified_play_of_a_track_on_a_station_is_announced_once(parties):
    artist_user = parties.artist_user
    with TestCase.captureOnCommitCallbacks(execute=True):
        for at in (0, 5, 10):  # one airing
            _feed(parties.station, parties.track, at, at)
        for at in (400, 405, 410):  # a second airing on the same station
            _feed(parties.station, parties.track, at, at - 400)
        for at in (0, 5, 10):  # the first on another station
            _feed(parties.other_station, parties.track, at, at)

    assert PlayLog.objects.filter(track=parties.track).count() == 1 + 3  # + the fixture's play
    assert set(FirstPlay.objects.values_list("station_id", flat=True)) == {
        parties.station.pk,
        parties.other_station.pk,
    }
    notes = Notification.objects.filter(user=artist_user, kind="first_play_on_station")
    assert sorted(n.context["station_name"] for n in notes) == ["Joy FM", "Luv FM"]
    assert notes[0].context["track_title"] == "Adowa Dance"


def test_a_low_confidence_play_is_announced_only_once_confirmed(parties):
    for at in (0, 5, 10):
        _feed(parties.station, parties.track, at, at, confidence=0.55)
    play = PlayLog.objects.get(station=parties.station, track=parties.track, is_open=True)
    assert play.verification_status == "pending_review"
    assert not FirstPlay.objects.exists()

    services.plays_close_open(station_id=parties.station.pk, until=T0 + timedelta(days=30))
    services.play_review(actor=parties.support, play_id=play.pk, status="verified")

    assert FirstPlay.objects.get().play_id == play.pk
    assert Notification.objects.filter(kind="first_play_on_station").count() == 1


def test_the_daily_digest_goes_to_opted_in_users_once(parties):
    _seed(parties, n=60)
    day = date(2025, 3, 8)
    NotificationPreference.objects.create(
        user=parties.artist_user, kind="daily_airplay_digest", email=True, sms=False, websocket=True
    )
    NotificationPreference.objects.create(
        user=parties.station_user,
        kind="daily_airplay_digest",
        email=False,
        sms=False,
        websocket=True,
    )

    with TestCase.captureOnCommitCallbacks(execute=True):
        sent = analytics.digests_send(day=day)
        again = analytics.digests_send(day=day)

    own = Q(track__primary_artist__user=parties.artist_user) | Q(
        track__featured_artists__user=parties.artist_user
    )
    plays = PlayLog.objects.filter(started_at__date=day).exclude(verification_status="rejected")
    expected = {
        parties.artist_user.pk: plays.filter(pk__in=PlayLog.objects.filter(own).values("pk")),
        parties.station_user.pk: plays.filter(station=parties.station),
    }
    expected = {u: qs.count() for u, qs in expected.items() if qs.exists()}
    assert (sent, again) == (len(expected), 0)
    digests = Notification.objects.filter(kind="daily_airplay_digest")
    assert {n.user_id: n.context["total_plays"] for n in digests} == expected
    for note in digests:
        assert note.context["date"] == "2025-03-08"
        assert sum(r["plays"] for r in note.context["rows"]) == note.context["total_plays"]
        assert set(note.context["rows"][0]) == {"track_title", "station_name", "plays"}
    assert not Notification.objects.filter(user=parties.publisher_user).exists()


# --- Detection health -----------------------------------------------------------------------
def test_detection_health_counts_windows_matches_and_low_confidence(parties, settings):
    from django.utils import timezone

    from detections.analytics_selectors import detection_health

    today = timezone.localdate()
    start = timezone.now().replace(hour=1, minute=0, second=0, microsecond=0)
    spec = [
        ("no_match", 0, 0.0),
        ("processed", 1, 0.9),
        ("low_confidence", 1, 0.55),
        ("verified", 1, 0.8),
        ("failed", 0, 0.0),
        ("pending", 0, 0.0),
    ]
    for i, (status, count, confidence) in enumerate(spec):
        MatchCache.objects.create(
            station=parties.station,
            captured_at=start + timedelta(seconds=10 * i),
            window_seconds=10.0,
            window_key=f"k{i}",
            source="radio",
            status=status,
            match_count=count,
            confidence=confidence,
        )

    assert analytics.detection_health_refresh(days=1, today=today) == 1
    assert analytics.detection_health_refresh(days=1, today=today) == 1  # replaced, not added
    row = DetectionHealthDaily.objects.get()
    assert (row.windows, row.matched, row.low_confidence, row.failed) == (4, 3, 1, 1)
    health = detection_health(date_from=today, date_to=today)
    assert health["totals"] == {
        "windows": 4,
        "matched": 3,
        "low_confidence": 1,
        "failed": 1,
        "match_rate": 0.75,
        "low_confidence_share": 0.3333,
    }
    assert health["streams_down"] == 0
    assert (
        health["plays_pending_review"]
        == PlayLog.objects.filter(verification_status="pending_review").count()
    )


def _direct_health(days: tuple[date, date], granularity: str) -> list[dict]:
    """The health series counted directly over DetectionHealthDaily."""
    trunc = {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}[granularity]
    rows = (
        DetectionHealthDaily.objects.filter(day__gte=days[0], day__lte=days[1])
        .annotate(period=trunc)
        .values("period")
        .annotate(
            windows=Sum("windows"),
            matched=Sum("matched"),
            low_confidence=Sum("low_confidence"),
            failed=Sum("failed"),
            stations=Count("station_id", distinct=True),
        )
        .order_by("period")
    )
    return [{**row, "period": row["period"]} for row in rows]


def test_platform_health_over_whole_and_partial_periods_equals_a_direct_count(parties):
    from django.utils import timezone

    from detections.analytics_selectors import detection_health

    # Given 100 days of health rows for three stations, one of them silent on some days
    rng = random.Random(3)
    third = StationFactory()
    start = date(2025, 1, 20)
    for offset in range(100):
        for station in (parties.station, parties.other_station, third):
            if station is third and offset % 9 == 0:
                continue
            windows = rng.randrange(500, 1500)
            DetectionHealthDaily.objects.create(
                station=station,
                day=start + timedelta(days=offset),
                windows=windows,
                matched=windows // 2,
                low_confidence=rng.randrange(10),
                failed=rng.randrange(5),
                audio_seconds=windows * 10.0,
                refreshed_at=timezone.now(),
            )
    analytics.detection_health_periods_recount(date_from=start, date_to=start + timedelta(99))
    # When staff ask for ranges that cut weeks and months, or hold none whole
    for days in [
        (date(2025, 1, 22), date(2025, 4, 17)),
        (date(2025, 2, 1), date(2025, 2, 28)),
        (date(2025, 3, 4), date(2025, 3, 6)),
        (date(2025, 1, 1), date(2025, 6, 30)),
    ]:
        for granularity in ("day", "week", "month"):
            health = detection_health(date_from=days[0], date_to=days[1], granularity=granularity)
            # Then every period equals a count over the stations' daily rows in the range
            series = [
                {k: point[k] for k in ("period", *_HEALTH_KEYS)} for point in health["series"]
            ]
            assert series == _direct_health(days, granularity), (days, granularity)
            assert health["totals"]["windows"] == sum(p["windows"] for p in series)


_HEALTH_KEYS = ("windows", "matched", "low_confidence", "failed", "stations")
