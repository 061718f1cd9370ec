from __future__ import annotations

import pytest

from artists.tests.factories import ArtistFactory
from conftest import make_user
from tracks.models import TrackStatus
from tracks.tests.factories import TrackFactory


@pytest.fixture
def track(db):
    return TrackFactory(status=TrackStatus.APPROVED, duration_seconds=200.0)


@pytest.fixture
def artist_user(db):
    user = make_user("artist")
    ArtistFactory(user=user)
    return user


@pytest.fixture(autouse=True)
def _no_chart_cache(settings):
    settings.STREAMING_CHART_CACHE_SECONDS = 0
