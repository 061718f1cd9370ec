"""Shared pieces of the hardening tests: a small fingerprinted catalogue of synthesised songs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.test import TestCase

from artists.services import artist_get_or_create_by_name
from fingerprinting import synth
from fingerprinting.catalog_index import catalog_index
from tracks.models import Track
from tracks.services import track_create_from_file

SR = 44100


@dataclass(frozen=True)
class Song:
    track: Track
    audio: np.ndarray  # mono float at SR


def make_catalogue(folder: Path, songs: dict[str, tuple[int, float]]) -> dict[str, Song]:
    """Stores and fingerprints one track per title from (seed, seconds); every one is ready.

    Callers turn settings.TRACKS_RECORDING_MATCHER off: synthesised songs share a style,
    and the duplicate check must not hold them back as copies of each other.
    """
    folder.mkdir(parents=True, exist_ok=True)
    artist = artist_get_or_create_by_name(stage_name="Akwaboa Band")
    made = {}
    with TestCase.captureOnCommitCallbacks(execute=True):
        for title, (seed, seconds) in songs.items():
            audio = synth.song(seed, seconds, sr=SR)
            path = synth.write_wav(folder / f"{seed}.wav", audio, sr=SR)
            track = track_create_from_file(path=str(path), title=title, primary_artist=artist)
            made[title] = Song(track=track, audio=audio)
    catalog_index().refresh(force=True)
    for song in made.values():
        song.track.refresh_from_db()
        assert song.track.fingerprint_status == "ready", song.track.fingerprint_error
    return made


def talk(seed: int, seconds: float) -> np.ndarray:
    return synth.talk(seed, seconds, sr=SR)
