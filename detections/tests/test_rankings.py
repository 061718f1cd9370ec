"""Platform-wide top tracks and artists ranked from a few rows per period (proven by a
bound, else folded from every row), the artist summaries and track spans they read, and
a change of a track's primary artist."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncYear
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from artists.tests.factories import ArtistFactory
from conftest import make_user
from detections import analytics, analytics_selectors, services
from detections.analytics_selectors import RollupQuery, play_rollup
from detections.models import (
    ArtistAreaMonthly,
    ArtistAreaYearly,
    ArtistDaily,
    ArtistMonthly,
    ArtistYearly,
    PlayLog,
    TrackAreaSpan,
    TrackSpan,
)
from detections.tests.factories import PlayLogFactory
from stations.tests.factories import StationFactory
from tracks.models import Track
from tracks.tests.factories import TrackFactory

pytestmark = pytest.mark.django_db


def _counted():
    return PlayLog.objects.exclude(verification_status="rejected")


def _artist_rows(model, period: str) -> dict:
    rows = model.objects.values_list(period, "artist_id", "plays", "airtime_seconds")
    return {(at, artist): (n, airtime) for at, artist, n, airtime in rows}


def _direct_artist_rows(trunc) -> dict:
    """Plays and airtime per period and current primary artist, counted over PlayLog
    (Accra time is UTC in the tests)."""
    rows = (
        _counted()
        .annotate(period=trunc("started_at"))
        .values("period", "track__primary_artist")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
    )
    found = {}
    for r in rows:
        period = r["period"].date() if isinstance(r["period"], datetime) else r["period"]
        found[(period, r["track__primary_artist"])] = (r["n"], r["s"])
    return found


def _artist_area_rows(model, period: str) -> dict:
    rows = model.objects.values_list(
        period, "region", "station_class", "artist_id", "plays", "airtime_seconds"
    )
    return {(at, region, cls, artist): (n, s) for at, region, cls, artist, n, s in rows}


def _direct_artist_area_rows(trunc) -> dict:
    """Plays and airtime per period, the station's current region and class, and the
    track's current primary artist, counted over PlayLog."""
    area = ("station__region", "station__station_class", "track__primary_artist")
    rows = (
        _counted()
        .annotate(period=trunc("started_at"))
        .values("period", *area)
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
    )
    return {(r["period"].date(), *(r[k] for k in area)): (r["n"], r["s"]) for r in rows}


def assert_artist_summaries_equal_a_direct_count() -> None:
    assert _artist_rows(ArtistDaily, "day") == _direct_artist_rows(TruncDate)
    assert _artist_rows(ArtistMonthly, "month") == _direct_artist_rows(TruncMonth)
    assert _artist_rows(ArtistYearly, "year") == _direct_artist_rows(TruncYear)
    monthly = _direct_artist_area_rows(TruncMonth)
    assert _artist_area_rows(ArtistAreaMonthly, "month") == monthly
    assert _artist_area_rows(ArtistAreaYearly, "year") == _direct_artist_area_rows(TruncYear)
    assert monthly  # the data sets these checks run on have plays


def track_spans() -> dict:
    return {s.track_id: (s.first_day, s.last_day) for s in TrackSpan.objects.all()}


def area_spans() -> dict:
    return {
        (s.region, s.station_class, s.track_id): (s.first_day, s.last_day)
        for s in TrackAreaSpan.objects.all()
    }


def direct_area_spans() -> dict:
    """Each track's first and last day per its stations' current region and class."""
    area = ("station__region", "station__station_class", "track_id")
    rows = (
        _counted()
        .annotate(day=TruncDate("started_at"))
        .values(*area)
        .annotate(first=Min("day"), last=Max("day"))
        .order_by()
    )
    return {tuple(r[k] for k in area): (r["first"], r["last"]) for r in rows}


def direct_spans() -> dict:
    rows = (
        _counted()
        .annotate(day=TruncDate("started_at"))
        .values("track_id")
        .annotate(first=Min("day"), last=Max("day"))
        .order_by()
    )
    return {r["track_id"]: (r["first"], r["last"]) for r in rows}


