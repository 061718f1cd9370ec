"""Timestamps read from PostgreSQL by psycopg's own loader give what Django's gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

from zamio.database import UtcTimestamptzLoader

pytestmark = pytest.mark.django_db

# Text a timestamptz column can hold, as PostgreSQL reads it in.
_VALUES = [
    "2026-11-21 22:40:58.412786+00",
    "2026-03-01 10:00:00.5+02",  # another offset: the UTC session answers in UTC
    "1999-12-31 23:59:59-05:30",
    "2024-02-29 00:00:00+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]
_SELECT = "SELECT v::timestamptz FROM unnest(%s::text[]) AS v"


def _postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's timestamp loader")


def _loaded(cursor) -> list[datetime]:
    cursor.execute(_SELECT, [_VALUES])
    return [row[0] for row in cursor.fetchall()]


def test_a_connection_loads_timestamps_with_psycopgs_loader_and_django_keeps_it():
    _postgresql()
    with connection.cursor() as cursor:
        # Django's create_cursor registers its own loader where the time zones differ.
        loader = cursor.cursor.adapters.get_loader(1184, Format.TEXT)
        assert loader is UtcTimestamptzLoader
        loaded = _loaded(cursor)
    assert loaded[0] == datetime(2026, 11, 21, 22, 40, 58, 412786, tzinfo=UTC)
    assert loaded[1] == datetime(2026, 3, 1, 8, 0, 0, 500000, tzinfo=UTC)
    assert loaded[2] == datetime(2000, 1, 1, 5, 29, 59, tzinfo=UTC)
    assert all(value.tzinfo is UTC for value in loaded)


def test_the_values_are_those_djangos_own_loader_gives():
    _postgresql()
    with connection.cursor() as cursor:
        fast = _loaded(cursor)
        register_tzloader(connection.timezone, cursor.cursor)  # Django's, on this cursor
        assert cursor.cursor.adapters.get_loader(1184, Format.TEXT) is not UtcTimestamptzLoader
        django = _loaded(cursor)
    assert fast == django
    assert [v.tzinfo for v in fast] == [v.tzinfo for v in django]
    assert [v.isoformat() for v in fast] == [v.isoformat() for v in django]


def test_a_model_round_trips_through_the_loader():
    _postgresql()
    from users.models import User

    joined = datetime(2026, 7, 4, 12, 30, 15, 123456, tzinfo=UTC)
    user = User.objects.create_user(email="loader@example.com", password="x" * 12)
    User.objects.filter(pk=user.pk).update(date_joined=joined)
    assert User.objects.get(pk=user.pk).date_joined == joined
    later = User.objects.filter(date_joined__gt=joined - timedelta(microseconds=1))
    assert list(later.values_list("pk", flat=True)) == [user.pk]
