"""The shared filter-set base: built once per class, yet each request's filters and
form are its own."""

from __future__ import annotations

import django_filters
import pytest
from django.http import QueryDict

from users.models import User
from zamio.filters import FilterSet

pytestmark = pytest.mark.django_db


class _UserFilter(FilterSet):
    email = django_filters.CharFilter(lookup_expr="icontains")
    role = django_filters.ChoiceFilter(choices=[("artist", "Artist"), ("station", "Station")])
    joined_as = django_filters.CharFilter(method="filter_joined_as")

    class Meta:
        model = User
        fields = ["is_active"]

    def filter_joined_as(self, qs, name, value):
        return qs.filter(role=self.data.get("joined_as"))  # reads its own request's data


def _ids(data: str) -> set[int]:
    return set(
        _UserFilter(QueryDict(data), queryset=User.objects.all()).qs.values_list("pk", flat=True)
    )


def test_each_filter_set_filters_by_its_own_request(user_factory):
    ama = user_factory("artist", email="ama@example.test")
    joy = user_factory("station", email="joy@example.test")

    assert _ids("email=ama") == {ama.pk}
    assert _ids("email=joy") == {joy.pk}
    assert _ids("joined_as=station") == {joy.pk}  # the method filter sees this request's data
    assert _ids("joined_as=artist") == {ama.pk}
    assert _ids("") == {ama.pk, joy.pk}


def test_a_bad_value_fails_its_own_form_only():
    bad = _UserFilter(QueryDict("role=maybe"), queryset=User.objects.all())
    good = _UserFilter(QueryDict("role=artist"), queryset=User.objects.all())

    assert not bad.is_valid()
    assert set(bad.errors) == {"role"}
    assert good.is_valid()
    assert _UserFilter(QueryDict("role=maybe"), queryset=User.objects.all()).errors == bad.errors
    assert type(bad.form) is type(good.form)  # one form class for the filter set


@pytest.mark.django_db
def test_any_of_a_list_of_ids_is_one_array_parameter_and_matches_in():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tracks.models import Track
    from tracks.tests.factories import TrackFactory

    tracks = [TrackFactory() for _ in range(5)]
    wanted = [tracks[0].pk, tracks[3].pk, tracks[4].pk, 10**9]

    with CaptureQueriesContext(connection) as queries:
        found = set(Track.objects.filter(pk__any=wanted).values_list("pk", flat=True))
    assert found == set(Track.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert found == {tracks[0].pk, tracks[3].pk, tracks[4].pk}
    assert not Track.objects.filter(pk__any=[]).exists()
    # By a foreign key too, and the ids are one parameter, not one each
    artist_id = tracks[1].primary_artist_id
    assert list(
        Track.objects.filter(primary_artist_id__any=[artist_id]).values_list("pk", flat=True)
    ) == [tracks[1].pk]
    if connection.vendor == "postgresql":
        assert "= ANY(" in queries.captured_queries[0]["sql"]
        assert "IN (" not in queries.captured_queries[0]["sql"]