def _play(track, station, at: datetime, seconds: int, status: str = "verified") -> PlayLog:
    return PlayLogFactory(
        station=station,
        track=track,
        started_at=at,
        ended_at=at + timedelta(seconds=seconds),
        duration_seconds=Decimal(seconds),
        alignment=at.timestamp() + seconds * 0.001,
        verification_status=status,
    )


def _skewed_catalogue(parties, *, plays: int = 700):
    """40 tracks of 8 artists aired on a Zipf curve (track r in proportion to 1/r) on two
    stations from 20 February to 12 April 2025, a sixth rejected, counted by a rebuild."""
    rng = random.Random(31)
    artists = [ArtistFactory() for _ in range(8)]
    tracks = [TrackFactory(primary_artist=artists[i % 8]) for i in range(40)]
    stations = [parties.station, parties.other_station]
    start = datetime(2025, 2, 20, tzinfo=UTC)
    for i in range(plays):
        track = rng.choices(tracks, weights=[1 / (r + 1) for r in range(40)])[0]
        at = start + timedelta(minutes=rng.randrange(52 * 24 * 60), seconds=i)
        status = "rejected" if i % 6 == 0 else "verified"
        _play(track, rng.choice(stations), at, 150 + rng.randrange(120), status)
    analytics.rollups_rebuild(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    return tracks


def _staff_rollup(parties, first: date, last: date, top: int, **area):
    query = RollupQuery(date_from=first, date_to=last, granularity="month", top=top, **area)
    with CaptureQueriesContext(connection) as queries:
        result = play_rollup(user=parties.support, query=query)
    return result, " ".join(q["sql"] for q in queries.captured_queries)


def _assert_tops_equal_a_direct_count(
    result: dict, first: date, last: date, top: int, **area
) -> None:
    """Top tracks and artists (ties: more airtime, then the lower id) and the number of
    tracks equal a count over the plays of [first, last] (on the stations of `area`:
    region and station_class filters)."""
    plays = _counted().filter(
        started_at__gte=datetime.combine(first, datetime.min.time(), tzinfo=UTC),
        started_at__lt=datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
        **{f"station__{field}": value for field, value in area.items()},
    )
    by_track = list(
        plays.values("track_id")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
        .order_by("-n", "-s", "track_id")
    )
    by_artist = list(
        plays.values("track__primary_artist")
        .annotate(n=Count("id"), s=Sum("duration_seconds"))
        .order_by("-n", "-s", "track__primary_artist")
    )
    assert [(t["track_id"], t["plays"], t["airtime_seconds"]) for t in result["top_tracks"]] == [
        (r["track_id"], r["n"], r["s"]) for r in by_track[:top]
    ]
    assert [(a["artist_id"], a["plays"], a["airtime_seconds"]) for a in result["top_artists"]] == [
        (r["track__primary_artist"], r["n"], r["s"]) for r in by_artist[:top]
    ]
    assert result["totals"]["distinct_tracks"] == len(by_track)


def test_platform_tops_are_ranked_from_a_few_rows_per_period_and_equal_a_direct_count(
    parties, monkeypatch
):
    # Given a skewed catalogue, and few enough rows read per period that the bound, not
    # the size of a period, decides (a day has ~13 plays, a month up to 40 tracks)
    _skewed_catalogue(parties)
    monkeypatch.setattr(analytics_selectors, "_RANKED_READ_MIN", 1)
    assert_artist_summaries_equal_a_direct_count()
    assert track_spans() == direct_spans()
    last = _counted().order_by("-started_at").first().started_at.date()
    # When staff ask for ranges that run past the last play or start before the first:
    # whole years, whole months and days left over
    for first, last_day, top in (
        (date(2025, 3, 20), date(2025, 6, 30), 2),  # days of March, April so far
        (date(2024, 6, 1), date(2025, 3, 31), 3),  # 2024 (empty), Feb and March whole
        (date(2025, 1, 1), last, 2),  # the year so far
        (date(2025, 4, 5), last, 1),  # a few days
    ):
        result, sql = _staff_rollup(parties, first, last_day, top)
        # Then the tops equal a direct count, ranked without folding every track's rows
        _assert_tops_equal_a_direct_count(result, first, last_day, top)
        assert "per_track" not in sql
        assert "detections_trackspan" in sql


def _class_b_station_in_ashanti():
    """A station in Luv FM's region, of another class (the parties' stations are A)."""
    return StationFactory(
        name="Adom FM",
        slug="adom-fm",
        call_sign="ADM",
        licence_number="NCA-ADOM",
        region="Ashanti",
        station_class="B",
    )


def test_region_and_class_tops_are_ranked_from_area_rows_and_equal_a_direct_count(
    parties, monkeypatch
):
    # Given a skewed catalogue on Joy FM (Greater Accra, A), Luv FM (Ashanti, A) and a
    # third station in Ashanti of another class, and few rows read per period and area
    tracks = _skewed_catalogue(parties)
    third = _class_b_station_in_ashanti()
    rng = random.Random(5)
    for minute in rng.sample(range(52 * 24 * 60), 300):  # one play a minute at most
        track = rng.choices(tracks, weights=[1 / (r + 1) for r in range(40)])[0]
        at = datetime(2025, 2, 20, tzinfo=UTC) + timedelta(minutes=minute)
        _play(track, third, at, 150 + rng.randrange(120))
    analytics.rollups_rebuild(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    assert_artist_summaries_equal_a_direct_count()
    monkeypatch.setattr(analytics_selectors, "_RANKED_READ_MIN", 1)
    last = _counted().order_by("-started_at").first().started_at.date()
    earliest = _counted().order_by("started_at").first().started_at.date()
    # When staff ask by region, by class and by both, for ranges with whole months or a
    # year so far, inside the plays or running past them
    for area in (
        {"region": "Ashanti"},
        {"station_class": "A"},
        {"region": "Ashanti", "station_class": "B"},
    ):
        for first, last_day, top in (
            (date(2025, 2, 25), date(2025, 4, 3), 2),  # days, March whole, days
            (date(2025, 3, 1), date(2025, 3, 31), 3),  # March alone
            (date(2025, 1, 1), last, 2),  # the year so far
            (date(2024, 6, 1), date(2025, 3, 31), 1),  # 2024 (empty), Feb and March whole
        ):
            result, sql = _staff_rollup(parties, first, last_day, top, **area)
            # Then the tops and the number of tracks equal a direct count, ranked from the
            # area rows without folding every track's rows
            _assert_tops_equal_a_direct_count(result, first, last_day, top, **area)
            assert "per_track" not in sql, (area, first)
            assert "detections_artistarea" in sql
            # (the tracks of a range to the last play, or from before the first, counted
            # from the area's spans)
            spanned = last_day >= last or first <= earliest
            assert ("detections_trackareaspan" in sql) == spanned
    # And a range of days only is folded (one read), and still equal to a direct count
    result, sql = _staff_rollup(parties, date(2025, 3, 3), date(2025, 3, 9), 2, region="Ashanti")
    assert "per_track" in sql
    _assert_tops_equal_a_direct_count(
        result, date(2025, 3, 3), date(2025, 3, 9), 2, region="Ashanti"
    )


def test_an_areas_track_read_in_some_heads_only_is_still_a_candidate(parties, monkeypatch):
    # Given, each track by its own artist, in March: on Luv FM (Ashanti, A) X 11 plays,
    # K 10, two others 1; on a class B station in Ashanti four others 3 each and K 2;
    # on 28 February f 20 plays on Luv FM, and a play on 3 February (so February is not
    # a whole month of a range from the 28th)
    third = _class_b_station_in_ashanti()
    tracks = {name: TrackFactory(primary_artist=ArtistFactory()) for name in "XKabcdef"}
    at = datetime(2025, 3, 10, 6, tzinfo=UTC)
    for station, counts in (
        (parties.other_station, {"X": 11, "K": 10, "a": 1, "b": 1}),
        (third, {"c": 3, "d": 3, "e": 3, "f": 3, "K": 2}),
    ):
        minute = 0
        for name, n in counts.items():
            for _ in range(n):
                _play(tracks[name], station, at + timedelta(minutes=minute), 60)
                minute += 5
    for n in range(20):
        _play(
            tracks["f"],
            parties.other_station,
            datetime(2025, 2, 28, 1, tzinfo=UTC) + timedelta(minutes=5 * n),
            60,
        )
    _play(tracks["a"], parties.other_station, datetime(2025, 2, 3, 9, tzinfo=UTC), 60)
    analytics.rollups_rebuild(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    # and four rows read per head: K is read in Luv FM's March (10 of its 12 plays) and
    # not in the other station's, where it can have at most 3 (the least read there)
    monkeypatch.setattr(analytics_selectors, "_RANKED_READ_MIN", 4)
    # When staff ask for Ashanti's top track of March
    result, sql = _staff_rollup(parties, date(2025, 3, 1), date(2025, 3, 31), 1, region="Ashanti")
    # Then K (12 plays) is ranked first, though X read more (11) where both were read
    assert "per_track" not in sql and "detections_artistarea" in sql
    assert result["top_tracks"][0]["track_id"] == tracks["K"].pk
    _assert_tops_equal_a_direct_count(
        result, date(2025, 3, 1), date(2025, 3, 31), 1, region="Ashanti"
    )
    # And from 28 February, f (3 in March, 20 that day: folded from the day rows) leads
    result, sql = _staff_rollup(parties, date(2025, 2, 28), date(2025, 3, 31), 2, region="Ashanti")
    assert "per_track" not in sql
    assert result["top_tracks"][0]["track_id"] == tracks["f"].pk
    _assert_tops_equal_a_direct_count(
        result, date(2025, 2, 28), date(2025, 3, 31), 2, region="Ashanti"
    )


def test_a_top_the_bound_cannot_prove_is_folded_from_every_row(parties, monkeypatch):
    # Given five tracks of five artists played twice each on the last day, airtime apart
    day = datetime(2025, 3, 10, 8, tzinfo=UTC)
    for i in range(5):
        track = TrackFactory(primary_artist=ArtistFactory())
        for n in range(2):
            _play(track, parties.station, day + timedelta(hours=i, minutes=10 * n), 100 + i)
    analytics.rollups_rebuild(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    # and four rows read per period: the fourth has 2 plays, so a track not read could
    # tie the best with more airtime
    monkeypatch.setattr(analytics_selectors, "_RANKED_READ_MIN", 4)
    # When staff ask for the top track of a range up to today
    result, sql = _staff_rollup(parties, date(2025, 3, 10), date(2025, 12, 31), 1)
    # Then every row is folded, and the answer is the track with the most airtime
    assert "per_track" in sql
    _assert_tops_equal_a_direct_count(result, date(2025, 3, 10), date(2025, 12, 31), 1)
    assert result["top_tracks"][0]["airtime_seconds"] == Decimal("208.00")


def test_a_track_read_in_some_periods_only_is_still_a_candidate(parties, monkeypatch):
    # Given, each track by its own artist, on 10 March: X 11 plays, K 10, two others 1;
    # on 11 March: four others 3 each and K 2; and a play in February (before the range)
    tracks = {name: TrackFactory(primary_artist=ArtistFactory()) for name in "XKabcdef"}
    at = datetime(2025, 3, 10, 6, tzinfo=UTC)
    for day, counts in (
        (0, {"X": 11, "K": 10, "a": 1, "b": 1}),
        (1, {"c": 3, "d": 3, "e": 3, "f": 3, "K": 2}),
    ):
        minute = 0
        for name, n in counts.items():
            for _ in range(n):
                _play(tracks[name], parties.station, at + timedelta(days=day, minutes=minute), 60)
                minute += 5
    _play(tracks["a"], parties.station, datetime(2025, 2, 3, 9, tzinfo=UTC), 60)
    analytics.rollups_rebuild(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    # and four rows read per day: K is read on the 10th (10 of its 12 plays) and not on
    # the 11th, where it can have at most 3 (the least read there)
    monkeypatch.setattr(analytics_selectors, "_RANKED_READ_MIN", 4)
    # When staff ask for the top track from 10 March on
    result, sql = _staff_rollup(parties, date(2025, 3, 10), date(2025, 12, 31), 1)
    # Then K (12 plays) is ranked first, though X read more (11) where both were read
    assert "per_track" not in sql
    assert result["top_tracks"][0]["track_id"] == tracks["K"].pk
    _assert_tops_equal_a_direct_count(result, date(2025, 3, 10), date(2025, 12, 31), 1)


def test_a_range_inside_the_plays_is_folded(parties):
    # Given plays on both sides of a range (its track count has no span to answer it)
    _skewed_catalogue(parties, plays=200)
    # When staff ask for the middle of it
    result, sql = _staff_rollup(parties, date(2025, 3, 1), date(2025, 3, 20), 3)
    # Then every row is folded, and the tops still equal a direct count
    assert "per_track" in sql
    _assert_tops_equal_a_direct_count(result, date(2025, 3, 1), date(2025, 3, 20), 3)


def test_spans_and_artist_summaries_follow_rejections_and_confirmations(parties):
    # Given a track heard on 3, 5 and 9 March
    track = TrackFactory()
    plays = [
        _play(track, parties.station, datetime(2025, 3, d, 9, tzinfo=UTC), 200) for d in (3, 5, 9)
    ]
    analytics.rollups_rebuild(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    assert track_spans()[track.pk] == (date(2025, 3, 3), date(2025, 3, 9))

    def review(play, status):
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.play_review(actor=parties.support, play_id=play.pk, status=status)

    # (also on Luv FM on 4 March: its region's span is that day)
    _play(track, parties.other_station, datetime(2025, 3, 4, 9, tzinfo=UTC), 200)
    analytics.rollups_rebuild(date_from=date(2025, 3, 4), date_to=date(2025, 3, 4))
    assert area_spans() == direct_area_spans()
    # When the last day's play is rejected, the span ends on the day before
    review(plays[2], "rejected")
    assert track_spans()[track.pk] == (date(2025, 3, 3), date(2025, 3, 5))
    assert area_spans() == direct_area_spans()
    # A middle day rejected changes no end
    review(plays[1], "rejected")
    assert track_spans()[track.pk] == (date(2025, 3, 3), date(2025, 3, 4))
    assert area_spans() == direct_area_spans()
    # Confirmed again, the last day is back
    review(plays[2], "verified")
    assert track_spans()[track.pk] == (date(2025, 3, 3), date(2025, 3, 9))
    assert area_spans() == direct_area_spans()
    # Every play on Joy FM rejected: no span in its region, Luv FM's left
    review(plays[0], "rejected")
    review(plays[2], "rejected")
    assert track_spans()[track.pk] == (date(2025, 3, 4), date(2025, 3, 4))
    assert area_spans() == direct_area_spans()
    assert [key[0] for key in area_spans() if key[2] == track.pk] == ["Ashanti"]
    assert track_spans() == direct_spans()
    assert_artist_summaries_equal_a_direct_count()


def test_a_new_primary_artist_takes_the_tracks_plays_with_it(parties):
    # Given a skewed catalogue, counted
    _skewed_catalogue(parties, plays=150)
    top = _counted().values("track").annotate(n=Count("id")).order_by("-n")[0]["track"]
    track = Track.objects.get(pk=top)
    before = track.primary_artist_id
    before_total = ArtistYearly.objects.get(artist_id=before, year=date(2025, 1, 1)).plays
    newcomer = ArtistFactory(stage_name="Newcomer")
    # When staff give the most played track a new primary artist in the admin
    client = Client()
    client.force_login(make_user("admin", staff_role="superadmin"))
    url = f"/admin/tracks/track/{track.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {
        k: v
        for k, v in form.initial.items()
        if v is not None and k not in ("featured_artists", "cover")
    }
    data["primary_artist"] = newcomer.pk
    response = client.post(url, data)
    assert response.status_code == 302
    # Then the artist summaries count its plays under the new artist, none under the old
    track.refresh_from_db()
    assert track.primary_artist_id == newcomer.pk
    assert_artist_summaries_equal_a_direct_count()
    moved = _counted().filter(track=track).count()
    assert sum(r.plays for r in ArtistYearly.objects.filter(artist=newcomer)) == moved
    left = ArtistYearly.objects.filter(artist_id=before, year=date(2025, 1, 1))
    assert sum(r.plays for r in left) == before_total - moved
    # And staff's top artists show it
    result, sql = _staff_rollup(parties, date(2025, 1, 1), date(2025, 12, 31), 8)
    assert "per_track" not in sql
    _assert_tops_equal_a_direct_count(result, date(2025, 1, 1), date(2025, 12, 31), 8)
    assert newcomer.pk in [a["artist_id"] for a in result["top_artists"]]
