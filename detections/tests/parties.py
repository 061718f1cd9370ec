"""Everyone with a stake in a play, and some without: the cast of dispute, analytics and
comparison tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from artists.models import PublisherArtistRelationship
from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user
from detections.models import PlayLog
from detections.tests.factories import PlayLogFactory, StationFactory
from stations.models import Station, StationStaff
from tracks.models import Track
from tracks.tests.factories import TrackFactory
from users.models import User


@dataclass
class Parties:
    station: Station
    station_user: User
    artist_user: User
    featured_user: User
    publisher_user: User
    track: Track
    play: PlayLog
    support: User
    support2: User
    superadmin: User
    finance: User
    other_station: Station
    other_station_user: User
    other_artist_user: User
    other_publisher_user: User
    other_track: Track


def station_with_user(**station_fields) -> tuple[Station, User]:
    station = StationFactory(**station_fields)
    user = make_user("station")
    StationStaff.objects.create(station=station, user=user, role="manager")
    return station, user


def artist_with_user(name: str):
    user = make_user("artist", full_name=name)
    return ArtistFactory(stage_name=name, user=user), user


def represent(publisher_user: User, artist) -> None:
    publisher = PublisherFactory(user=publisher_user)
    PublisherArtistRelationship.objects.create(
        publisher=publisher,
        artist=artist,
        kind="administration",
        status="active",
        share_bp=2000,
        start_date=date(2024, 1, 1),
        proposed_by="publisher",
    )


def build_parties() -> Parties:
    station, station_user = station_with_user(name="Joy FM", region="Greater Accra")
    other_station, other_station_user = station_with_user(name="Luv FM", region="Ashanti")
    artist, artist_user = artist_with_user("Ama Serwaa")
    featured, featured_user = artist_with_user("Kojo Feat")
    other_artist, other_artist_user = artist_with_user("Yaw Other")
    publisher_user = make_user("publisher")
    represent(publisher_user, artist)
    other_publisher_user = make_user("publisher")
    represent(other_publisher_user, other_artist)
    track = TrackFactory(title="Adowa Dance", primary_artist=artist, isrc="GHA012500001")
    track.featured_artists.add(featured)
    other_track = TrackFactory(title="Other Song", primary_artist=other_artist)
    play = PlayLogFactory(station=station, track=track)
    return Parties(
        station=station,
        station_user=station_user,
        artist_user=artist_user,
        featured_user=featured_user,
        publisher_user=publisher_user,
        track=track,
        play=play,
        support=make_user("admin", staff_role="support"),
        support2=make_user("admin", staff_role="support"),
        superadmin=make_user("admin", staff_role="superadmin"),
        finance=make_user("admin", staff_role="finance"),
        other_station=other_station,
        other_station_user=other_station_user,
        other_artist_user=other_artist_user,
        other_publisher_user=other_publisher_user,
        other_track=other_track,
    )


@pytest.fixture
def parties(db) -> Parties:
    return build_parties()
