"""The sampled scheduler: due stations only, each at its own phase, once per due time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from stations.tests.factories import StationFactory, StreamLinkFactory
from stream_capture.models import StationCaptureState
from stream_capture.services import captures_schedule, lease_acquire

pytestmark = pytest.mark.django_db


def _monitored(**fields):
    station = StationFactory(monitoring_enabled=True, **fields)
    StreamLinkFactory(station=station)
    return station


def _offsets(queued, origin) -> list[tuple[int, float]]:
    return [(pk, round((due - origin).total_seconds(), 1)) for pk, due in queued]


def test_each_due_time_is_queued_once(django_capture_on_commit_callbacks):
    station = _monitored()
    before = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        first = captures_schedule()
    assert _offsets(first, before) == [(station.pk, 0.0)]
    assert len(callbacks) == 1
    state = StationCaptureState.objects.get(station=station)
    assert state.next_due_at - state.last_queued_at == timedelta(seconds=60)

    # Runs in the same minute (a duplicate Beat tick, a retried task) never queue a due
    # time twice: at most the next one, a minute on, enters the horizon early.
    second = captures_schedule()
    third = captures_schedule()
    assert [due - first[0][1] for _, due in second + third] in ([], [timedelta(seconds=60)])


def test_short_intervals_are_spread_over_the_minute():
    station = _monitored(sample_seconds=10, sample_interval_seconds=20)
    before = timezone.now()
    assert _offsets(captures_schedule(), before) == [
        (station.pk, 0.0),
        (station.pk, 20.0),
        (station.pk, 40.0),
    ]
    state = StationCaptureState.objects.get(station=station)
    assert state.next_due_at - state.last_queued_at == timedelta(seconds=60)


def test_long_intervals_wait_their_turn():
    station = _monitored(sample_interval_seconds=300)
    assert [pk for pk, _ in captures_schedule()] == [station.pk]
    assert captures_schedule() == []
    due = timezone.now() + timedelta(seconds=30)
    StationCaptureState.objects.filter(station=station).update(next_due_at=due)
    assert captures_schedule() == [(station.pk, due)]


def test_an_outage_does_not_queue_a_backlog():
    station = _monitored()
    captures_schedule()
    StationCaptureState.objects.filter(station=station).update(
        next_due_at=timezone.now() - timedelta(hours=3)
    )
    before = timezone.now()
    assert _offsets(captures_schedule(), before) == [(station.pk, 0.0)]


def test_stations_not_to_capture_are_skipped():
    StationFactory(monitoring_enabled=True)  # no link
    off = StationFactory(monitoring_enabled=False)
    StreamLinkFactory(station=off)
    disabled = StationFactory(monitoring_enabled=True)
    StreamLinkFactory(station=disabled, enabled=False)
    leased = _monitored()
    lease_acquire(station_id=leased.pk, worker_id="continuous-1", ttl_seconds=60)
    expired = _monitored()
    lease_acquire(station_id=expired.pk, worker_id="continuous-2", ttl_seconds=-1)
    due = _monitored()
    assert sorted(pk for pk, _ in captures_schedule()) == sorted([expired.pk, due.pk])
