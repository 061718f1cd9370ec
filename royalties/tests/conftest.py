from __future__ import annotations

from types import SimpleNamespace

import pytest

from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user
from royalties.tests.factories import (
    StationFactory,
    accra,
    contributor_for,
    rate_card,
    splits,
)
from tracks.tests.factories import TrackFactory


@pytest.fixture
def world(db):
    """One class-A station, a track by Kofi (performer, 50 %) written with Ama (composer,
    30 %) and produced by Yaw (20 %, no ZamIO account), and a rate card since January:
    class A 0.01 GHS/s, prime ×1.5 (06–10, 16–20), off-peak ×0.5 (00–06), CMO fee 10 %."""
    card = rate_card(effective_from=accra(2025, 1, 1))
    station = StationFactory(station_class="A", name="Joy Test FM")
    kofi_user, ama_user = make_user("artist"), make_user("artist")
    kofi = ArtistFactory(user=kofi_user, stage_name="Kofi", ipi_number="00012345678")
    ama = ArtistFactory(user=ama_user, stage_name="Ama")
    track = TrackFactory(
        primary_artist=kofi, title="Highlife Morning", isrc="GHA012500001", iswc="T1234567894"
    )
    c_kofi, c_ama = contributor_for(kofi), contributor_for(ama)
    c_yaw = contributor_for(name="Yaw Producer")
    splits(
        track,
        [(c_kofi, "performer", 5_000), (c_ama, "composer", 3_000), (c_yaw, "producer", 2_000)],
        effective_from=accra(2024, 1, 1),
    )
    return SimpleNamespace(
        card=card,
        station=station,
        kofi=kofi,
        kofi_user=kofi_user,
        ama=ama,
        ama_user=ama_user,
        track=track,
        c_kofi=c_kofi,
        c_ama=c_ama,
        c_yaw=c_yaw,
        publisher=PublisherFactory(user=make_user("publisher"), name="Asante Songs"),
    )
