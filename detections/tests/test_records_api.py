"""API wiring and permissions of disputes, evidence files, corrections, the review queue,
analytics and the playlog comparison: anonymous 401, wrong role 403, wrong owner 404,
right owner 200, and a refused request changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from detections import analytics, disputes
from detections.models import (
    DetectionHealthDaily,
    Dispute,
    DisputeEvidence,
    PlayLog,
    PlayOverride,
)
from detections.tests.factories import PlayLogFactory
from detections.tests.parties import Parties

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


def _open(p: Parties, actor=None) -> Dispute:
    return disputes.dispute_open(
        actor=actor or p.station_user,
        play_id=p.play.pk,
        dispute_type="not_aired",
        description="Not ours.",
        files=[disputes.EvidenceFile(name="log.pdf", data=PDF)],
    )


def test_opening_a_dispute_over_http_with_evidence(parties, client_for, api_client):
    url = "/api/v1/disputes/"
    body = {
        "play": parties.play.pk,
        "dispute_type": "wrong_duration",
        "description": "It ran 3 minutes, not 4.",
        "files": [SimpleUploadedFile("log.pdf", PDF, content_type="application/pdf")],
    }
    assert api_client.post(url, body, format="multipart").status_code == 401
    body["files"] = [SimpleUploadedFile("log.pdf", PDF, content_type="application/pdf")]
    outsider = client_for(parties.other_station_user).post(url, body, format="multipart")
    assert outsider.status_code == 404
    assert Dispute.objects.count() == 0

    body["files"] = [SimpleUploadedFile("log.pdf", PDF, content_type="application/pdf")]
    response = client_for(parties.artist_user).post(url, body, format="multipart")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["status"], data["opened_as"], data["play"]["verification_status"]) == (
        "submitted",
        "artist",
        "disputed",
    )
    assert [e["original_name"] for e in data["evidence"]] == ["log.pdf"]
    assert [(e["kind"], e["to_status"]) for e in data["entries"]] == [
        ("transition", "submitted"),
        ("evidence", ""),
    ]
    second = client_for(parties.station_user).post(url, {**body, "files": []}, format="multipart")
    assert second.status_code == 409
    assert second.json()["error"]["details"] == {"dispute_id": data["id"]}


def test_bad_input_is_a_400_with_field_details(parties, client_for):
    response = client_for(parties.station_user).post(
        "/api/v1/disputes/", {"play": "x", "dispute_type": "mood"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"play", "dispute_type", "description"}
    assert Dispute.objects.count() == 0


def test_disputes_are_listed_only_to_their_parties_and_staff(parties, client_for, api_client):
    dispute = _open(parties)
    url = "/api/v1/disputes/"

    assert api_client.get(url).status_code == 401
    for user in (
        parties.station_user,
        parties.artist_user,
        parties.publisher_user,
        parties.finance,
    ):
        ids = [d["id"] for d in client_for(user).get(url).json()["results"]]
        assert ids == [dispute.pk], user.email
    for user in (parties.other_station_user, parties.other_artist_user):
        assert client_for(user).get(url).json()["results"] == []
        assert client_for(user).get(f"{url}{dispute.pk}/").status_code == 404
    active = client_for(parties.support).get(url, {"active": "false"}).json()
    assert active["results"] == []


def test_evidence_files_are_served_to_parties_and_staff_only(parties, client_for, api_client):
    dispute = _open(parties)
    evidence = DisputeEvidence.objects.get(dispute=dispute)
    url = f"/api/v1/disputes/{dispute.pk}/evidence/{evidence.pk}/file/"

    assert api_client.get(url).status_code == 401
    for outsider in (
        parties.other_station_user,
        parties.other_artist_user,
        parties.other_publisher_user,
    ):
        assert client_for(outsider).get(url).status_code == 404
    for party in (
        parties.station_user,
        parties.artist_user,
        parties.publisher_user,
        parties.support,
    ):
        response = client_for(party).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["Cache-Control"] == "private, no-store"
    # An evidence id of another dispute is not reachable through this one.
    other_play = PlayLogFactory(station=parties.station, track=parties.track)
    other = disputes.dispute_open(
        actor=parties.station_user,
        play_id=other_play.pk,
        dispute_type="payment",
        description="x",
        files=[disputes.EvidenceFile(name="b.pdf", data=PDF + b"2")],
    )
    foreign = other.evidence.get().pk
    assert (
        client_for(parties.station_user)
        .get(f"/api/v1/disputes/{dispute.pk}/evidence/{foreign}/file/")
        .status_code
        == 404
    )


def test_transitions_over_http_403_for_the_wrong_role_409_for_the_wrong_state(parties, client_for):
    dispute = _open(parties)
    base = f"/api/v1/disputes/{dispute.pk}"

    refused = client_for(parties.station_user).post(f"{base}/review/", {}, format="json")
    assert refused.status_code == 403
    wrong_state = client_for(parties.support).post(
        f"{base}/resolve/", {"outcome": "upheld", "note": "x"}, format="json"
    )
    assert wrong_state.status_code == 409
    assert wrong_state.json()["error"]["code"] == "invalid_transition"
    dispute.refresh_from_db()
    assert dispute.status == "submitted"

    ok = client_for(parties.support).post(f"{base}/review/", {"note": "Mine"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["status"] == "under_review"
    ok = client_for(parties.support).post(
        f"{base}/request-evidence/", {"note": "Send the log"}, format="json"
    )
    assert ok.json()["status"] == "evidence_required"
    upload = client_for(parties.station_user).post(
        f"{base}/evidence/",
        {"file": SimpleUploadedFile("clip.pdf", PDF + b"3"), "note": "Our log"},
        format="multipart",
    )
    assert upload.status_code == 200
    assert upload.json()["status"] == "under_review"
    comment = client_for(parties.artist_user).post(
        f"{base}/comments/", {"body": "Hm"}, format="json"
    )
    assert comment.status_code == 200
    resolved = client_for(parties.support).post(
        f"{base}/resolve/", {"outcome": "rejected", "note": "It aired."}, format="json"
    )
    assert resolved.json()["play_verdict"] == "verified"
    assert (
        client_for(parties.station_user).post(f"{base}/withdraw/", {}, format="json").status_code
        == 409
    )


def test_play_override_over_http(parties, client_for, api_client):
    url = f"/api/v1/plays/{parties.play.pk}/override/"
    body = {"confidence": 0.4, "reason": "Listened again."}

    assert api_client.post(url, body, format="json").status_code == 401
    assert client_for(parties.station_user).post(url, body, format="json").status_code == 403
    assert client_for(parties.finance).post(url, body, format="json").status_code == 403
    assert PlayOverride.objects.count() == 0

    response = client_for(parties.support).post(url, body, format="json")

    assert response.status_code == 200
    assert response.json()["after"] == {"avg_confidence": 0.4}


def test_the_review_queue_lists_pending_plays_and_decides_them_in_bulk(parties, client_for):
    pending = [
        PlayLogFactory(
            station=parties.station, track=parties.track, verification_status="pending_review"
        )
        for _ in range(3)
    ]
    open_one = PlayLogFactory(
        station=parties.station, verification_status="pending_review", is_open=True
    )
    disputed = pending[2]
    disputes.dispute_open(
        actor=parties.station_user, play_id=disputed.pk, dispute_type="wrong_track", description="?"
    )

    listed = client_for(parties.finance).get("/api/v1/review-queue/").json()["results"]
    assert [p["id"] for p in listed] == [pending[0].pk, pending[1].pk]
    assert open_one.pk not in [p["id"] for p in listed]
    assert client_for(parties.station_user).get("/api/v1/review-queue/").status_code == 403

    body = {"play_ids": [p.pk for p in pending], "verification_status": "rejected", "note": "Noise"}
    assert (
        client_for(parties.finance)
        .post("/api/v1/review-queue/decide/", body, format="json")
        .status_code
        == 403
    )
    assert PlayLog.objects.filter(verification_status="rejected").count() == 0
    response = client_for(parties.support).post("/api/v1/review-queue/decide/", body, format="json")

    assert response.status_code == 200
    data = response.json()
    assert (data["decided"], data["refused"]) == (2, 1)
    assert data["results"][2]["error"]["code"] == "play_under_dispute"
    assert set(
        PlayLog.objects.filter(pk__in=[p.pk for p in pending]).values_list(
            "verification_status", flat=True
        )
    ) == {"rejected", "disputed"}


def test_analytics_per_role_and_as_csv(parties, client_for, api_client):
    # The month of the parties' play (the factory dates plays by a sequence that other
    # tests advance, so it is not always March).
    first = parties.play.started_at.date().replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    analytics.rollups_rebuild(date_from=first, date_to=last)
    url = "/api/v1/analytics/plays/"
    params = {"date_from": first.isoformat(), "date_to": last.isoformat(), "granularity": "month"}

    assert api_client.get(url, params).status_code == 401
    for user, plays in [
        (parties.station_user, 1),
        (parties.artist_user, 1),
        (parties.publisher_user, 1),
        (parties.support, 1),
        (parties.other_station_user, 0),
        (parties.other_artist_user, 0),
    ]:
        data = client_for(user).get(url, params).json()
        assert data["totals"]["plays"] == plays, user.email
    bad = client_for(parties.support).get(url, {**params, "granularity": "hour"})
    assert bad.status_code == 400

    csv_response = client_for(parties.artist_user).get(
        "/api/v1/analytics/plays/export/", {**params, "section": "top_tracks"}
    )
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    lines = csv_response.content.decode().splitlines()
    assert lines == [
        "track_id,title,artist,plays,airtime_seconds",
        f"{parties.track.pk},Adowa Dance,Ama Serwaa,1,180.00",
    ]
    health = "/api/v1/analytics/detection-health/"
    assert client_for(parties.station_user).get(health).status_code == 403
    assert client_for(parties.finance).get(health).status_code == 200
    assert client_for(parties.finance).get(f"{health}export/").status_code == 200


def test_analytics_answers_are_what_their_serializers_give(parties, client_for):
    from rest_framework.renderers import JSONRenderer

    from detections.analytics_selectors import RollupQuery, detection_health, play_rollup
    from detections.api.serializers import HealthOutput, RollupOutput

    first = parties.play.started_at.date().replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    analytics.rollups_rebuild(date_from=first, date_to=last)
    params = {"date_from": first.isoformat(), "date_to": last.isoformat(), "granularity": "week"}
    query = RollupQuery(date_from=first, date_to=last, granularity="week")

    for user in (parties.station_user, parties.publisher_user, parties.support):
        for _ in range(2):  # computed, then from the cache
            answer = client_for(user).get("/api/v1/analytics/plays/", params)
            expected = RollupOutput(play_rollup(user=user, query=query)).data
            assert answer["Content-Type"] == "application/json"
            assert answer.content == JSONRenderer().render(expected), user.email
    for station, day, windows in [
        (parties.station, first, 100),
        (parties.other_station, first, 80),
        (parties.station, first + timedelta(days=9), 90),
    ]:
        DetectionHealthDaily.objects.create(
            station=station,
            day=day,
            windows=windows,
            matched=windows // 2,
            low_confidence=3,
            failed=1,
            audio_seconds=windows * 10.0,
            refreshed_at=timezone.now(),
        )
    analytics.detection_health_periods_recount(date_from=first, date_to=last)
    health = client_for(parties.support).get("/api/v1/analytics/detection-health/", params)
    assert len(health.json()["series"]) == 2
    expected = HealthOutput(detection_health(date_from=first, date_to=last, granularity="week"))
    assert health.content == JSONRenderer().render(expected.data)


def test_the_comparison_is_the_stations_own_and_staffs(parties, client_for, api_client):
    day = parties.play.started_at.date()
    params = {"station": parties.station.pk, "date_from": day, "date_to": day}
    url = "/api/v1/playlog-comparison/"

    assert api_client.get(url, params).status_code == 401
    assert client_for(parties.artist_user).get(url, params).status_code == 403
    assert client_for(parties.other_station_user).get(url, params).status_code == 404
    own = client_for(parties.station_user).get(url, params)
    assert own.status_code == 200
    assert own.json()["summary"]["unlogged"] == 1
    assert [p["id"] for p in own.json()["unlogged"]] == [parties.play.pk]
    staff = client_for(parties.finance).get(f"{url}export/", params)
    assert staff.status_code == 200
    rows = staff.content.decode().splitlines()
    assert rows[0].startswith("category,entry_id,logged_title")
    assert rows[1].startswith("unlogged,,,,,,," + str(parties.play.pk) + ",Adowa Dance")
    too_long = client_for(parties.station_user).get(
        url, {**params, "date_to": day + timedelta(days=200)}
    )
    assert too_long.status_code == 400


def test_admin_starts_a_review_through_the_dispute_service(parties, client):
    dispute = _open(parties)
    client.force_login(parties.superadmin)

    response = client.post(
        "/admin/detections/dispute/",
        {"action": "start_review", "_selected_action": [dispute.pk]},
    )

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.assigned_to_id) == ("under_review", parties.superadmin.pk)
    assert client.get(f"/admin/detections/dispute/{dispute.pk}/change/").status_code == 200


def test_times_and_days_out_of_any_range_are_400_not_500(parties, client_for):
    client = client_for(parties.support)
    for url, params in [
        ("/api/v1/plays/", {"started_after": "9638-12-10T11:00:19-22:26"}),
        ("/api/v1/review-queue/", {"started_before": "9999-12-31T23:59:59-23:00"}),
        ("/api/v1/match-cache/", {"captured_after": "2386-09-12T23:51:29-16:34"}),
        ("/api/v1/analytics/plays/", {"date_to": "0001-01-05"}),
        (
            "/api/v1/playlog-comparison/",
            {"station": parties.station.pk, "date_from": "9999-12-31", "date_to": "9999-12-31"},
        ),
    ]:
        response = client.get(url, params)
        assert response.status_code in (200, 400), (url, response.status_code)
    assert client.get("/api/v1/plays/", {"date_to": "9999-12-31"}).status_code == 200
    assert (
        client.get("/api/v1/plays/", {"started_after": "9638-12-10T11:00:19-22:26"}).json()["count"]
        == 0
    )
