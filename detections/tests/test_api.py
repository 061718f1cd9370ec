"""The plays, match-cache and station-upload endpoints: wiring, who sees what, refusals
that change nothing."""

from __future__ import annotations

import io
import wave
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from artists.models import PublisherArtistRelationship
from artists.tests.factories import ArtistFactory, PublisherFactory
from detections.models import MatchCache, PlayLog, StationUpload, VerificationStatus
from detections.tests.conftest import SR, song
from detections.tests.factories import PlayLogFactory, StationFactory, StationStaffFactory
from tracks.tests.factories import TrackFactory
from users.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(user_factory):
    """Two stations, two artists (one represented by a publisher), a play of each pair."""
    station_a, station_b = StationFactory(), StationFactory()
    artist_user, other_artist_user = user_factory("artist"), user_factory("artist")
    artist = ArtistFactory(user=artist_user)
    other_artist = ArtistFactory(user=other_artist_user)
    publisher_user = user_factory("publisher")
    publisher = PublisherFactory(user=publisher_user)
    PublisherArtistRelationship.objects.create(
        publisher=publisher,
        artist=artist,
        kind="publishing",
        status="active",
        share_bp=5000,
        start_date=timezone.now().date(),
    )
    track, other_track = (
        TrackFactory(primary_artist=artist),
        TrackFactory(primary_artist=other_artist),
    )
    featured_track = TrackFactory(primary_artist=other_artist)
    featured_track.featured_artists.add(artist)
    station_user, other_station_user = user_factory("station"), user_factory("station")
    StationStaffFactory(station=station_a, user=station_user)
    StationStaffFactory(station=station_b, user=other_station_user)
    plays = {
        "a_mine": PlayLogFactory(station=station_a, track=track),
        "a_other": PlayLogFactory(station=station_a, track=other_track),
        "b_mine": PlayLogFactory(station=station_b, track=track),
        "b_featured": PlayLogFactory(station=station_b, track=featured_track),
        "b_other": PlayLogFactory(station=station_b, track=other_track),
    }
    return {
        "plays": plays,
        "station_a": station_a,
        "station_user": station_user,
        "artist_user": artist_user,
        "other_artist_user": other_artist_user,
        "publisher_user": publisher_user,
        "artist": artist,
        "track": track,
    }


def _ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


def test_each_role_lists_only_the_plays_it_may_see(world, client_for, user_factory):
    p = world["plays"]
    staff = user_factory("admin", staff_role="support")
    expected = {
        world["station_user"]: {p["a_mine"].pk, p["a_other"].pk},
        world["artist_user"]: {p["a_mine"].pk, p["b_mine"].pk, p["b_featured"].pk},
        world["other_artist_user"]: {p["a_other"].pk, p["b_other"].pk, p["b_featured"].pk},
        world["publisher_user"]: {p["a_mine"].pk, p["b_mine"].pk, p["b_featured"].pk},
        staff: {play.pk for play in p.values()},
    }
    for user, ids in expected.items():
        response = client_for(user).get("/api/v1/plays/")
        assert response.status_code == 200, user.role
        assert _ids(response) == ids, user.role


def test_anonymous_is_401_and_an_unlinked_station_account_sees_nothing(
    world, api_client, client_for, user_factory
):
    assert api_client.get("/api/v1/plays/").status_code == 401
    assert api_client.get(f"/api/v1/plays/{world['plays']['a_mine'].pk}/").status_code == 401
    response = client_for(user_factory("station")).get("/api/v1/plays/")
    assert (response.status_code, response.json()["count"]) == (200, 0)


