"""Health endpoints: a station sees its own links' health, staff see every stream."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import make_user
from fingerprinting import synth
from stations.models import StreamLink
from stations.tests.factories import StationFactory, StationStaffFactory, StreamLinkFactory
from stream_capture import services
from stream_capture.models import CaptureAttempt
from stream_capture.testing import serve_stream

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(settings):
    settings.STREAM_DOWN_AFTER_SECONDS = 0
    station = StationFactory(monitoring_enabled=True)
    manager = StationStaffFactory(station=station).user
    primary = StreamLinkFactory(station=station, kind="primary")
    backup = StreamLinkFactory(station=station, kind="backup")
    other = StreamLinkFactory()
    services.health_record_success(link_id=primary.pk, seconds=20)
    services.health_record_failure(link_id=primary.pk, error="timeout")
    services.health_record_failure(link_id=primary.pk, error="timeout")
    services.health_record_failure(link_id=other.pk, error="HTTP 404")
    return {
        "station": station,
        "manager": manager,
        "primary": primary,
        "backup": backup,
        "other": other,
    }


def test_station_health_for_its_own_account(client_for, setup):
    station, primary, backup = setup["station"], setup["primary"], setup["backup"]
    response = client_for(setup["manager"]).get(f"/api/v1/stations/{station.pk}/health/")
    assert response.status_code == 200
    data = response.data
    assert (data["station"], data["mode"], data["is_down"], data["lease"]) == (
        station.pk,
        "sampled",
        False,  # the backup has never failed
        None,
    )
    links = {row["id"]: row for row in data["links"]}
    assert set(links) == {primary.pk, backup.pk}
    row = links[primary.pk]
    assert (row["is_down"], row["consecutive_failures"], row["last_error"]) == (True, 2, "timeout")
    assert (row["attempts_last_hour"], row["failures_last_hour"], row["error_rate_last_hour"]) == (
        3,
        2,
        0.6667,
    )
    assert links[backup.pk]["error_rate_last_hour"] is None
    assert links[backup.pk]["last_success_at"] is None


def test_stream_health_list_is_scoped(client_for, setup):
    mine = client_for(setup["manager"]).get("/api/v1/stream-health/")
    assert sorted(row["id"] for row in mine.data["results"]) == sorted(
        [setup["primary"].pk, setup["backup"].pk]
    )
    staff = client_for(make_user("admin", staff_role="finance"))
    down = staff.get("/api/v1/stream-health/", {"is_down": "true"})
    assert sorted(row["id"] for row in down.data["results"]) == sorted(
        [setup["primary"].pk, setup["other"].pk]
    )
    assert client_for(make_user("artist")).get("/api/v1/stream-health/").status_code == 403


def test_attempts_are_listed_newest_first(client_for, setup):
    CaptureAttempt.objects.filter(link=setup["primary"], ok=True).update(
        started_at=timezone.now() - timedelta(minutes=5)
    )
    response = client_for(setup["manager"]).get(
        f"/api/v1/stream-links/{setup['primary'].pk}/attempts/"
    )
    assert [row["ok"] for row in response.data["results"]] == [False, False, True]
    failed = client_for(setup["manager"]).get(
        f"/api/v1/stream-links/{setup['primary'].pk}/attempts/", {"ok": "false"}
    )
    assert failed.data["count"] == 2


def test_link_check_runs_a_test_capture_for_managers(client_for, setup, loopback):
    colleague = StationStaffFactory(station=setup["station"], role="staff").user
    link = setup["backup"]
    song = synth.song(3, 20.0, sr=44100)
    with serve_stream(song, 44100, already_on_air=8.0, burst_seconds=6.0) as stream:
        StreamLink.objects.filter(pk=link.pk).update(url=stream)
        url = f"/api/v1/stream-links/{link.pk}/check/"
        assert client_for(colleague).post(url).status_code == 403
        assert CaptureAttempt.objects.filter(link=link).count() == 0
        # The check is queued on commit (run at once here: Celery is eager in tests).
        assert client_for(setup["manager"]).post(url).status_code == 202
    attempt = CaptureAttempt.objects.get(link=link)
    assert (attempt.ok, attempt.seconds) == (True, 5.0)
