"""Stream outage: a live station that drops off the air mid-song and comes back.

The production continuous capture worker (detections' CaptureWorker with
stream_capture's StreamReader) reads a real-time MP3 station on 127.0.0.1 whose source
drops at a scripted moment: the listener is cut off, reconnects are answered 503, and
after the outage a listener joins at the live point (the outage's audio is lost). We
assert what a station manager and an artist would: one "stream down" and one "back up"
alert, the interrupted play logged once and closed, a new play only for a new airing,
and no window or play counted twice.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import numpy as np
import pytest

from detections.management.commands.capture import CaptureWorker
from detections.models import MatchCache, PlayLog
from notifications.models import Notification
from stations.models import StreamLink
from stations.tests.factories import StationFactory, StationStaffFactory
from stream_capture.models import CaptureAttempt, LinkHealth
from stream_capture.testing import serve_stream
from tests.hardening.conftest import SR, make_catalogue, talk

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SONG_SECONDS = 24.0


@pytest.fixture
def outage_settings(settings):
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = True
    settings.TRACKS_RECORDING_MATCHER = ""
    # Short windows, and an outage of a few seconds counts as "down", so each scenario
    # fits in well under a minute of real-time streaming.
    settings.DETECTIONS_WINDOW_SECONDS = 6
    settings.DETECTIONS_HOP_SECONDS = 3
    settings.STREAM_DOWN_AFTER_SECONDS = 2
    settings.STREAM_CAPTURE_RECONNECT_MAX_SECONDS = 1
    settings.STREAM_CAPTURE_HEALTH_EVERY_SECONDS = 2
    return settings


@pytest.fixture
def songs(tmp_path, outage_settings):
    return make_catalogue(
        tmp_path / "catalogue", {"Adowa": (301, SONG_SECONDS), "Borborbor": (302, SONG_SECONDS)}
    )


def _station_with_staff():
    station = StationFactory(monitoring_enabled=True)
    manager = StationStaffFactory(station=station).user
    return station, manager


def _capture(station, url, *, seconds: float) -> CaptureWorker:
    link = StreamLink.objects.create(station=station, url=str(url), kind="primary")
    worker = CaptureWorker(
        worker_id="outage-test", slugs=[station.slug], max_stations=0, log=lambda msg: None
    )
    worker.run(stop=threading.Event(), seconds=seconds)
    return link


def _offset(url, at) -> float:
    """Broadcast seconds of a datetime (0 = the programme's first sample on air)."""
    return (at - url.started_at).total_seconds()


def _assert_one_incident(link, manager, url, outage: tuple[float, float]) -> None:
    """Down once, up once, one alert each way; failures only while the source was off."""
    health = LinkHealth.objects.get(link=link)
    assert (health.is_down, health.down_since, health.consecutive_failures) == (False, None, 0)
    alerts = Notification.objects.filter(user=manager).order_by("created_at")
    assert list(alerts.values_list("kind", flat=True)) == [
        "station_stream_down",
        "station_stream_up",
    ]
    failures = CaptureAttempt.objects.filter(link=link, ok=False)
    assert failures.count() >= 2  # the drop itself, then reconnects refused with 503
    assert failures.filter(error__contains="HTTP 503").exists()
    start, end = outage
    for failed_at in failures.values_list("started_at", flat=True):
        assert start - 1 <= _offset(url, failed_at) <= end + 2
    # One listener before the outage and one after: reconnects were refused, not served.
    assert len(url.connections) == 2
    assert url.connections[0] < start <= end <= url.connections[1] <= end + 2


def _assert_windows_unique_and_never_in_the_outage(station, url, outage) -> None:
    windows = list(
        MatchCache.objects.filter(station=station).values_list("captured_at", "window_seconds")
    )
    starts = [captured_at for captured_at, _ in windows]
    assert len(starts) == len(set(starts))  # no stretch of air analysed twice
    start, end = outage
    for captured_at, seconds in windows:
        # A window may begin before the drop or after the return, never span the gap.
        begins = _offset(url, captured_at)
        assert begins + seconds <= start + 0.5 or begins >= end - 0.5, begins


def test_a_song_cut_off_and_not_heard_again_is_one_closed_play(songs, outage_settings):
    # talk 0-2 | Adowa 2-26 | talk 26-30 | Borborbor 30-54; the source drops 14-28, half-way
    # through Adowa, and comes back after it ended.
    adowa, borborbor = songs["Adowa"], songs["Borborbor"]
    programme = np.concatenate([talk(7, 2), adowa.audio, talk(8, 4), borborbor.audio])
    outage = (14.0, 28.0)
    station, manager = _station_with_staff()

    with serve_stream(programme, SR, realtime=True, outages=[outage]) as url:
        link = _capture(station, url, seconds=45)

    _assert_one_incident(link, manager, url, outage)
    _assert_windows_unique_and_never_in_the_outage(station, url, outage)
    plays = list(PlayLog.objects.filter(station=station).order_by("started_at"))
    assert [play.track_id for play in plays] == [adowa.track.pk, borborbor.track.pk]
    first, second = plays
    # Adowa's airing: logged once, from its second 0, and closed when Borborbor was heard.
    # Nothing after the outage contradicts the song having run on, so the play ends at the
    # song's own end (its alignment + its length) — never after it, never a second row.
    assert first.is_open is False
    assert abs(_offset(url, first.started_at) - 2.0) <= 1.0
    assert abs(_offset(url, first.ended_at) - (2.0 + SONG_SECONDS)) <= 1.0
    assert first.ended_at <= url.started_at + timedelta(seconds=outage[1])
    # Borborbor is a new airing heard only after the outage.
    assert abs(_offset(url, second.started_at) - 30.0) <= 1.5
    assert second.started_at >= url.started_at + timedelta(seconds=outage[1])


def test_a_song_cut_off_and_heard_again_is_continued_and_a_new_airing_is_a_new_play(
    songs, outage_settings
):
    # talk 0-2 | Adowa 2-26 | talk 26-29 | Adowa again 29-53; the source drops 11-17 while
    # Adowa's first airing is on, and comes back before it ends.
    adowa = songs["Adowa"]
    programme = np.concatenate([talk(9, 2), adowa.audio, talk(10, 3), adowa.audio])
    outage = (11.0, 17.0)
    station, manager = _station_with_staff()

    with serve_stream(programme, SR, realtime=True, outages=[outage]) as url:
        link = _capture(station, url, seconds=44)

    _assert_one_incident(link, manager, url, outage)
    _assert_windows_unique_and_never_in_the_outage(station, url, outage)
    plays = list(PlayLog.objects.filter(station=station).order_by("started_at"))
    assert [play.track_id for play in plays] == [adowa.track.pk, adowa.track.pk]
    first, second = plays
    # The first airing was heard on both sides of the outage: one play spanning it (the
    # same alignment), not a second row opened when the stream came back.
    assert abs(_offset(url, first.started_at) - 2.0) <= 1.0
    assert _offset(url, first.ended_at) >= outage[1] + 3
    assert abs(first.alignment - (url.started_at.timestamp() + 2.0)) <= 1.0
    windows_after = MatchCache.objects.filter(
        play=first, captured_at__gte=url.started_at + timedelta(seconds=outage[1])
    )
    assert windows_after.exists()
    assert first.is_open is False  # ended when the song's next airing began
    # The song heard again in a new airing (alignment 29 s) is a new play.
    assert abs(_offset(url, second.started_at) - 29.0) <= 1.5
    assert abs(second.alignment - (url.started_at.timestamp() + 29.0)) <= 1.0
