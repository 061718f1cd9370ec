"""Factories for the catalogue's rights holders."""

from __future__ import annotations

import factory
from django.utils import timezone

from artists.models import Artist, PayoutDetails, Publisher


class ArtistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Artist

    stage_name = factory.Sequence(lambda n: f"Artist {n}")
    country = "GH"
    pro_affiliation = "GHAMRO"


class PublisherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Publisher

    name = factory.Sequence(lambda n: f"Publisher {n}")
    country = "GH"


class PayoutDetailsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PayoutDetails

    msisdn = factory.Sequence(lambda n: f"23324{n:07d}")
    network = "mtn"
    changed_at = factory.LazyFunction(timezone.now)
