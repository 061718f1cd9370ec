"""The station playlog comparison on a fixture where every category occurs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from detections.models import MatchCache
from detections.playlogs import normalise, playlog_comparison
from detections.tests.factories import PlayLogFactory
from detections.tests.parties import Parties
from stations.models import StationPlaylog, StationPlaylogEntry
from tracks.tests.factories import TrackFactory

pytestmark = pytest.mark.django_db


def _entry(p: Parties, log, title, artist, start, seconds, isrc="") -> StationPlaylogEntry:
    return StationPlaylogEntry.objects.create(
        playlog=log,
        station=p.station,
        row_number=StationPlaylogEntry.objects.count() + 2,
        title=title,
        artist=artist,
        isrc=isrc,
        started_at=start,
        duration_seconds=Decimal(seconds),
        ended_at=start + timedelta(seconds=seconds),
    )


def _windows(p: Parties, start, seconds: int, *, status="no_match") -> None:
    for offset in range(0, seconds, 5):  # 10 s windows every 5 s, as continuous capture
        at = start + timedelta(seconds=offset)
        MatchCache.objects.create(
            station=p.station,
            captured_at=at,
            window_seconds=10.0,
            window_key=f"radio:{at.isoformat()}",
            source="radio",
            status=status,
        )


@pytest.fixture
def day(parties):
    """Yesterday 06:00–07:00 at Joy FM: logged by the station and heard by ZamIO."""
    p = parties
    t0 = (timezone.localtime() - timedelta(days=1)).replace(
        hour=6, minute=0, second=0, microsecond=0
    )
    log = StationPlaylog.objects.create(
        station=p.station,
        file_format="csv",
        original_name="day.csv",
        size_bytes=1,
        rows_total=6,
        rows_accepted=6,
        rows_rejected=0,
    )
    kpanlogo = TrackFactory(title="Kpanlogo", primary_artist=p.track.primary_artist)
    kpanlogo.featured_artists.add(p.track.featured_artists.first())
    plays = {
        # agreed by ISRC, 20 s apart, same length
        "isrc": PlayLogFactory(
            station=p.station,
            track=p.track,
            started_at=t0 + timedelta(seconds=20),
            ended_at=t0 + timedelta(seconds=200),
            duration_seconds=Decimal(180),
        ),
        # agreed by title and artist; the station says 240 s, we heard 180 s
        "names": PlayLogFactory(
            station=p.station,
            track=kpanlogo,
            started_at=t0 + timedelta(minutes=5),
            ended_at=t0 + timedelta(minutes=8),
            duration_seconds=Decimal(180),
        ),
        # heard, not logged
        "unlogged": PlayLogFactory(
            station=p.station,
            track=p.other_track,
            started_at=t0 + timedelta(minutes=12),
            ended_at=t0 + timedelta(minutes=15),
            duration_seconds=Decimal(180),
        ),
        # rejected by staff: not a play, so neither agreed nor unlogged
        "rejected": PlayLogFactory(
            station=p.station,
            track=p.other_track,
            started_at=t0 + timedelta(minutes=40),
            ended_at=t0 + timedelta(minutes=43),
            duration_seconds=Decimal(180),
            verification_status="rejected",
        ),
        # another station's play: not in this report
        "elsewhere": PlayLogFactory(
            station=p.other_station,
            track=p.track,
            started_at=t0,
            ended_at=t0 + timedelta(seconds=180),
            duration_seconds=Decimal(180),
        ),
    }
    entries = {
        "isrc": _entry(
            p, log, "Adowa Dance (Radio Edit)", "AMA SERWAA", t0, 180, isrc="GHA012500001"
        ),
        "names": _entry(
            p, log, "Kpanlogo", "Ama Serwaa ft. Kojo Feat", t0 + timedelta(minutes=5), 240
        ),
        # logged, not heard, while we were listening: a real disagreement
        "monitored": _entry(p, log, "Ghost Song", "Nobody", t0 + timedelta(minutes=20), 120),
        # logged, not heard, half of it listened to
        "partial": _entry(p, log, "Half Heard", "Nobody", t0 + timedelta(minutes=25), 120),
        # logged, not heard, while capture was down: not the station's fault
        "gap": _entry(p, log, "Capture Gap", "Nobody", t0 + timedelta(minutes=30), 120),
        # the rejected play's song, logged: stays unheard
        "rejected": _entry(p, log, "Other Song", "Yaw Other", t0 + timedelta(minutes=40), 180),
    }
    _windows(p, t0 + timedelta(minutes=20) - timedelta(seconds=5), 130)
    _windows(p, t0 + timedelta(minutes=25), 55)
    _windows(p, t0 + timedelta(minutes=40), 185, status="failed")  # failed windows heard nothing
    return t0, plays, entries


def test_every_category_of_the_comparison(parties, day):
    t0, plays, entries = day
    report = playlog_comparison(station=parties.station, date_from=t0.date(), date_to=t0.date())

    assert [
        (p.entry.pk, p.play.pk, p.start_difference_seconds, p.duration_difference_seconds)
        for p in report.agreed
    ] == [
        (entries["isrc"].pk, plays["isrc"].pk, 20.0, Decimal("0.00")),
        (entries["names"].pk, plays["names"].pk, 0.0, Decimal("-60.00")),
    ]
    assert [p.entry.pk for p in report.duration_differences] == [entries["names"].pk]
    assert [p.pk for p in report.unlogged] == [plays["unlogged"].pk]
    assert [(u.entry.pk, u.coverage_status) for u in report.unheard] == [
        (entries["monitored"].pk, "monitored"),
        (entries["partial"].pk, "partial"),
        (entries["gap"].pk, "not_monitored"),
        (entries["rejected"].pk, "not_monitored"),
    ]
    assert [u.coverage for u in report.unheard] == [1.0, 0.5, 0.0, 0.0]
    assert report.summary == {
        "logged": 6,
        "detected": 3,
        "agreed": 2,
        "unlogged": 1,
        "unheard": 4,
        "unheard_by_coverage": {"monitored": 1, "partial": 1, "not_monitored": 2, "unknown": 0},
        "duration_differences": 1,
        "agreement_rate": 0.3333,
    }


def test_entries_older_than_the_kept_windows_have_unknown_coverage(parties, settings):
    settings.DETECTIONS_MATCHCACHE_RETENTION_DAYS = 30
    old = (timezone.localtime() - timedelta(days=45)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    log = StationPlaylog.objects.create(
        station=parties.station,
        file_format="csv",
        original_name="old.csv",
        size_bytes=1,
        rows_total=1,
        rows_accepted=1,
        rows_rejected=0,
    )
    _entry(parties, log, "Old Song", "Someone", old, 200)

    report = playlog_comparison(station=parties.station, date_from=old.date(), date_to=old.date())

    assert [(u.coverage, u.coverage_status) for u in report.unheard] == [(None, "unknown")]


def test_names_are_compared_without_case_accents_brackets_or_features():
    assert normalise("Adowa Dance (Radio Edit)") == normalise("ADOWA DANCE")
    assert normalise("Ɔdɔ Yɛwu feat. Kojo") == "ɔdɔ yɛwu"
    assert normalise("Ɔdɔ Yɛwu") != normalise("Odo Yewu")
    assert normalise("Café [Live]") == "cafe"


def test_the_report_over_http_is_what_its_serializer_gives(parties, day, client_for):
    from rest_framework.renderers import JSONRenderer

    from detections.api.serializers import ComparisonOutput
    from detections.api.views import comparison_body

    t0, _plays, _entries = day
    params = {"station": parties.station.pk, "date_from": t0.date(), "date_to": t0.date()}

    answer = client_for(parties.station_user).get("/api/v1/playlog-comparison/", params)

    report = playlog_comparison(station=parties.station, date_from=t0.date(), date_to=t0.date())
    drf = JSONRenderer().render(ComparisonOutput(comparison_body(report)).data)
    assert answer.status_code == 200
    assert answer.content == drf
