"""Continuous-capture leases: one worker per station, takeover only after expiry."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from stations.tests.factories import StationFactory
from stream_capture.models import CaptureLease
from stream_capture.services import (
    lease_acquire,
    lease_release,
    lease_renew,
    leases_release_all,
)

pytestmark = pytest.mark.django_db


def _expire(station) -> None:
    CaptureLease.objects.filter(station=station).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_two_workers_one_station():
    station = StationFactory()
    assert lease_acquire(station_id=station.pk, worker_id="a", ttl_seconds=60) is True
    assert lease_acquire(station_id=station.pk, worker_id="b", ttl_seconds=60) is False
    # Acquiring again is how a holder keeps its lease; the first acquisition time stays.
    acquired = CaptureLease.objects.get(station=station).acquired_at
    assert lease_acquire(station_id=station.pk, worker_id="a", ttl_seconds=60) is True
    assert CaptureLease.objects.get(station=station).acquired_at == acquired

    assert lease_renew(station_id=station.pk, worker_id="a", ttl_seconds=60) is True
    assert lease_renew(station_id=station.pk, worker_id="b", ttl_seconds=60) is False
    assert lease_release(station_id=station.pk, worker_id="b") is False
    assert CaptureLease.objects.get(station=station).worker_id == "a"


def test_an_expired_lease_is_taken_over_and_the_old_holder_must_stop():
    station = StationFactory()
    lease_acquire(station_id=station.pk, worker_id="a", ttl_seconds=60)
    _expire(station)
    assert lease_renew(station_id=station.pk, worker_id="a", ttl_seconds=60) is False
    assert lease_acquire(station_id=station.pk, worker_id="b", ttl_seconds=60) is True
    assert lease_renew(station_id=station.pk, worker_id="a", ttl_seconds=60) is False
    assert lease_acquire(station_id=station.pk, worker_id="a", ttl_seconds=60) is False
    lease = CaptureLease.objects.get(station=station)
    assert lease.worker_id == "b"
    assert lease.expires_at > timezone.now() + timedelta(seconds=55)


def test_release_frees_the_station():
    first, second = StationFactory(), StationFactory()
    for station in (first, second):
        lease_acquire(station_id=station.pk, worker_id="a", ttl_seconds=60)
    assert lease_release(station_id=first.pk, worker_id="a") is True
    assert lease_acquire(station_id=first.pk, worker_id="b", ttl_seconds=60) is True
    assert leases_release_all(worker_id="a") == 1
    assert list(CaptureLease.objects.values_list("station_id", "worker_id")) == [(first.pk, "b")]


@pytest.mark.django_db(transaction=True)
def test_racing_workers_take_an_expired_lease_exactly_once():
    station = StationFactory()
    lease_acquire(station_id=station.pk, worker_id="dead", ttl_seconds=60)
    _expire(station)
    results: dict[str, bool] = {}
    barrier = threading.Barrier(8)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            results[name] = lease_acquire(station_id=station.pk, worker_id=name, ttl_seconds=60)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, won in results.items() if won]
    assert len(results) == 8 and len(winners) == 1
    assert CaptureLease.objects.get(station=station).worker_id == winners[0]


@pytest.mark.django_db(transaction=True)
def test_racing_workers_create_a_new_lease_exactly_once():
    station = StationFactory()
    results: dict[str, bool] = {}
    barrier = threading.Barrier(8)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            results[name] = lease_acquire(station_id=station.pk, worker_id=name, ttl_seconds=60)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results.values()) == 1
    assert CaptureLease.objects.count() == 1
