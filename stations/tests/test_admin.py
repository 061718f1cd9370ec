"""Admin: the actions call the same services as the API; the down list shows down links."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import make_user
from stations.models import Station, StreamLink
from stations.tests.factories import StationFactory, StreamLinkFactory
from stream_capture import services as capture_services
from users.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(make_user("admin", staff_role="superadmin"))
    return client


def test_verify_and_monitoring_actions_use_the_services(admin_client):
    first, second = StationFactory(), StationFactory()
    ids = [first.pk, second.pk]
    for action in ("verify", "enable_monitoring"):
        response = admin_client.post(
            "/admin/stations/station/", {"action": action, "_selected_action": ids}
        )
        assert response.status_code == 302
    assert list(
        Station.objects.order_by("id").values_list("is_verified", "monitoring_enabled")
    ) == [
        (True, True),
        (True, True),
    ]
    assert AuditLog.objects.filter(action="station.verify").count() == 2
    # Verifying again is refused per station and reported, not a crash.
    response = admin_client.post(
        "/admin/stations/station/", {"action": "verify", "_selected_action": ids}, follow=True
    )
    assert "already verified" in response.content.decode()
    assert AuditLog.objects.filter(action="station.verify").count() == 2


def test_link_actions_and_url_check(admin_client):
    link = StreamLinkFactory()
    admin_client.post(
        "/admin/stations/streamlink/", {"action": "disable", "_selected_action": [link.pk]}
    )
    link.refresh_from_db()
    assert link.enabled is False
    response = admin_client.post(
        "/admin/stations/streamlink/add/",
        {
            "station": link.station_id,
            "url": "http://10.0.0.8/live",
            "kind": "backup",
            "priority": 0,
        },
    )
    assert response.status_code == 200
    assert "resolves to a private address" in response.content.decode()
    assert StreamLink.objects.count() == 1


def test_streams_down_list(admin_client, settings):
    settings.STREAM_DOWN_AFTER_SECONDS = 0
    down, up = StreamLinkFactory(), StreamLinkFactory()
    capture_services.health_record_failure(link_id=down.pk, error="refused")
    capture_services.health_record_success(link_id=up.pk, seconds=20)
    page = admin_client.get("/admin/stream_capture/streamdown/").content.decode()
    assert down.url in page
    assert up.url not in page
    assert admin_client.get("/admin/stream_capture/linkhealth/").status_code == 200
    assert admin_client.get("/admin/stations/station/").status_code == 200
    assert admin_client.get(f"/admin/stations/station/{down.station_id}/change/").status_code == 200
