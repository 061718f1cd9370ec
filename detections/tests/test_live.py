"""The live play feed over a real ASGI app, JWT auth and channels-redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from artists.models import PublisherArtistRelationship
from artists.tests.factories import ArtistFactory, PublisherFactory
from detections import services
from detections.tests.factories import T0, StationFactory, StationStaffFactory
from fingerprinting.engine import Match
from tracks.tests.factories import TrackFactory
from users.services import tokens_for_user
from zamio.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(token: str | None, *, subprotocol: bool = False):
    if subprotocol:
        communicator = WebsocketCommunicator(
            application, "/ws/v1/plays/", subprotocols=["bearer", token]
        )
    else:
        communicator = WebsocketCommunicator(
            application, "/ws/v1/plays/" + (f"?token={token}" if token else "")
        )
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


def _window(station, track, at: float) -> None:
    captured_at = T0 + timedelta(seconds=at)
    services.window_record_matches(
        station_id=station.pk,
        captured_at=captured_at,
        seconds=10.0,
        source="radio",
        window_key=f"radio:{captured_at.isoformat()}:10",
        matches=[
            Match(
                track_id=track.pk,
                track_offset=at,
                query_offset=0.0,
                speed=1.0,
                confidence=0.97,
                hits=120,
                second_hits=4,
                coverage=1.0,
                query_hashes=300,
            )
        ],
    )


def test_anonymous_and_bad_tokens_are_refused():
    async def run():
        results = []
        for token in (None, "not-a-jwt"):
            communicator, connected, code = await _connect(token)
            await communicator.disconnect()
            results.append((connected, code))
        return results

    assert async_to_sync(run)() == [(False, 4401), (False, 4401)]


def test_play_events_reach_exactly_the_sockets_allowed_to_hear_them(user_factory):
    station_a, station_b = StationFactory(), StationFactory()
    users = {role: user_factory(role) for role in ("station", "artist", "publisher")}
    users["other_station"] = user_factory("station")
    users["other_artist"] = user_factory("artist")
    users["staff"] = user_factory("admin", staff_role="support")
    StationStaffFactory(station=station_a, user=users["station"])
    StationStaffFactory(station=station_b, user=users["other_station"])
    artist = ArtistFactory(user=users["artist"])
    ArtistFactory(user=users["other_artist"])
    publisher = PublisherFactory(user=users["publisher"])
    PublisherArtistRelationship.objects.create(
        publisher=publisher,
        artist=artist,
        kind="publishing",
        status="active",
        share_bp=4000,
        start_date=timezone.now().date(),
    )
    track = TrackFactory(primary_artist=artist, duration_seconds=200.0)
    tokens = {name: tokens_for_user(user)["access"] for name, user in users.items()}

    async def run():
        sockets = {}
        for name, token in tokens.items():
            communicator, connected, _ = await _connect(token, subprotocol=name == "staff")
            assert connected, name
            assert (await communicator.receive_json_from(timeout=5))["type"] == "welcome"
            sockets[name] = communicator
        for at in (0, 5, 10, 15):  # three windows log the play, the fourth extends it
            await sync_to_async(_window)(station_a, track, at)
        received = {}
        for name in ("station", "artist", "publisher", "staff"):
            received[name] = [
                await sockets[name].receive_json_from(timeout=5),
                await sockets[name].receive_json_from(timeout=5),
            ]
        silent = {
            name: await sockets[name].receive_nothing(timeout=0.3)
            for name in ("other_station", "other_artist")
        }
        for communicator in sockets.values():
            await communicator.disconnect()
        return received, silent

    received, silent = async_to_sync(run)()

    assert silent == {"other_station": True, "other_artist": True}
    for name, (started, updated) in received.items():
        assert (started["event"], updated["event"]) == ("play.started", "play.updated"), name
        assert started["payload"]["station_id"] == station_a.pk
        assert started["payload"]["track_id"] == track.pk
        assert started["payload"]["title"] == track.title
        assert updated["payload"]["duration_seconds"] == "25.00"


def test_a_station_account_without_a_station_is_refused(user_factory):
    token = tokens_for_user(user_factory("station"))["access"]

    async def run():
        communicator, connected, code = await _connect(token)
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(run)() == (False, 4403)


def test_the_other_stations_socket_hears_nothing_of_this_station(user_factory):
    station_a, station_b = StationFactory(), StationFactory()
    user_b = user_factory("station")
    StationStaffFactory(station=station_b, user=user_b)
    track = TrackFactory(duration_seconds=200.0)
    token = tokens_for_user(user_b)["access"]

    async def run():
        communicator, connected, _ = await _connect(token)
        await communicator.receive_json_from(timeout=5)
        for at in (0, 5, 10):
            await sync_to_async(_window)(station_a, track, at)
        nothing = await communicator.receive_nothing(timeout=0.5)
        for at in (0, 5, 10):
            await sync_to_async(_window)(station_b, track, at)
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return connected, nothing, event

    connected, nothing, event = async_to_sync(run)()
    assert connected and nothing
    assert (event["event"], event["payload"]["station_id"]) == ("play.started", station_b.pk)
