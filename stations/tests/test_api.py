"""Stations API wiring and permissions: who may read and change which station, and that
every refused request leaves the database as it was."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from conftest import make_user
from stations.models import Station, StationStaff, StreamLink
from stations.tests.factories import StationStaffFactory, StreamLinkFactory
from stream_capture.models import LinkHealth
from stream_capture.testing import serve_routes
from users.models import AuditLog

pytestmark = pytest.mark.django_db


def _state() -> tuple:
    """Everything a stations request could change."""
    return (
        [model_to_dict(s) for s in Station.objects.order_by("id")],
        list(StationStaff.objects.order_by("id").values()),
        list(StreamLink.objects.order_by("id").values()),
        AuditLog.objects.count(),
    )


@pytest.fixture
def world(station, manager, other_station, other_manager):
    return {
        "link": StreamLinkFactory(station=station),
        "other_link": StreamLinkFactory(station=other_station),
        "other_member": StationStaff.objects.get(user=other_manager),
    }


def _every_endpoint(station_id: int, link_id: int, member_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", f"/api/v1/stations/{station_id}/", {}),
        ("patch", f"/api/v1/stations/{station_id}/", {"contact_name": "Intruder"}),
        ("delete", f"/api/v1/stations/{station_id}/", {}),
        ("post", f"/api/v1/stations/{station_id}/verify/", {}),
        ("post", f"/api/v1/stations/{station_id}/unverify/", {}),
        ("post", f"/api/v1/stations/{station_id}/monitoring/", {"enabled": True}),
        ("get", f"/api/v1/stations/{station_id}/members/", {}),
        ("post", f"/api/v1/stations/{station_id}/members/", {"email": "x@example.test"}),
        ("patch", f"/api/v1/stations/{station_id}/members/{member_id}/", {"role": "staff"}),
        ("delete", f"/api/v1/stations/{station_id}/members/{member_id}/", {}),
        ("get", f"/api/v1/stations/{station_id}/stream-links/", {}),
        ("post", f"/api/v1/stations/{station_id}/stream-links/", {"url": "http://8.8.4.4/x"}),
        ("get", f"/api/v1/stream-links/{link_id}/", {}),
        ("patch", f"/api/v1/stream-links/{link_id}/", {"priority": 9}),
        ("delete", f"/api/v1/stream-links/{link_id}/", {}),
        ("post", f"/api/v1/stream-links/{link_id}/enabled/", {"enabled": False}),
        ("get", f"/api/v1/stations/{station_id}/health/", {}),
        ("get", f"/api/v1/stream-links/{link_id}/attempts/", {}),
        ("post", f"/api/v1/stream-links/{link_id}/check/", {}),
    ]


def test_anonymous_gets_401_everywhere(api_client, world, other_station):
    before = _state()
    endpoints = _every_endpoint(other_station.pk, world["other_link"].pk, world["other_member"].pk)
    endpoints += [("get", "/api/v1/stations/", {}), ("post", "/api/v1/stations/", {})]
    for method, url, body in endpoints:
        response = getattr(api_client, method)(url, body)
        assert response.status_code == 401, (method, url)
    assert _state() == before


def test_another_stations_account_gets_404_everywhere(client_for, world, manager, other_station):
    client = client_for(manager)
    before = _state()
    for method, url, body in _every_endpoint(
        other_station.pk, world["other_link"].pk, world["other_member"].pk
    ):
        response = getattr(client, method)(url, body)
        # Operator-only endpoints refuse by role before looking; all others hide the station.
        expected = (
            403 if url.endswith(("/verify/", "/unverify/", "/monitoring/", "/enabled/")) else 404
        )
        assert response.status_code == expected, (method, url, response.status_code)
    assert _state() == before


def test_artists_and_publishers_read_public_facts_only(client_for, world, station):
    before = _state()
    for role in ("artist", "publisher"):
        client = client_for(make_user(role))
        listing = client.get("/api/v1/stations/")
        assert listing.status_code == 200
        assert listing.data["count"] == 2
        assert set(listing.data["results"][0]) == {
            "id", "name", "slug", "call_sign", "frequency", "region", "city", "country",
            "station_class", "is_verified",
        }  # fmt: skip
        detail = client.get(f"/api/v1/stations/{station.pk}/")
        assert (detail.status_code, "contact_email" in detail.data) == (200, False)
        for method, url, body in _every_endpoint(station.pk, world["link"].pk, 0)[1:]:
            response = getattr(client, method)(url, body)
            assert response.status_code == 403, (role, method, url, response.status_code)
        assert (
            client.post("/api/v1/stations/", {"name": "Mine", "station_class": "A"}).status_code
            == 403
        )
    assert _state() == before


def test_station_account_sees_and_edits_its_own_station(client_for, world, station, manager):
    client = client_for(manager)
    listing = client.get("/api/v1/stations/")
    assert [row["id"] for row in listing.data["results"]] == [station.pk]
    assert listing.data["results"][0]["contact_email"] == station.contact_email
    assert client.get("/api/v1/stations/me/").data["id"] == station.pk

    response = client.patch(f"/api/v1/stations/{station.pk}/", {"contact_name": "Ama Mensah"})
    assert (response.status_code, response.data["contact_name"]) == (200, "Ama Mensah")

    refused = client.patch(f"/api/v1/stations/{station.pk}/", {"sample_seconds": 60})
    assert (refused.status_code, refused.data["error"]["details"]) == (
        403,
        {"sample_seconds": ["Ask ZamIO staff to change this."]},
    )
    station.refresh_from_db()
    assert station.sample_seconds == 20


def test_station_staff_member_reads_but_does_not_edit(client_for, world, station):
    colleague = StationStaffFactory(station=station, role="staff").user
    client = client_for(colleague)
    before = _state()
    assert client.get(f"/api/v1/stations/{station.pk}/stream-links/").data["count"] == 1
    assert client.get(f"/api/v1/stations/{station.pk}/members/").data["count"] == 2
    assert client.patch(f"/api/v1/stations/{station.pk}/", {"city": "Ho"}).status_code == 403
    assert (
        client.post(
            f"/api/v1/stations/{station.pk}/stream-links/", {"url": "http://8.8.4.4/x"}
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/stream-links/{world['link'].pk}/").status_code == 403
    assert _state() == before


def test_register_a_station_then_add_links(client_for, settings):
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = True
    user = make_user("station")
    client = client_for(user)
    assert client.get("/api/v1/stations/me/").status_code == 404

    response = client.post(
        "/api/v1/stations/",
        {"name": "Peace FM", "station_class": "A", "frequency": "104.3 FM", "city": "Accra"},
    )
    assert response.status_code == 201
    station_id = response.data["id"]
    assert (response.data["slug"], response.data["monitoring_enabled"]) == ("peace-fm", False)

    # The new link is test-captured at once (on commit): this one answers 404.
    with serve_routes({}) as base:
        link = client.post(
            f"/api/v1/stations/{station_id}/stream-links/",
            {"url": base + "/peace", "kind": "primary"},
        )
    assert (link.status_code, link.data["enabled"]) == (201, True)
    assert LinkHealth.objects.get(link_id=link.data["id"]).last_error == (
        "the server answered HTTP 404"
    )

    unsafe = client.post(
        f"/api/v1/stations/{station_id}/stream-links/", {"url": "http://169.254.169.254/"}
    )
    assert unsafe.status_code == 400
    assert unsafe.data["error"]["code"] == "unsafe_stream_url"
    assert unsafe.data["error"]["details"] == {
        "url": ["169.254.169.254 resolves to a link-local address (169.254.169.254); refused."]
    }
    assert StreamLink.objects.count() == 1


def test_bad_input_is_a_400_with_field_details(client_for, station, manager):
    client = client_for(manager)
    before = _state()
    response = client.patch(f"/api/v1/stations/{station.pk}/", {"station_class": "Z"})
    assert response.status_code == 400
    assert list(response.data["error"]["details"]) == ["station_class"]
    response = client.patch(f"/api/v1/stations/{station.pk}/", {"timezone": "Nowhere/Land"})
    assert (response.status_code, list(response.data["error"]["details"])) == (400, ["timezone"])
    response = client.post(f"/api/v1/stations/{station.pk}/stream-links/", {"kind": "primary"})
    assert (response.status_code, list(response.data["error"]["details"])) == (400, ["url"])
    assert _state() == before


def test_support_staff_operate_stations_and_finance_only_reads(
    client_for, world, station, support, finance
):
    reader = client_for(finance)
    assert reader.get("/api/v1/stations/").data["count"] == 2
    before = _state()
    assert reader.post(f"/api/v1/stations/{station.pk}/verify/").status_code == 403
    assert reader.patch(f"/api/v1/stations/{station.pk}/", {"city": "Ho"}).status_code == 403
    assert _state() == before

    client = client_for(support)
    verified = client.post(f"/api/v1/stations/{station.pk}/verify/")
    assert (verified.status_code, verified.data["is_verified"]) == (200, True)
    assert verified.data["verified_by"] == support.email
    assert client.post(f"/api/v1/stations/{station.pk}/verify/").status_code == 409
    on = client.post(f"/api/v1/stations/{station.pk}/monitoring/", {"enabled": True})
    assert (on.status_code, on.data["monitoring_enabled"]) == (200, True)
    off = client.post(f"/api/v1/stream-links/{world['link'].pk}/enabled/", {"enabled": False})
    assert (off.status_code, off.data["enabled"]) == (200, False)
    sampling = client.patch(
        f"/api/v1/stations/{station.pk}/", {"sample_seconds": 30, "sample_interval_seconds": 120}
    )
    assert (sampling.data["sample_seconds"], sampling.data["sample_interval_seconds"]) == (30, 120)
    assert set(AuditLog.objects.filter(actor=support).values_list("action", flat=True)) == {
        "station.verify",
        "station.monitoring_enable",
        "stream_link.disable",
        "station.update",
    }


def test_staff_delete_a_station_without_plays(client_for, world, other_station, support):
    assert client_for(support).delete(f"/api/v1/stations/{other_station.pk}/").status_code == 204
    assert not Station.objects.filter(pk=other_station.pk).exists()


def test_managers_manage_people(client_for, station, manager):
    client = client_for(manager)
    make_user("station", email="new@radio.example")
    added = client.post(f"/api/v1/stations/{station.pk}/members/", {"email": "new@radio.example"})
    assert (added.status_code, added.data["role"]) == (201, "staff")
    promoted = client.patch(
        f"/api/v1/stations/{station.pk}/members/{added.data['id']}/", {"role": "manager"}
    )
    assert promoted.data["role"] == "manager"
    own = StationStaff.objects.get(user=manager)
    assert client.delete(f"/api/v1/stations/{station.pk}/members/{own.pk}/").status_code == 204
    assert list(StationStaff.objects.values_list("user__email", "role")) == [
        ("new@radio.example", "manager")
    ]


def test_station_list_filters(client_for, station, other_station, support):
    other_station.station_class = "community"
    other_station.save()
    client = client_for(support)
    rows = client.get("/api/v1/stations/", {"station_class": "community"}).data["results"]
    assert [row["id"] for row in rows] == [other_station.pk]
    rows = client.get("/api/v1/stations/", {"q": station.call_sign}).data["results"]
    assert [row["id"] for row in rows] == [station.pk]
