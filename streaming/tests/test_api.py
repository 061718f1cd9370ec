"""Streaming endpoints: play reports, limits, likes, charts and who sees an artist's numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from artists.tests.factories import ArtistFactory
from streaming.models import PlayEvent, TrackLike
from streaming.tests.factories import PlayEventFactory
from tracks.models import TrackStatus
from tracks.tests.factories import TrackFactory

pytestmark = pytest.mark.django_db

PLAYS = "/api/v1/streaming/plays/"


def _report(track, *, start=None, client_id="guest-install-01", **extra):
    start = start or timezone.now() - timedelta(minutes=5)
    return {
        "track": track.pk,
        "started_at": start.isoformat(),
        "seconds_listened": 150,
        "outcome": "completed",
        "device": "web",
        "client_id": client_id,
        "country": "GH",
        "region": "Greater Accra",
        **extra,
    }


def test_guest_reports_a_play_and_a_refresh_does_not_add_one(api_client, track):
    report = _report(track)

    first = api_client.post(PLAYS, report, format="json")
    again = api_client.post(PLAYS, report, format="json")

    assert first.status_code == 201 and first.json()["created"] is True
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["event"]["reports"] == 2
    assert PlayEvent.objects.count() == 1


def test_signed_in_fan_needs_no_client_id(client_for, user_factory, track):
    fan = user_factory("publisher")
    report = _report(track)
    del report["client_id"]

    response = client_for(fan).post(PLAYS, report, format="json")

    assert response.status_code == 201
    assert PlayEvent.objects.get().listener_key == f"u:{fan.pk}"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"outcome": "loved"}, "outcome"),
        ({"seconds_listened": -1}, "seconds_listened"),
        ({"country": "Ghana"}, "country"),
        ({"client_id": "short"}, "client_id"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"track": "abc"}, "track"),
    ],
)
def test_bad_reports_are_400_with_field_details(api_client, track, change, field):
    response = api_client.post(PLAYS, {**_report(track), **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert PlayEvent.objects.count() == 0


def test_unknown_or_unapproved_track_is_404(api_client):
    draft = TrackFactory(status=TrackStatus.DRAFT)
    assert api_client.post(PLAYS, _report(draft), format="json").status_code == 404
    report = {**_report(draft), "track": 999_999}
    assert api_client.post(PLAYS, report, format="json").status_code == 404
    assert PlayEvent.objects.count() == 0


def test_listener_rate_limit_refuses_and_records_nothing_more(settings, api_client):
    settings.STREAMING_PLAY_RATE = "3/min"
    tracks = TrackFactory.create_batch(4, status=TrackStatus.APPROVED)
    now = timezone.now()

    codes = [
        api_client.post(
            PLAYS, _report(t, start=now - timedelta(minutes=10 + i)), format="json"
        ).status_code
        for i, t in enumerate(tracks)
    ]
    other_guest = api_client.post(
        PLAYS, _report(tracks[3], client_id="another-install"), format="json"
    )

    assert codes == [201, 201, 201, 429]
    assert other_guest.status_code == 201  # the limit is per listener
    assert PlayEvent.objects.count() == 4


def test_network_rate_limit_catches_rotating_client_ids(settings, api_client, track):
    settings.STREAMING_PLAY_IP_RATE = "2/min"
    now = timezone.now()

    codes = [
        api_client.post(
            PLAYS,
            _report(
                track, start=now - timedelta(minutes=5 * (i + 1)), client_id=f"rotating-{i:04}"
            ),
            format="json",
        ).status_code
        for i in range(3)
    ]

    assert codes == [201, 201, 429]
    assert PlayEvent.objects.count() == 2


def test_likes_need_a_login(api_client, track):
    assert api_client.put(f"/api/v1/streaming/tracks/{track.pk}/like/").status_code == 401
    assert api_client.get("/api/v1/streaming/likes/").status_code == 401
    assert TrackLike.objects.count() == 0


def test_like_is_idempotent_and_can_be_removed(client_for, user_factory, track):
    fan = user_factory("station")
    client = client_for(fan)
    url = f"/api/v1/streaming/tracks/{track.pk}/like/"

    created = client.put(url)
    repeated = client.put(url)
    listed = client.get("/api/v1/streaming/likes/")
    removed = client.delete(url)

    assert (created.status_code, repeated.status_code, removed.status_code) == (201, 200, 204)
    assert created.json()["track"] == track.pk
    assert created.json()["artist_name"] == track.primary_artist.stage_name
    assert [row["track"] for row in listed.json()["results"]] == [track.pk]
    assert TrackLike.objects.count() == 0


def test_liking_an_unapproved_track_is_404(client_for, user_factory):
    draft = TrackFactory(status=TrackStatus.SUBMITTED)
    response = client_for(user_factory("artist")).put(f"/api/v1/streaming/tracks/{draft.pk}/like/")
    assert response.status_code == 404
    assert TrackLike.objects.count() == 0


def test_public_charts(api_client, track):
    start = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    PlayEventFactory.create_batch(3, track=track, started_at=start)
    PlayEventFactory(track=track, started_at=start, country="NG")

    day = start.date().isoformat()
    tracks = api_client.get("/api/v1/streaming/charts/tracks/", {"period": "day", "date": day})
    ghana = api_client.get(
        "/api/v1/streaming/charts/tracks/", {"period": "day", "date": day, "country": "gh"}
    )
    artists = api_client.get("/api/v1/streaming/charts/artists/", {"period": "week", "date": day})

    assert tracks.status_code == 200
    assert tracks.json()["results"] == [
        {
            "rank": 1,
            "track_id": track.pk,
            "title": track.title,
            "artist_id": track.primary_artist_id,
            "artist_name": track.primary_artist.stage_name,
            "plays": 4,
            "listeners": 4,
        }
    ]
    assert (tracks.json()["start"], tracks.json()["end"]) == (day, day)
    assert ghana.json()["results"][0]["plays"] == 3
    assert ghana.json()["country"] == "GH"
    assert artists.json()["results"][0]["plays"] == 4


@pytest.mark.parametrize(
    "params", [{"period": "year"}, {"date": "11/03/2026"}, {"limit": 0}, {"limit": 101}]
)
def test_bad_chart_parameters_are_400(api_client, params):
    response = api_client.get("/api/v1/streaming/charts/tracks/", params)
    assert response.status_code == 400
    assert set(params) & set(response.json()["error"]["details"])


def test_chart_throttle(settings, api_client):
    settings.STREAMING_CHART_RATE = "2/min"
    codes = [api_client.get("/api/v1/streaming/charts/artists/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_artist_sees_own_numbers(client_for, artist_user):
    artist = artist_user.artist_profile
    track = TrackFactory(primary_artist=artist, status=TrackStatus.APPROVED)
    PlayEventFactory.create_batch(2, track=track)
    PlayEventFactory(track=track, outcome="skipped", counted=False, seconds_listened=5)
    PlayEventFactory()  # someone else's track

    response = client_for(artist_user).get("/api/v1/streaming/artists/me/stats/")
    by_id = client_for(artist_user).get(f"/api/v1/streaming/artists/{artist.pk}/stats/")

    assert response.status_code == 200
    totals = response.json()["totals"]
    assert (totals["plays"], totals["skips"], totals["events"]) == (2, 1, 3)
    assert [row["track_id"] for row in response.json()["tracks"]] == [track.pk]
    assert by_id.json() == response.json()


def test_artist_numbers_are_private(api_client, client_for, user_factory, artist_user):
    other_artist = ArtistFactory(user=user_factory("artist"))
    station = user_factory("station")
    support = user_factory("admin", staff_role="support")
    url = f"/api/v1/streaming/artists/{other_artist.pk}/stats/"

    assert api_client.get(url).status_code == 401
    assert api_client.get("/api/v1/streaming/artists/me/stats/").status_code == 401
    assert client_for(artist_user).get(url).status_code == 404
    assert client_for(station).get("/api/v1/streaming/artists/me/stats/").status_code == 403
    assert client_for(station).get(url).status_code == 404
    assert client_for(support).get(url).status_code == 200