def test_another_stations_or_artists_play_is_not_found(world, client_for):
    p = world["plays"]
    for user, play in [
        (world["station_user"], p["b_mine"]),
        (world["artist_user"], p["a_other"]),
        (world["publisher_user"], p["b_other"]),
        (world["other_artist_user"], p["a_mine"]),
    ]:
        response = client_for(user).get(f"/api/v1/plays/{play.pk}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    ok = client_for(world["station_user"]).get(f"/api/v1/plays/{p['a_mine'].pk}/")
    assert ok.status_code == 200
    assert ok.json()["station"]["id"] == world["station_a"].pk
    assert ok.json()["track"]["title"] == world["track"].title


def test_plays_filter_by_station_track_artist_dates_and_status(world, client_for, user_factory):
    p = world["plays"]
    client = client_for(user_factory("admin", staff_role="support"))
    p["b_other"].verification_status = VerificationStatus.PENDING_REVIEW
    p["b_other"].save()

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/v1/plays/?{query}")
        assert response.status_code == 200, response.json()
        return _ids(response)

    assert ids(f"station={world['station_a'].pk}") == {p["a_mine"].pk, p["a_other"].pk}
    assert ids(f"track={world['track'].pk}") == {p["a_mine"].pk, p["b_mine"].pk}
    assert ids(f"artist={world['artist'].pk}") == {
        p["a_mine"].pk,
        p["b_mine"].pk,
        p["b_featured"].pk,
    }
    assert ids("verification_status=pending_review") == {p["b_other"].pk}
    start = p["a_other"].started_at
    assert ids(
        "started_after="
        + start.isoformat().replace("+", "%2B")
        + "&started_before="
        + (start + timedelta(hours=2)).isoformat().replace("+", "%2B")
    ) == {p["a_other"].pk, p["b_mine"].pk}
    bad = client.get("/api/v1/plays/?verification_status=maybe")
    assert bad.status_code == 400


def test_a_station_cannot_widen_its_list_with_a_filter(world, client_for):
    other_station = world["plays"]["b_mine"].station_id
    response = client_for(world["station_user"]).get(f"/api/v1/plays/?station={other_station}")
    assert (response.status_code, response.json()["count"]) == (200, 0)


def test_support_staff_review_a_play_and_it_is_audited(world, client_for, user_factory):
    play = world["plays"]["a_mine"]
    staff = user_factory("admin", staff_role="support")

    response = client_for(staff).post(
        f"/api/v1/plays/{play.pk}/review/",
        {"verification_status": "rejected", "note": "Station jingle, not the song"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["verification_status"] == "rejected"
    play.refresh_from_db()
    assert (play.verification_status, play.reviewed_by) == ("rejected", staff)
    assert (
        AuditLog.objects.filter(action="detections.play_review", target_id=str(play.pk)).count()
        == 1
    )


def test_review_is_refused_to_others_and_changes_nothing(world, client_for, user_factory):
    play = world["plays"]["a_mine"]
    for user in (
        world["station_user"],
        world["artist_user"],
        user_factory("admin", staff_role="finance"),
    ):
        response = client_for(user).post(
            f"/api/v1/plays/{play.pk}/review/", {"verification_status": "rejected"}, format="json"
        )
        assert response.status_code == 403
    bad = client_for(user_factory("admin", staff_role="support")).post(
        f"/api/v1/plays/{play.pk}/review/", {"verification_status": "gone"}, format="json"
    )
    assert bad.status_code == 400
    play.refresh_from_db()
    assert play.verification_status == "verified"
    assert not AuditLog.objects.filter(action="detections.play_review").exists()


def test_match_cache_is_for_staff_only(world, client_for, user_factory):
    MatchCache.objects.create(
        station=world["station_a"],
        captured_at=timezone.now(),
        window_seconds=10,
        window_key="radio:x:10",
        source="radio",
        status="no_match",
    )
    for user in (world["station_user"], world["artist_user"], world["publisher_user"]):
        assert client_for(user).get("/api/v1/match-cache/").status_code == 403
    response = client_for(user_factory("admin", staff_role="finance")).get(
        f"/api/v1/match-cache/?station={world['station_a'].pk}&status=no_match"
    )
    assert (response.status_code, response.json()["count"]) == (200, 1)


# --- station device uploads ------------------------------------------------------------
def _clip(seconds: float = 12, seed: int = 7) -> io.BytesIO:
    pcm = (np.clip(song(seed, 40)[: int(seconds * SR)], -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SR)
        wav.writeframes(pcm.tobytes())
    buffer.seek(0)
    buffer.name = "clip.wav"
    return buffer


def _upload(client, chunk_id: str = "dev1-000042", audio=None, captured_at=None):
    captured_at = captured_at or timezone.now() - timedelta(minutes=2)
    return client.post(
        "/api/v1/station-uploads/",
        {"audio": audio or _clip(), "chunk_id": chunk_id, "captured_at": captured_at.isoformat()},
        format="multipart",
    )


def test_a_station_upload_is_stored_once_and_analysed(world, client_for):
    client = client_for(world["station_user"])

    first = _upload(client)
    again = _upload(client)

    assert first.status_code == 201
    assert first.json()["already_received"] is False
    assert again.status_code == 200
    assert again.json()["already_received"] is True
    assert again.json()["upload"]["id"] == first.json()["upload"]["id"]
    upload = StationUpload.objects.get()
    assert (upload.station, upload.chunk_id, upload.status) == (
        world["station_a"],
        "dev1-000042",
        "processed",
    )
    # 12 s: windows at 0, 1 and 2 s (enough to confirm an airing), all analysed once.
    assert (
        MatchCache.objects.filter(station=world["station_a"], source="station_upload").count() == 3
    )


def test_upload_refusals_store_nothing(world, client_for, api_client, user_factory):
    station_client = client_for(world["station_user"])
    not_audio = io.BytesIO(b"this is not audio at all" * 100)
    not_audio.name = "clip.wav"
    refused = [
        (api_client, _upload(api_client), 401),
        (None, _upload(client_for(world["artist_user"])), 403),
        (None, _upload(client_for(user_factory("admin", staff_role="support"))), 403),
        (None, _upload(client_for(user_factory("station"))), 403),  # no station yet
        (None, _upload(station_client, audio=not_audio), 400),
        (None, _upload(station_client, chunk_id="../etc/passwd"), 400),
        (None, _upload(station_client, captured_at=timezone.now() + timedelta(hours=1)), 400),
        (None, _upload(station_client, captured_at=timezone.now() - timedelta(days=90)), 400),
    ]
    for _, response, code in refused:
        assert response.status_code == code, response.content
    assert StationUpload.objects.count() == 0
    assert MatchCache.objects.count() == 0


def test_uploads_are_listed_to_their_station_and_staff_only(world, client_for, user_factory):
    _upload(client_for(world["station_user"]))
    other_station_user = user_factory("station")
    StationStaffFactory(station=StationFactory(), user=other_station_user)

    mine = client_for(world["station_user"]).get("/api/v1/station-uploads/")
    theirs = client_for(other_station_user).get("/api/v1/station-uploads/")
    staff = client_for(user_factory("admin", staff_role="support")).get("/api/v1/station-uploads/")
    artist = client_for(world["artist_user"]).get("/api/v1/station-uploads/")

    assert (mine.json()["count"], theirs.json()["count"], staff.json()["count"]) == (1, 0, 1)
    assert artist.status_code == 403
    assert PlayLog.objects.count() == 5


# --- Play list pages ------------------------------------------------------------------------
def _pages(client, query: str, page_size: int = 4) -> list[dict]:
    """Every row of a list, page after page, following the next links."""
    rows, url = [], f"/api/v1/plays/?page_size={page_size}&{query}"
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


@pytest.fixture
def busy_artist(user_factory):
    """An artist with three tracks aired on two stations, interleaved over a day, with
    some plays starting at the same second."""
    user = user_factory("artist")
    artist = ArtistFactory(user=user)
    tracks = [TrackFactory(primary_artist=artist) for _ in range(3)]
    stations = [StationFactory(), StationFactory()]
    start = timezone.now().replace(microsecond=0) - timedelta(days=1)
    for i in range(17):
        at = start + timedelta(minutes=7 * (i // 2))  # pairs start at the same second
        PlayLogFactory(
            station=stations[i % 2],
            track=tracks[(i * 5) % 3],
            started_at=at,
            ended_at=at + timedelta(seconds=100 + i),
            duration_seconds=100 + i,
            verification_status="rejected" if i == 4 else "verified",
        )
    PlayLogFactory()  # someone else's
    return user, tracks


def test_a_list_page_is_what_the_play_serializer_gives(
    world, client_for, user_factory, page_queries
):
    from detections.api.serializers import PlayOutput

    staff = client_for(user_factory("admin", staff_role="support"))

    listed = staff.get("/api/v1/plays/").json()["results"]

    plays = PlayLog.objects.select_related("station", "track", "track__primary_artist").order_by(
        "-started_at", "-id"
    )
    assert listed == PlayOutput(plays, many=True).data


@pytest.fixture(params=["postgresql", "orm"])
def page_queries(request, monkeypatch):
    """Pages read with PostgreSQL's own queries, and with the ORM's (other databases)."""
    from detections.selectors import PlayPages

    if request.param == "orm":
        monkeypatch.setattr(PlayPages, "_postgresql", staticmethod(lambda: False))
    return request.param


@pytest.mark.parametrize("ordering", ["", "ordering=duration_seconds", "ordering=-id"])
def test_an_artists_pages_hold_every_play_once_in_order(
    busy_artist, client_for, ordering, page_queries
):
    user, tracks = busy_artist
    client = client_for(user)
    order = ordering.removeprefix("ordering=") or "-started_at"
    expected = list(
        PlayLog.objects.filter(track__in=tracks)
        .order_by(order, *(["-id"] if order == "-started_at" else []))
        .values_list("id", flat=True)
    )

    rows = _pages(client, ordering)

    assert [row["id"] for row in rows] == expected
    first = client.get(f"/api/v1/plays/?page_size=4&{ordering}").json()
    assert first["count"] == len(expected) == 17
    assert client.get(f"/api/v1/plays/?page_size=4&page=5&{ordering}").json()["next"] is None


def test_an_artists_pages_follow_filters(busy_artist, client_for):
    user, tracks = busy_artist
    client = client_for(user)
    expected = list(
        PlayLog.objects.filter(track=tracks[1], verification_status="verified")
        .order_by("-started_at", "-id")
        .values_list("id", flat=True)
    )

    rows = _pages(client, f"track={tracks[1].pk}&verification_status=verified", page_size=2)

    assert [row["id"] for row in rows] == expected
    assert len(expected) > 2


def test_filters_that_match_nothing_give_an_empty_page(busy_artist, client_for, page_queries):
    user, _tracks = busy_artist
    nobody = ArtistFactory()  # an artist without tracks

    for query in (f"artist={nobody.pk}", "track=999999", "station=999999"):
        response = client_for(user).get(f"/api/v1/plays/?{query}")
        assert response.status_code == 200, query
        assert (response.json()["count"], response.json()["results"]) == (0, []), query
