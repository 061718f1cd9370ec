"""Queries compiled once and run with other values give what the ORM gives each time."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from artists.models import PublisherArtistRelationship
from conftest import make_user
from detections.selectors import artist_track_ids, own_track_ids
from detections.tests.parties import artist_with_user, represent, station_with_user
from stations.models import Station, StationStaff
from tracks.tests.factories import TrackFactory
from users.models import Role
from zamio.statements import Compiled, CompiledInstance

pytestmark = pytest.mark.django_db


def test_a_compiled_query_answers_for_each_value_as_the_orm_does_and_is_built_once():
    pairs = [station_with_user() for _ in range(3)]
    builds = []

    def build(user_id):
        builds.append(user_id)
        return StationStaff.objects.filter(user_id=user_id).values_list("station_id", "role")

    stations_of = Compiled(build)
    for station, user in pairs:
        expected = list(
            StationStaff.objects.filter(user_id=user.pk).values_list("station_id", "role")
        )
        assert stations_of.rows(user.pk) == expected == [(station.pk, "manager")]
    assert stations_of.rows(max(u.pk for _s, u in pairs) + 1) == []
    assert len(builds) == 1  # compiled on first use only

    with CaptureQueriesContext(connection) as queries:
        stations_of.rows(pairs[0][1].pk)
    assert len(queries) == 1


def test_values_go_where_the_query_uses_them_however_often_and_constants_stay():
    first, first_user = artist_with_user("Ama")
    second, _second_user = artist_with_user("Kojo")
    tracks = [TrackFactory(primary_artist=first), TrackFactory(primary_artist=second)]
    assert tracks[1].pk not in own_track_ids(user_id=first_user.pk, role=Role.ARTIST)
    featured = TrackFactory(primary_artist=second)
    featured.featured_artists.add(first)
    publisher_user = make_user("publisher")
    represent(publisher_user, first)  # an active relationship

    # The artist's query names the account twice (primary and featured tracks).
    assert own_track_ids(user_id=first_user.pk, role=Role.ARTIST) == sorted(
        [tracks[0].pk, featured.pk]
    )
    assert own_track_ids(user_id=first_user.pk, role=Role.ARTIST) == artist_track_ids([first.pk])
    # The publisher's holds a constant (the relationship's status) besides the account.
    assert own_track_ids(user_id=publisher_user.pk, role=Role.PUBLISHER) == sorted(
        [tracks[0].pk, featured.pk]
    )
    PublisherArtistRelationship.objects.filter(artist=first).update(status="ended")
    assert own_track_ids(user_id=publisher_user.pk, role=Role.PUBLISHER) == []


def test_two_values_keep_their_order():
    station, user = station_with_user()
    other, other_user = station_with_user()
    member = CompiledInstance(
        Station,
        lambda stations, pk, user_id: stations.filter(pk=pk, staff__user_id=user_id),
        arity=2,
    )

    assert member.get(station.pk, user.pk) == station
    assert member.get(other.pk, other_user.pk) == other
    assert member.get(station.pk, other_user.pk) is None
    assert member.get(other.pk, user.pk) is None


def test_an_instance_is_loaded_as_the_orm_loads_it():
    station, _user = station_with_user(region="Ashanti", city="Kumasi")
    by_pk = CompiledInstance(Station, lambda stations, pk: stations.filter(pk=pk))

    loaded = by_pk.get(station.pk)
    expected = Station.objects.get(pk=station.pk)

    for field in Station._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    assert (loaded._state.adding, loaded._state.db) == (False, "default")
    assert by_pk.get(station.pk + 1000) is None


def test_misuse_is_refused():
    unused = Compiled(lambda user_id: StationStaff.objects.values_list("station_id"))
    with pytest.raises(ValueError, match="does not use"):
        unused.rows(1)
    one = Compiled(lambda user_id: StationStaff.objects.filter(user_id=user_id).values_list("pk"))
    with pytest.raises(TypeError):
        one.rows(1, 2)
    with pytest.raises(ValueError):
        Compiled(lambda *v: StationStaff.objects.values_list("pk"), arity=9)


def test_a_query_without_values():
    station_with_user()
    every = Compiled(lambda: StationStaff.objects.order_by("pk").values_list("pk"), arity=0)
    assert every.rows() == list(StationStaff.objects.order_by("pk").values_list("pk"))
