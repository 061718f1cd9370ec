"""Charts and artist numbers against direct counts of a seeded, random data set."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from artists.tests.factories import ArtistFactory
from streaming.models import PlayEvent
from streaming.selectors import (
    artist_stats,
    chart_top_artists,
    chart_top_tracks,
    listener_track_signals,
    period_window,
)
from tracks.models import TrackStatus
from tracks.tests.factories import TrackFactory

pytestmark = pytest.mark.django_db

ANCHOR = date(2026, 3, 11)  # a Wednesday
PLACES = [("GH", "Greater Accra"), ("GH", "Ashanti"), ("NG", "Lagos"), ("", "")]


@pytest.fixture
def seeded():
    """~600 plays over six weeks by 40 listeners of 8 tracks (one not approved) by 3 artists."""
    rng = random.Random(20260311)
    artists = ArtistFactory.create_batch(3)
    tracks = [
        TrackFactory(primary_artist=artists[i % 3], status=TrackStatus.APPROVED) for i in range(7)
    ]
    tracks.append(TrackFactory(primary_artist=artists[0], status=TrackStatus.SUBMITTED))
    tz = timezone.get_default_timezone()
    first = datetime(2026, 2, 9, tzinfo=tz)
    rows = []
    for i in range(600):
        outcome = rng.choice(["completed", "completed", "stopped", "skipped"])
        seconds = rng.randint(0, 180)
        country, region = rng.choice(PLACES)
        rows.append(
            PlayEvent(
                track=rng.choice(tracks[:5] * 3 + tracks),  # some tracks far more popular
                listener_key=f"g:{rng.randrange(40):064x}",
                started_at=first + timedelta(minutes=rng.randrange(42 * 24 * 60), seconds=i),
                seconds_listened=seconds,
                outcome=outcome,
                counted=outcome == "completed" or (outcome != "skipped" and seconds >= 30),
                is_replay=rng.random() < 0.3,
                device="web",
                country=country,
                region=region,
            )
        )
    PlayEvent.objects.bulk_create(rows)
    return {"artists": artists, "tracks": tracks, "events": rows}


def _in(window, e, country="", region=""):
    return (
        window.start <= e.started_at < window.end
        and (not country or e.country == country)
        and (not region or e.region.lower() == region.lower())
    )


def _expected_track_chart(events, window, country="", region=""):
    plays, listeners = Counter(), defaultdict(set)
    for e in events:
        if e.counted and e.track.status == "approved" and _in(window, e, country, region):
            plays[e.track.pk] += 1
            listeners[e.track.pk].add(e.listener_key)
    ranked = sorted(plays, key=lambda t: (-plays[t], -len(listeners[t]), t))
    return [(t, plays[t], len(listeners[t])) for t in ranked]


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize(("country", "region"), [("", ""), ("GH", ""), ("GH", "ashanti")])
def test_top_tracks_equal_direct_counts(seeded, period, country, region):
    window = period_window(period=period, day=ANCHOR)

    chart = chart_top_tracks(window=window, country=country, region=region, limit=100)

    expected = _expected_track_chart(seeded["events"], window, country, region)
    assert [(r["track_id"], r["plays"], r["listeners"]) for r in chart] == expected
    assert [r["rank"] for r in chart] == list(range(1, len(expected) + 1))
    assert seeded["tracks"][-1].pk not in {r["track_id"] for r in chart}  # not approved
    if period != "day":
        assert len(chart) >= 3  # the data set really exercises the ranking


def test_top_artists_equal_direct_counts(seeded):
    window = period_window(period="month", day=ANCHOR)

    chart = chart_top_artists(window=window, limit=10)

    plays, listeners, tracks = Counter(), defaultdict(set), defaultdict(set)
    for e in seeded["events"]:
        if e.counted and e.track.status == "approved" and _in(window, e):
            a = e.track.primary_artist_id
            plays[a] += 1
            listeners[a].add(e.listener_key)
            tracks[a].add(e.track.pk)
    expected = sorted(plays, key=lambda a: (-plays[a], -len(listeners[a]), a))
    assert [(r["artist_id"], r["plays"], r["listeners"], r["tracks"]) for r in chart] == [
        (a, plays[a], len(listeners[a]), len(tracks[a])) for a in expected
    ]


def test_limit_cuts_the_chart(seeded):
    window = period_window(period="month", day=ANCHOR)
    full = chart_top_tracks(window=window, limit=100)
    assert chart_top_tracks(window=window, limit=2) == full[:2]


def test_period_windows_are_local_calendar_periods():
    week = period_window(period="week", day=ANCHOR)
    month = period_window(period="month", day=date(2026, 12, 31))
    day = period_window(period="day", day=ANCHOR)

    assert (week.first_day, week.last_day) == (date(2026, 3, 9), date(2026, 3, 15))
    assert (month.first_day, month.last_day) == (date(2026, 12, 1), date(2026, 12, 31))
    assert day.end - day.start == timedelta(days=1)
    assert str(day.start.tzinfo) == "Africa/Accra"


def test_artist_stats_equal_direct_counts(seeded):
    artist = seeded["artists"][0]
    window = period_window(period="week", day=ANCHOR)

    stats = artist_stats(artist_id=artist.pk, window=window, country="GH")

    mine = [
        e
        for e in seeded["events"]
        if e.track.primary_artist_id == artist.pk and _in(window, e, "GH")
    ]
    assert stats["totals"] == {
        "plays": sum(e.counted for e in mine),
        "skips": sum(e.outcome == "skipped" for e in mine),
        "completions": sum(e.outcome == "completed" for e in mine),
        "replays": sum(e.is_replay and e.counted for e in mine),
        "listeners": len({e.listener_key for e in mine if e.counted}),
        "seconds": sum(e.seconds_listened for e in mine),
        "events": len(mine),
        "likes": 0,
    }
    per_track = {row["track_id"]: row for row in stats["tracks"]}
    for track in {e.track for e in mine}:
        events = [e for e in mine if e.track.pk == track.pk]
        assert (
            per_track[track.pk]["plays"],
            per_track[track.pk]["skips"],
            per_track[track.pk]["replays"],
        ) == (
            sum(e.counted for e in events),
            sum(e.outcome == "skipped" for e in events),
            sum(e.is_replay and e.counted for e in events),
        )
    assert [d["date"] for d in stats["days"]] == [date(2026, 3, 9) + timedelta(n) for n in range(7)]
    assert sum(d["events"] for d in stats["days"]) == len(mine)
    for d in stats["days"]:
        assert d["plays"] == sum(
            e.counted for e in mine if timezone.localtime(e.started_at).date() == d["date"]
        )


def test_listener_track_signals_for_a_recommender(seeded):
    rows = list(listener_track_signals())

    by_pair = Counter((e.listener_key, e.track.pk) for e in seeded["events"])
    assert len(rows) == len(by_pair)
    assert sum(r["events"] for r in rows) == 600
    sample = rows[0]
    events = [
        e
        for e in seeded["events"]
        if (e.listener_key, e.track.pk) == (sample["listener_key"], sample["track_id"])
    ]
    assert (sample["plays"], sample["skips"]) == (
        sum(e.counted for e in events),
        sum(e.outcome == "skipped" for e in events),
    )
