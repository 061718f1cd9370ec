"""Factories for stations (built against stations.Station) and plays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from detections.models import PlayLog, PlaySource, VerificationStatus
from stations.models import Station, StationStaff
from tracks.tests.factories import TrackFactory

T0 = datetime(2025, 3, 6, 8, 0, tzinfo=UTC)


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    name = factory.Sequence(lambda n: f"Radio {n} FM")
    slug = factory.Sequence(lambda n: f"radio-{n}")
    call_sign = factory.Sequence(lambda n: f"R{n}")
    region = "Greater Accra"
    city = "Accra"
    station_class = "A"
    monitoring_enabled = True


class StationStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StationStaff

    station = factory.SubFactory(StationFactory)
    role = "manager"


class PlayLogFactory(factory.django.DjangoModelFactory):
    """A closed, verified 3-minute play; each one an hour after the previous."""

    class Meta:
        model = PlayLog

    station = factory.SubFactory(StationFactory)
    track = factory.SubFactory(TrackFactory)
    started_at = factory.Sequence(lambda n: T0 + timedelta(hours=n))
    ended_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(seconds=180))
    duration_seconds = Decimal("180.00")
    avg_confidence = 0.9
    peak_confidence = 0.95
    confidence_sum = 9.0
    window_count = 10
    source = PlaySource.RADIO
    alignment = factory.LazyAttribute(lambda o: o.started_at.timestamp())
    is_open = False
    verification_status = VerificationStatus.VERIFIED
    royalty_bearing = True
