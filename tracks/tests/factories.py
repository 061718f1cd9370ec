"""Factories for catalogue rows that tests need without going through an upload."""

from __future__ import annotations

import hashlib

import factory

from artists.tests.factories import ArtistFactory
from tracks.models import Track


class TrackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Track

    title = factory.Sequence(lambda n: f"Song {n}")
    primary_artist = factory.SubFactory(ArtistFactory)
    duration_seconds = 180.0
    audio = factory.django.FileField(filename="song.wav", data=b"RIFF stand-in audio")
    audio_format = "wav"
    audio_hash = factory.Sequence(lambda n: hashlib.sha256(f"track-{n}".encode()).hexdigest())
