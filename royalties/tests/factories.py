"""Rows royalties tests start from: stations, verified plays, split versions, deals, rate cards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from artists.models import (
    Artist,
    Publisher,
    PublisherArtistRelationship,
    RelationshipStatusChange,
)
from detections.models import PlayLog
from royalties import services
from royalties.models import RateCard
from stations.models import Station, StationStaff
from tracks.models import Contributor, SplitVersion, Track, TrackSplit

ACCRA = ZoneInfo("Africa/Accra")


def accra(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ACCRA)


STANDARD_RATES = {
    "A": Decimal("0.010000"),
    "B": Decimal("0.008000"),
    "C": Decimal("0.005000"),
    "community": Decimal("0.002000"),
    "online": Decimal("0.004000"),
}
STANDARD_BANDS = [
    {"name": "off_peak", "start_minute": 0, "end_minute": 6 * 60, "multiplier": Decimal("0.5")},
    {
        "name": "prime_am",
        "start_minute": 6 * 60,
        "end_minute": 10 * 60,
        "multiplier": Decimal("1.5"),
    },
    {
        "name": "prime_pm",
        "start_minute": 16 * 60,
        "end_minute": 20 * 60,
        "multiplier": Decimal("1.5"),
    },
]


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    name = factory.Sequence(lambda n: f"Radio {n} FM")
    slug = factory.Sequence(lambda n: f"radio-{n}")
    call_sign = factory.Sequence(lambda n: f"R{n:03d}")
    city = "Accra"
    frequency = factory.Sequence(lambda n: f"{88 + n * 0.2:.1f} FM")
    station_class = "A"
    timezone = "Africa/Accra"


def station_account(station: Station, user) -> StationStaff:
    return StationStaff.objects.create(station=station, user=user, role="manager")


class PlayLogFactory(factory.django.DjangoModelFactory):
    """A verified, closed, royalty-bearing airing (what the tracker leaves behind)."""

    class Meta:
        model = PlayLog

    station = factory.SubFactory(StationFactory)
    track = None
    started_at = factory.LazyFunction(timezone.now)
    duration_seconds = Decimal("180.00")
    ended_at = factory.LazyAttribute(
        lambda o: o.started_at + timedelta(seconds=float(o.duration_seconds))
    )
    avg_confidence = 0.9
    peak_confidence = 0.95
    confidence_sum = 0.9
    window_count = 1
    source = "radio"
    alignment = factory.LazyAttribute(lambda o: o.started_at.timestamp())
    is_open = False
    verification_status = "verified"
    royalty_bearing = True


def rate_card(
    *,
    effective_from: datetime,
    rates: dict[str, Decimal] | None = None,
    bands: Sequence[dict] | None = None,
    cmo_fee_percent: str = "10.00",
    min_play_seconds: str = "20.00",
    name: str = "Standard",
) -> RateCard:
    return services.rate_card_create(
        actor=None,
        name=name,
        effective_from=effective_from,
        cmo_fee_percent=Decimal(cmo_fee_percent),
        min_play_seconds=Decimal(min_play_seconds),
        rates=rates or STANDARD_RATES,
        bands=STANDARD_BANDS if bands is None else bands,
    )


def contributor_for(artist: Artist | None = None, *, name: str = "", publisher=None, ipi=""):
    if artist is not None:
        found = Contributor.objects.filter(artist=artist).first()
        if found:
            return found
        return Contributor.objects.create(name=artist.stage_name, artist=artist, ipi=ipi)
    if publisher is not None:
        return Contributor.objects.create(
            name=publisher.name, kind="publisher", publisher=publisher, ipi=ipi
        )
    return Contributor.objects.create(name=name or "Session player", ipi=ipi)


def splits(
    track: Track, shares: Sequence[tuple[Contributor, str, int]], *, effective_from: datetime
) -> SplitVersion:
    """A split version of `track`: [(contributor, role, basis points)], totalling 10,000."""
    assert sum(bp for _, _, bp in shares) == 10_000
    number = SplitVersion.objects.filter(track=track).count() + 1
    version = SplitVersion.objects.create(track=track, number=number, effective_from=effective_from)
    TrackSplit.objects.bulk_create(
        TrackSplit(version=version, contributor=c, role=role, basis_points=bp)
        for c, role, bp in shares
    )
    return version


def publishing_deal(
    artist: Artist,
    publisher: Publisher,
    *,
    share_bp: int,
    active_from: datetime,
    terminated_at: datetime | None = None,
) -> PublisherArtistRelationship:
    """An accepted deal, with the status history royalties read."""
    relationship = PublisherArtistRelationship.objects.create(
        publisher=publisher,
        artist=artist,
        kind="administration",
        status="terminated" if terminated_at else "active",
        share_bp=share_bp,
        start_date=timezone.localtime(active_from).date(),
        proposed_by="publisher",
    )
    RelationshipStatusChange.objects.create(
        relationship=relationship, status="active", at=active_from
    )
    if terminated_at:
        RelationshipStatusChange.objects.create(
            relationship=relationship, status="terminated", at=terminated_at
        )
    return relationship


def play(world, at: datetime, seconds: str = "200", **fields) -> PlayLog:
    """A verified airing of the world's track (12:00 Accra is regular time)."""
    return PlayLogFactory(
        station=fields.pop("station", world.station),
        track=fields.pop("track", world.track),
        started_at=at,
        duration_seconds=Decimal(seconds),
        **fields,
    )
