"""Factories for stations, their people and stream links."""

from __future__ import annotations

import factory

from conftest import make_user
from stations.models import Station, StationClass, StationStaff, StationStaffRole, StreamLink


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    name = factory.Sequence(lambda n: f"Radio {n} FM")
    slug = factory.Sequence(lambda n: f"radio-{n}")
    call_sign = factory.Sequence(lambda n: f"R{n:03d}")
    frequency = factory.Sequence(lambda n: f"{88 + (n % 20)}.{n % 10} FM")
    region = "Greater Accra"
    city = factory.Sequence(lambda n: f"City {n}")
    country = "GH"
    station_class = StationClass.B
    licence_number = factory.Sequence(lambda n: f"NCA-{n:05d}")
    contact_email = factory.Sequence(lambda n: f"desk{n}@radio.example")


class StationStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StationStaff

    station = factory.SubFactory(StationFactory)
    user = factory.LazyFunction(lambda: make_user("station"))
    role = StationStaffRole.MANAGER


class StreamLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StreamLink

    station = factory.SubFactory(StationFactory)
    # A public address literal: passes the URL check without DNS.
    url = factory.Sequence(lambda n: f"http://203.0.114.{n % 250 + 1}:8000/live{n}")
    kind = "primary"
    enabled = True
