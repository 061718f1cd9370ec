from __future__ import annotations

import factory
from django.utils import timezone

from streaming.models import Device, PlayEvent, PlayOutcome, TrackLike
from tracks.models import TrackStatus
from tracks.tests.factories import TrackFactory


class PlayEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlayEvent

    track = factory.SubFactory(TrackFactory, status=TrackStatus.APPROVED)
    listener_key = factory.Sequence(lambda n: f"g:{n:064x}")
    started_at = factory.LazyFunction(timezone.now)
    seconds_listened = 180
    outcome = PlayOutcome.COMPLETED
    counted = True
    device = Device.WEB
    country = "GH"


class TrackLikeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackLike

    track = factory.SubFactory(TrackFactory, status=TrackStatus.APPROVED)
