"""Catalogue audio for detection tests: synthesised songs stored and fingerprinted for real."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from django.test import TestCase

from artists.services import artist_get_or_create_by_name
from fingerprinting import synth
from fingerprinting.catalog_index import catalog_index
from fingerprinting.engine import decode
from tracks.models import Track
from tracks.services import track_create_from_file

SR = 44100
SONG_SECONDS = 40


@lru_cache(maxsize=32)
def _song(seed: int, seconds: float) -> np.ndarray:
    audio = synth.song(seed, seconds)
    audio.flags.writeable = False  # shared between tests: copy before changing
    return audio


@lru_cache(maxsize=32)
def _talk(seed: int, seconds: float) -> np.ndarray:
    audio = synth.talk(seed, seconds)
    audio.flags.writeable = False
    return audio


def song(seed: int, seconds: float = 40) -> np.ndarray:
    """synth.song, computed once per test session (it is deterministic)."""
    return _song(seed, seconds)


def talk(seed: int, seconds: float) -> np.ndarray:
    return _talk(seed, seconds)


@dataclass
class Song:
    track: Track
    audio: np.ndarray  # at SR

    def at_engine_rate(self) -> np.ndarray:
        return decode(self.audio, sample_rate=SR)


def make_catalogue(folder: Path, songs: dict[str, int]) -> dict[str, Song]:
    """Stores one catalogue track per (title, seed) and fingerprints it (on commit)."""
    artist = artist_get_or_create_by_name(stage_name="Akwaboa Band")
    result = {}
    with TestCase.captureOnCommitCallbacks(execute=True):
        for title, seed in songs.items():
            audio = song(seed, SONG_SECONDS)
            path = synth.write_wav(folder / f"{seed}.wav", audio, sr=SR)
            track = track_create_from_file(path=str(path), title=title, primary_artist=artist)
            result[title] = Song(track=track, audio=audio)
    catalog_index().refresh(force=True)
    for item in result.values():
        item.track.refresh_from_db()
        assert item.track.fingerprint_status == "ready", item.track.fingerprint_error
    return result


@pytest.fixture
def catalogue(db, tmp_path, settings) -> dict[str, Song]:
    settings.TRACKS_RECORDING_MATCHER = ""  # synthesised songs are not duplicates of each other
    return make_catalogue(tmp_path / "catalogue", {"Adowa": 101, "Borborbor": 102, "Kpanlogo": 103})


# The cast of the dispute, analytics and comparison tests (detections/tests/parties.py).
from detections.tests.parties import parties  # noqa: E402, F401
