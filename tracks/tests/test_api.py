"""Track endpoints: wiring, the error shape, and who may read or change what."""

from __future__ import annotations

import json

import pytest

from artists import services as artist_services
from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user
from tracks import services
from tracks.models import SplitVersion, Track
from tracks.services import ShareInput
from tracks.tests import audio_samples
from tracks.tests.conftest import upload
from tracks.tests.factories import TrackFactory
from users.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return ArtistFactory(user=make_user("artist"), stage_name="Efua")


@pytest.fixture
def track(owner):
    track = TrackFactory(primary_artist=owner, title="Mine", genre="Highlife", isrc="GHA012400001")
    services.splits_set(
        actor=owner.user,
        track=track,
        shares=[ShareInput(name="", role="performer", basis_points=10000, artist_id=owner.pk)],
    )
    return track


def _snapshot(track):
    track.refresh_from_db()
    return (
        track.title,
        track.isrc,
        track.status,
        track.audio.name,
        track.cover.name,
        SplitVersion.objects.filter(track=track).count(),
    )


def test_upload_through_the_api(client_for, owner):
    response = client_for(owner.user).post(
        "/api/v1/tracks/",
        {
            "title": "Sunsum",
            "audio": upload("sunsum.wav", audio_samples.wav_bytes(3, seed=300)),
            "cover": upload("c.png", audio_samples.png_bytes()),
            "isrc": "GH-A01-24-00099",
            "genre": "Afrobeats",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["primary_artist"] == {"id": owner.pk, "name": "Efua"}
    assert body["isrc"] == "GH-A01-24-00099"
    assert body["status"] == "draft"
    assert body["audio_url"] == f"/api/v1/tracks/{body['id']}/audio/"
    assert body["duration_seconds"] == pytest.approx(3.0, abs=0.05)
    # The fingerprinting task ran on commit (eager Celery in tests).
    assert body["fingerprint_status"] in ("pending", "ready")
    assert Track.objects.get(pk=body["id"]).fingerprint_status == "ready"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"just some text, definitely not audio" * 10, "not an audio file ffmpeg can read"),
    ],
)
def test_bad_upload_answers_400_with_the_reason(client_for, owner, data, reason):
    response = client_for(owner.user).post(
        "/api/v1/tracks/", {"title": "Bad", "audio": upload("bad.mp3", data)}, format="multipart"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "audio_invalid"
    assert error["details"] == {"audio": [reason]}
    assert Track.objects.count() == 0


def test_duplicate_upload_answers_409_naming_the_track_every_time(client_for, owner):
    client = client_for(owner.user)
    data = audio_samples.wav_bytes(3, seed=301)
    first = client.post(
        "/api/v1/tracks/", {"title": "One", "audio": upload("a.wav", data)}, format="multipart"
    )
    assert first.status_code == 201
    for _ in range(2):
        again = client.post(
            "/api/v1/tracks/", {"title": "Two", "audio": upload("b.wav", data)}, format="multipart"
        )
        assert again.status_code == 409
        error = again.json()["error"]
        assert error["code"] == "duplicate_track"
        assert error["details"]["existing_track"]["id"] == first.json()["id"]
        assert error["details"]["reason"] == "same_file"
    assert Track.objects.count() == 1


def test_anonymous_is_401_everywhere(api_client, track):
    for method, url in [
        ("get", "/api/v1/tracks/"),
        ("post", "/api/v1/tracks/"),
        ("get", f"/api/v1/tracks/{track.pk}/"),
        ("patch", f"/api/v1/tracks/{track.pk}/"),
        ("get", f"/api/v1/tracks/{track.pk}/audio/"),
        ("get", f"/api/v1/tracks/{track.pk}/splits/"),
        ("put", f"/api/v1/tracks/{track.pk}/splits/"),
        ("post", f"/api/v1/tracks/{track.pk}/submit/"),
        ("post", "/api/v1/tracks/import/"),
        ("get", "/api/v1/tracks/import/template.csv"),
    ]:
        assert getattr(api_client, method)(url).status_code == 401, (method, url)


def test_another_artist_can_neither_see_nor_change_the_track(client_for, track):
    stranger = client_for(ArtistFactory(user=make_user("artist")).user)
    before = _snapshot(track)
    base = f"/api/v1/tracks/{track.pk}"
    assert stranger.get("/api/v1/tracks/").json()["count"] == 0
    assert stranger.get(f"{base}/").status_code == 404
    assert stranger.get(f"{base}/splits/").status_code == 404
    assert stranger.get(f"{base}/audio/").status_code == 404
    assert stranger.patch(f"{base}/", {"title": "Stolen"}, format="json").status_code == 404
    assert (
        stranger.put(
            f"{base}/splits/",
            {"shares": [{"name": "Me", "role": "composer", "basis_points": 10000}]},
            format="json",
        ).status_code
        == 404
    )
    assert (
        stranger.put(
            f"{base}/audio/",
            {"audio": upload("x.wav", audio_samples.wav_bytes(2, seed=302))},
            format="multipart",
        ).status_code
        == 404
    )
    assert (
        stranger.put(
            f"{base}/cover/",
            {"cover": upload("c.png", audio_samples.png_bytes())},
            format="multipart",
        ).status_code
        == 404
    )
    assert stranger.post(f"{base}/submit/").status_code == 404
    assert _snapshot(track) == before
    assert (
        not AuditLog.objects.filter(action__startswith="track.", actor__role="artist")
        .exclude(actor=track.primary_artist.user)
        .exists()
    )


def test_a_featured_artist_reads_but_cannot_change(client_for, track):
    featured = ArtistFactory(user=make_user("artist"))
    track.featured_artists.add(featured)
    client = client_for(featured.user)
    before = _snapshot(track)
    assert client.get(f"/api/v1/tracks/{track.pk}/").status_code == 200
    assert (
        client.patch(f"/api/v1/tracks/{track.pk}/", {"title": "X"}, format="json").status_code
        == 403
    )
    assert client.get(f"/api/v1/tracks/{track.pk}/audio/").status_code == 403
    assert _snapshot(track) == before


def test_a_station_sees_approved_tracks_read_only(client_for, track):
    station = client_for(make_user("station"))
    assert station.get(f"/api/v1/tracks/{track.pk}/").status_code == 404  # still a draft
    Track.objects.filter(pk=track.pk).update(status="approved")
    before = _snapshot(track)
    assert station.get(f"/api/v1/tracks/{track.pk}/").status_code == 200
    assert station.get("/api/v1/tracks/").json()["count"] == 1
    assert (
        station.patch(f"/api/v1/tracks/{track.pk}/", {"title": "X"}, format="json").status_code
        == 403
    )
    assert station.post("/api/v1/tracks/", {}, format="multipart").status_code == 403
    assert station.get(f"/api/v1/tracks/{track.pk}/audio/").status_code == 403
    assert station.get(f"/api/v1/tracks/{track.pk}/splits/").status_code == 403
    assert _snapshot(track) == before


def test_the_owner_edits_and_submits(client_for, track, owner):
    client = client_for(owner.user)
    response = client.patch(
        f"/api/v1/tracks/{track.pk}/",
        {"title": "Mine (remix)", "iswc": "T-034.524.680-1"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["iswc"]) == (
        "Mine (remix)",
        "T-034.524.680-1",
    )
    bad = client.patch(f"/api/v1/tracks/{track.pk}/", {"isrc": "GH-1"}, format="json")
    assert bad.status_code == 400
    assert list(bad.json()["error"]["details"]) == ["isrc"]
    assert client.post(f"/api/v1/tracks/{track.pk}/submit/").json()["status"] == "submitted"


def test_splits_through_the_api(client_for, track, owner):
    client = client_for(owner.user)
    bad = client.put(
        f"/api/v1/tracks/{track.pk}/splits/",
        {"shares": [{"name": "A", "role": "composer", "basis_points": 6000}]},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "splits_total"
    assert SplitVersion.objects.filter(track=track).count() == 1
    sheet = upload("sheet.pdf", b"%PDF-1.4 split sheet")
    good = client.put(
        f"/api/v1/tracks/{track.pk}/splits/",
        {
            "shares": json.dumps(
                [
                    {"artist_id": owner.pk, "role": "performer", "basis_points": 5000},
                    {"name": "Ama", "role": "lyricist", "basis_points": 5000},
                ]
            ),
            "split_sheet": sheet,
            "note": "Ama joined",
        },
        format="multipart",
    )
    assert good.status_code == 201, good.json()
    assert good.json()["number"] == 2
    sheet_url = good.json()["split_sheet_url"]
    assert client.get(sheet_url).status_code == 200
    assert b"".join(client.get(sheet_url).streaming_content) == b"%PDF-1.4 split sheet"
    stranger = client_for(make_user("artist"))
    assert stranger.get(sheet_url).status_code == 404
    versions = client.get(f"/api/v1/tracks/{track.pk}/splits/").json()
    assert [v["number"] for v in versions] == [2, 1]


def test_review_is_a_support_staff_action(client_for, track, owner):
    services.track_submit(actor=owner.user, track=track)
    assert client_for(owner.user).post(f"/api/v1/tracks/{track.pk}/approve/").status_code == 403
    finance = client_for(make_user("admin", staff_role="finance"))
    assert finance.post(f"/api/v1/tracks/{track.pk}/approve/").status_code == 403
    assert Track.objects.get(pk=track.pk).status == "submitted"
    support = client_for(make_user("admin", staff_role="support"))
    response = support.post(f"/api/v1/tracks/{track.pk}/approve/")
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert AuditLog.objects.filter(action="track.approve", target_id=str(track.pk)).count() == 1
    from notifications.models import Notification

    assert Notification.objects.filter(user=owner.user, kind="track_approved").count() == 1


def test_a_publisher_manages_tracks_of_artists_it_represents(client_for, track, owner):
    publisher = PublisherFactory(user=make_user("publisher"))
    client = client_for(publisher.user)
    assert client.get(f"/api/v1/tracks/{track.pk}/").status_code == 404
    deal = artist_services.relationship_propose(
        actor=publisher.user,
        artist=owner,
        kind="administration",
        share_bp=1500,
        start_date=owner.created_at.date(),
    )
    artist_services.relationship_accept(actor=owner.user, relationship=deal)
    assert client.get(f"/api/v1/tracks/{track.pk}/").status_code == 200
    assert (
        client.patch(f"/api/v1/tracks/{track.pk}/", {"genre": "Gospel"}, format="json").status_code
        == 200
    )
    artist_services.relationship_terminate(actor=owner.user, relationship=deal, reason="Ended")
    assert client.get(f"/api/v1/tracks/{track.pk}/").status_code == 404


def test_search_and_filters(client_for, owner):
    TrackFactory(primary_artist=owner, title="Odo Nti", genre="Highlife", isrc="GHA012400010")
    TrackFactory(primary_artist=owner, title="Sunsum", genre="Afrobeats", status="submitted")
    client = client_for(make_user("admin", staff_role="support"))

    def titles(query: str) -> list[str]:
        return sorted(t["title"] for t in client.get(f"/api/v1/tracks/?{query}").json()["results"])

    assert titles("q=odo") == ["Odo Nti"]
    assert titles("isrc=GH-A01-24-00010") == ["Odo Nti"]
    assert titles("genre=afrobeats") == ["Sunsum"]
    assert titles("status=submitted") == ["Sunsum"]
    assert titles(f"artist={owner.pk}") == ["Odo Nti", "Sunsum"]
    assert titles("artist_name=efu") == ["Odo Nti", "Sunsum"]
    assert titles("title=nothing") == []
    page = client.get("/api/v1/tracks/?page_size=1").json()
    assert (page["count"], len(page["results"])) == (2, 1)


def test_bulk_import_through_the_api(client_for, owner):
    client = client_for(owner.user)
    template = client.get("/api/v1/tracks/import/template.csv")
    assert template.status_code == 200
    assert template["Content-Type"].startswith("text/csv")
    csv_bytes = (
        b"title,artist,audio_filename,contributors\n"
        b"Good,Efua,g.wav,Efua:performer:100\n"
        b"Bad,Efua,missing.wav,\n"
    )
    response = client.post(
        "/api/v1/tracks/import/",
        {
            "csv_file": upload("c.csv", csv_bytes),
            "files": [upload("g.wav", audio_samples.wav_bytes(2, seed=303))],
            "submit": "true",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created_count"], body["rejected_count"]) == (1, 1)
    assert body["results"][0]["submitted"] is True
    assert client.get(f"/api/v1/tracks/imports/{body['id']}/").json()["status"] == "done"
    stranger = client_for(make_user("artist"))
    assert stranger.get(f"/api/v1/tracks/imports/{body['id']}/").status_code == 404
    assert client_for(make_user("station")).post("/api/v1/tracks/import/").status_code == 403


def test_openapi_schema_documents_the_catalogue(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/tracks/",
        "/api/v1/tracks/{id}/splits/",
        "/api/v1/tracks/import/",
        "/api/v1/artists/me/",
        "/api/v1/kyc/",
        "/api/v1/kyc/documents/{id}/file/",
        "/api/v1/payout-details/me/",
    ):
        assert path in schema["paths"], path
