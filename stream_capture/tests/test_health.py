"""Link health: attempts, the down threshold, one alert each way, error rates, link choice,
and a station's sampled capture falling back from a dead primary to a live backup."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from conftest import make_user
from fingerprinting import synth
from notifications.models import Notification
from stations.tests.factories import StationFactory, StationStaffFactory, StreamLinkFactory
from stream_capture import services
from stream_capture.ffmpeg import StreamUnavailable
from stream_capture.models import CaptureAttempt, LinkHealth, StationCaptureState
from stream_capture.selectors import capture_link_for, capture_links_for, links_with_health
from stream_capture.testing import serve_silent, serve_stream
from zamio.live import staff_group, station_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(db):
    link = StreamLinkFactory()
    StationStaffFactory(station=link.station)
    StationStaffFactory(station=link.station, role="staff")
    return link


def _age_failures(link, seconds: float) -> None:
    """As if the link had been failing for `seconds` already."""
    LinkHealth.objects.filter(link=link).update(
        failing_since=timezone.now() - timedelta(seconds=seconds)
    )


def _kinds(kind: str) -> int:
    return Notification.objects.filter(kind=kind).count()


def test_success_and_failure_are_logged(link):
    services.health_record_failure(link_id=link.pk, error="no data for 10 s")
    services.health_record_failure(link_id=link.pk, error="the server answered HTTP 503")
    health = LinkHealth.objects.get(link=link)
    assert (health.consecutive_failures, health.last_error, health.is_down) == (
        2,
        "the server answered HTTP 503",
        False,
    )
    first_failure = health.failing_since

    services.health_record_success(link_id=link.pk, seconds=20.0)
    health.refresh_from_db()
    assert (health.consecutive_failures, health.failing_since, health.is_down) == (0, None, False)
    assert health.last_success_at >= first_failure
    assert list(CaptureAttempt.objects.order_by("id").values_list("ok", "seconds", "error")) == [
        (False, 0.0, "no data for 10 s"),
        (False, 0.0, "the server answered HTTP 503"),
        (True, 20.0, ""),
    ]


def test_down_after_threshold_then_up_with_one_notification_each(link, settings):
    settings.STREAM_DOWN_AFTER_SECONDS = 300
    services.health_record_failure(link_id=link.pk, error="timeout")
    assert LinkHealth.objects.get(link=link).is_down is False
    assert _kinds("station_stream_down") == 0

    _age_failures(link, 301)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.health_record_failure(link_id=link.pk, error="timeout")
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.health_record_failure(link_id=link.pk, error="timeout again")
    health = LinkHealth.objects.get(link=link)
    assert (health.is_down, health.consecutive_failures) == (True, 3)
    assert health.down_since == health.failing_since
    # Two station accounts, one alert each, however many failures follow.
    assert _kinds("station_stream_down") == 2
    note = Notification.objects.filter(kind="station_stream_down").first()
    assert note.title == f"Primary stream of {link.station.name} is down"
    assert "Last error: timeout." in note.body

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.health_record_success(link_id=link.pk, seconds=20.0)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.health_record_success(link_id=link.pk, seconds=20.0)
    health.refresh_from_db()
    assert (health.is_down, health.down_since) == (False, None)
    assert _kinds("station_stream_up") == 2
    assert _kinds("station_stream_down") == 2


def _listen(*groups: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)
    return channel


def _next_event(channel: str, *groups: str) -> dict:
    # One receive per channel: channels-redis buffers per event loop, and every
    # async_to_sync call runs in a new one.
    layer = get_channel_layer()
    try:
        return async_to_sync(layer.receive)(channel)
    finally:
        for group in groups:
            async_to_sync(layer.group_discard)(group, channel)


def test_down_and_up_are_broadcast_to_station_and_staff_groups(link, settings):
    settings.STREAM_DOWN_AFTER_SECONDS = 0
    station_down = _listen(station_group(link.station_id))
    staff_down = _listen(staff_group())
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.health_record_failure(link_id=link.pk, error="connection refused")
    down = _next_event(station_down, station_group(link.station_id))
    assert _next_event(staff_down, staff_group())["event"] == "stream.down"

    station_up = _listen(station_group(link.station_id))
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.health_record_success(link_id=link.pk, seconds=5.0)
    up = _next_event(station_up, station_group(link.station_id))

    assert down["event"] == "stream.down"
    assert {k: down["payload"][k] for k in ("station", "link", "kind", "last_error")} == {
        "station": link.station_id,
        "link": link.pk,
        "kind": "primary",
        "last_error": "connection refused",
    }
    assert (up["event"], up["payload"]["link"], up["payload"]["down_since"]) == (
        "stream.up",
        link.pk,
        None,
    )


def test_a_rolled_back_failure_leaves_no_trace_and_sends_nothing(link, settings):
    settings.STREAM_DOWN_AFTER_SECONDS = 0
    listener = _listen(station_group(link.station_id))
    with (
        TestCase.captureOnCommitCallbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.health_record_failure(link_id=link.pk, error="x")
        raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert (CaptureAttempt.objects.count(), LinkHealth.objects.count()) == (0, 0)
    assert Notification.objects.count() == 0
    # Nothing was broadcast: the next event on the group is a later, committed one.
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.health_record_failure(link_id=link.pk, error="committed")
    event = _next_event(listener, station_group(link.station_id))
    assert event["payload"]["last_error"] == "committed"


def test_error_rate_counts_the_last_hour_only(link):
    services.health_record_success(link_id=link.pk, seconds=20)
    services.health_record_failure(link_id=link.pk, error="a")
    services.health_record_failure(link_id=link.pk, error="b")
    old = services.health_record_failure(link_id=link.pk, error="old")
    CaptureAttempt.objects.filter(error="old").update(
        started_at=timezone.now() - timedelta(hours=2)
    )
    row = links_with_health(user=make_user("admin", staff_role="support")).get(pk=link.pk)
    assert (row.attempts_last_hour, row.failures_last_hour) == (3, 2)
    assert old.consecutive_failures == 3


def test_prune_deletes_attempts_past_retention(link, settings):
    settings.STREAM_CAPTURE_ATTEMPT_RETENTION_DAYS = 7
    for _ in range(3):
        services.health_record_success(link_id=link.pk, seconds=1)
    CaptureAttempt.objects.filter(pk=CaptureAttempt.objects.order_by("id").first().pk).update(
        started_at=timezone.now() - timedelta(days=8)
    )
    assert services.attempts_prune() == 1
    assert services.attempts_prune() == 0
    assert CaptureAttempt.objects.count() == 2


def test_health_of_a_deleted_link_is_a_no_op(link):
    link_id = link.pk
    link.delete()
    assert services.health_record_failure(link_id=link_id, error="x") is None
    assert services.health_record_success(link_id=link_id, seconds=1) is None
    assert CaptureAttempt.objects.count() == 0


def test_link_choice_primary_first_down_links_rest_until_retry(settings):
    settings.STREAM_DOWN_AFTER_SECONDS = 0
    settings.STREAM_CAPTURE_DOWN_RETRY_SECONDS = 600
    station = StationFactory()
    backup_2 = StreamLinkFactory(station=station, kind="backup", priority=2)
    backup_1 = StreamLinkFactory(station=station, kind="backup", priority=1)
    primary = StreamLinkFactory(station=station, kind="primary", priority=5)
    StreamLinkFactory(station=station, kind="primary", priority=0, enabled=False)

    assert capture_links_for(station_id=station.pk) == [primary, backup_1, backup_2]

    services.health_record_failure(link_id=primary.pk, error="down")
    assert capture_link_for(station_id=station.pk) == backup_1
    assert capture_links_for(station_id=station.pk) == [backup_1, backup_2, primary]

    # Ten minutes after its last failure the primary is tried first again.
    LinkHealth.objects.filter(link=primary).update(
        last_failure_at=timezone.now() - timedelta(seconds=601)
    )
    assert capture_link_for(station_id=station.pk) == primary
    assert capture_link_for(station_id=StationFactory().pk) is None


def test_station_sample_capture_falls_back_to_a_live_backup(loopback, fast_timeouts):
    station = StationFactory(sample_seconds=5)
    song = synth.song(99, 30.0, sr=44100)
    with (
        serve_silent(send_headers=True) as dead,
        serve_stream(song, 44100, already_on_air=10.0, burst_seconds=8.0) as live,
    ):
        primary = StreamLinkFactory(station=station, url=dead, kind="primary")
        backup = StreamLinkFactory(station=station, url=live, kind="backup")
        captured = services.station_sample_capture(station_id=station.pk)

    assert captured.seconds == 5.0
    assert LinkHealth.objects.get(link=primary).last_error == "no data for 1 s"
    assert LinkHealth.objects.get(link=backup).last_success_at is not None
    state = StationCaptureState.objects.get(station=station)
    assert (state.last_link_id, state.last_sample_at) == (backup.pk, captured.ended_at)


def test_station_sample_capture_reports_every_link_when_all_fail(loopback, fast_timeouts):
    station = StationFactory(sample_seconds=5)
    with serve_silent(send_headers=False) as dead:
        primary = StreamLinkFactory(station=station, url=dead, kind="primary")
        backup = StreamLinkFactory(station=station, url="http://10.9.9.9/live", kind="backup")
        with pytest.raises(StreamUnavailable) as caught:
            services.station_sample_capture(station_id=station.pk)
    assert caught.value.reason == (
        f"primary link {primary.pk}: the server accepted the connection but sent no response "
        f"within 1 s; backup link {backup.pk}: 10.9.9.9 resolves to a private address "
        "(10.9.9.9); refused."
    )
    assert LinkHealth.objects.get(link=backup).last_error.startswith("refused: 10.9.9.9")
    with pytest.raises(StreamUnavailable) as none:
        services.station_sample_capture(station_id=StationFactory().pk)
    assert none.value.reason == "the station has no enabled stream link"


def test_link_check_records_a_short_capture(loopback):
    song = synth.song(5, 20.0, sr=44100)
    with serve_stream(song, 44100, already_on_air=8.0, burst_seconds=6.0) as url:
        link = StreamLinkFactory(url=url)
        assert services.link_check(link_id=link.pk) is True
    attempt = CaptureAttempt.objects.get(link=link)
    assert (attempt.ok, attempt.seconds) == (True, 5.0)
    link.enabled = False
    link.save()
    assert services.link_check(link_id=link.pk) is None
