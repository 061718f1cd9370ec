"""A recorded broadcast through `monitor_file`: the same path live capture takes."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.test import TestCase

from detections.models import MatchCache, PlayLog, VerificationStatus, WindowMatch
from detections.tests.conftest import SR, song, talk
from detections.tests.factories import T0, StationFactory
from fingerprinting import synth
from fingerprinting.engine.decode import ffmpeg_binary

pytestmark = pytest.mark.django_db


def _broadcast(catalogue) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Talk, Adowa, talk, Borborbor (a DJ talking over its first 10 s), a song that is not
    in the catalogue, Kpanlogo, talk, Adowa again, talk. Returns audio and the truth."""
    parts: list[np.ndarray] = []
    truth: list[tuple[str, float, float]] = []
    clock = 0.0

    def add(audio: np.ndarray, title: str | None = None) -> None:
        nonlocal clock
        parts.append(audio)
        if title:
            truth.append((title, clock, clock + audio.size / SR))
        clock += audio.size / SR

    add(talk(1, 6))
    add(catalogue["Adowa"].audio, "Adowa")
    add(talk(2, 5))
    intro = catalogue["Borborbor"].audio.copy()
    intro[: 10 * SR] += talk(3, 10)
    add(intro, "Borborbor")
    add(song(999, 25))  # not in the catalogue
    add(catalogue["Kpanlogo"].audio, "Kpanlogo")
    add(talk(4, 4))
    add(catalogue["Adowa"].audio, "Adowa")
    add(talk(5, 5))
    return np.concatenate(parts), truth


def _as_mp3(tmp_path, audio: np.ndarray):
    wav = synth.write_wav(tmp_path / "logger.wav", audio, sr=SR)
    mp3 = tmp_path / "logger.mp3"
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-y", "-i", str(wav), "-b:a", "64k", str(mp3)],
        check=True,
    )
    return mp3


def _monitor(path, station, start: datetime) -> list[dict]:
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command(
            "monitor_file",
            str(path),
            "--station",
            station.slug,
            "--start",
            start.isoformat(),
            "--json",
            stdout=out,
        )
    return json.loads(out.getvalue())


def test_recording_with_a_repeat_and_talk_over_an_intro_logs_four_timed_plays(catalogue, tmp_path):
    station = StationFactory()
    audio, truth = _broadcast(catalogue)
    path = _as_mp3(tmp_path, audio)

    plays = _monitor(path, station, T0)

    assert [p["title"] for p in plays] == [title for title, _, _ in truth]
    for play, (title, start, end) in zip(plays, truth, strict=True):
        assert abs(datetime.fromisoformat(play["start"]) - (T0 + timedelta(seconds=start))) <= (
            timedelta(seconds=5)
        ), (title, play["start"])
        assert abs(datetime.fromisoformat(play["end"]) - (T0 + timedelta(seconds=end))) <= (
            timedelta(seconds=5)
        ), (title, play["end"])
        assert set(play) >= {
            "track_id",
            "title",
            "artist",
            "start",
            "end",
            "duration",
            "confidence",
            "verification_status",
        }
        assert play["artist"] == "Akwaboa Band"
        assert play["verification_status"] == "verified"
        assert abs(play["duration"] - (end - start)) <= 5
    rows = PlayLog.objects.filter(station=station).order_by("started_at")
    assert rows.count() == 4
    assert [r.track_id for r in rows] == [p["track_id"] for p in plays]
    assert rows[0].track_id == rows[3].track_id  # Adowa, aired twice: two plays
    assert all(r.source == "recording" and not r.is_open and r.royalty_bearing for r in rows)
    assert all(r.verification_status == VerificationStatus.VERIFIED for r in rows)


def test_monitoring_the_same_recording_again_adds_nothing(catalogue, tmp_path):
    station = StationFactory()
    audio, _ = _broadcast(catalogue)
    path = _as_mp3(tmp_path, audio)
    first = _monitor(path, station, T0)
    counts = (PlayLog.objects.count(), MatchCache.objects.count(), WindowMatch.objects.count())
    snapshot = list(PlayLog.objects.order_by("pk").values())

    second = _monitor(path, station, T0)

    assert second == first
    assert (PlayLog.objects.count(), MatchCache.objects.count(), WindowMatch.objects.count()) == (
        counts
    )
    assert list(PlayLog.objects.order_by("pk").values()) == snapshot


def test_the_same_recording_cut_at_other_window_boundaries_extends_the_same_plays(
    catalogue, tmp_path
):
    """A restarted worker hears the airing through windows that start elsewhere: the
    plays it finds are the ones already logged, not new ones."""
    station = StationFactory()
    audio, _ = _broadcast(catalogue)
    path = _as_mp3(tmp_path, audio)
    first = _monitor(path, station, T0)
    shifted = _as_mp3(tmp_path, audio[int(2.5 * SR) :])

    second = _monitor(shifted, station, T0 + timedelta(seconds=2.5))

    assert PlayLog.objects.filter(station=station).count() == 4
    assert [p["play_id"] for p in second] == [p["play_id"] for p in first]
