"""The Django side of fingerprinting against PostgreSQL: storage, index refresh, commands."""

from __future__ import annotations

import json
import subprocess
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import TestCase

from fingerprinting import services, synth
from fingerprinting.catalog_index import catalog_index
from fingerprinting.engine import FINGERPRINT_VERSION
from fingerprinting.engine.decode import ffmpeg_binary
from fingerprinting.models import TrackFingerprint
from tracks.models import FingerprintStatus, Track

pytestmark = pytest.mark.django_db

SR = 44100
SONG_SECONDS = 40
SEEDS = {"Adowa Sunrise": 11, "Kumasi Nights": 12, "Volta Breeze": 13}


@pytest.fixture
def catalogue_dir(tmp_path) -> Path:
    folder = tmp_path / "catalogue"
    for title, seed in SEEDS.items():
        synth.write_wav(folder / f"{title}.wav", synth.song(seed, SONG_SECONDS), sr=SR)
    return folder


def _import(folder: Path) -> list[dict]:
    # A command's transactions commit: run the on_commit work it queued (index bumps).
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command(
            "import_catalog", str(folder), "--artist", "Ebo Taylor Jr", "--json", stdout=out
        )
    return json.loads(out.getvalue())


def _identify(path: Path) -> list[dict]:
    out = StringIO()
    call_command("identify", str(path), "--json", stdout=out)
    return json.loads(out.getvalue())


def _radio_clip(tmp_path: Path, seed: int, start: float, seconds: float, name: str) -> Path:
    """A clip of a song as a station would air it: 2 % fast, noisy, as a 64 kbps MP3."""
    rng = np.random.default_rng(seed + 1000)
    audio = synth.song(seed, SONG_SECONDS)[int(start * SR) : int((start + seconds) * SR)]
    audio = audio + rng.normal(0, 0.02, audio.size).astype(np.float32)
    wav = synth.write_wav(tmp_path / f"{name}.wav", audio, sr=SR)
    mp3 = tmp_path / f"{name}.mp3"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-y",
            "-i",
            str(wav),
            "-af",
            f"asetrate={int(SR * 1.02)},aresample={SR}",
            "-b:a",
            "64k",
            str(mp3),
        ],
        check=True,
    )
    return mp3


def test_import_catalog_creates_fingerprinted_tracks_once(catalogue_dir):
    first = _import(catalogue_dir)

    assert [r["status"] for r in first] == ["created"] * 3
    assert sorted(r["title"] for r in first) == sorted(SEEDS)
    tracks = Track.objects.select_related("primary_artist").order_by("title")
    assert [t.title for t in tracks] == sorted(SEEDS)
    assert {t.primary_artist.stage_name for t in tracks} == {"Ebo Taylor Jr"}
    assert {t.fingerprint_status for t in tracks} == {FingerprintStatus.READY}
    rows = TrackFingerprint.objects.filter(version=FINGERPRINT_VERSION)
    assert rows.count() == 3
    for row in rows:
        assert row.hash_count > 100
        assert abs(row.duration_seconds - SONG_SECONDS) < 0.1

    second = _import(catalogue_dir)

    assert [r["status"] for r in second] == ["skipped"] * 3
    assert {r["track_id"] for r in second} == {r["track_id"] for r in first}
    assert Track.objects.count() == 3
    assert TrackFingerprint.objects.count() == 3


def test_identify_finds_a_radio_clip_at_the_right_offset(catalogue_dir, tmp_path):
    imported = {r["title"]: r["track_id"] for r in _import(catalogue_dir)}
    clip = _radio_clip(tmp_path, SEEDS["Kumasi Nights"], start=12.0, seconds=10.0, name="air")

    found = _identify(clip)

    assert len(found) == 1
    hit = found[0]
    assert hit["track_id"] == imported["Kumasi Nights"]
    assert (hit["title"], hit["artist"], hit["isrc"]) == ("Kumasi Nights", "Ebo Taylor Jr", "")
    assert hit["confidence"] >= 0.7
    assert hit["speed"] == pytest.approx(1.02, abs=0.011)
    # The clip starts 12 s into the song.
    assert hit["track_offset"] - hit["query_offset"] * hit["speed"] == pytest.approx(12.0, abs=0.3)


def test_identify_prints_empty_list_for_audio_not_in_the_catalogue(catalogue_dir, tmp_path):
    _import(catalogue_dir)
    stranger = synth.write_wav(tmp_path / "stranger.wav", synth.song(4242, 10), sr=SR)
    chatter = synth.write_wav(tmp_path / "talk.wav", synth.talk(7, 10), sr=SR)

    assert _identify(stranger) == []
    assert _identify(chatter) == []


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.mp3", b"these are liner notes, not audio\n" * 50, "notes.mp3"),
        ("empty.wav", b"", "empty.wav"),
        ("short.wav", None, "short.wav"),
    ],
)
def test_identify_refuses_bad_files_naming_them(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is None:
        synth.write_wav(path, synth.song(1, 1.5), sr=SR)
    else:
        path.write_bytes(content)

    with pytest.raises(CommandError) as error:
        call_command("identify", str(path), "--json", stdout=StringIO())

    assert expected in str(error.value)


def test_identify_refuses_a_truncated_file(tmp_path):
    whole = synth.write_wav(tmp_path / "whole.wav", synth.song(2, 12), sr=SR)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])

    with pytest.raises(CommandError) as error:
        call_command("identify", str(cut), stdout=StringIO())

    assert "cut.wav" in str(error.value)


def test_import_catalog_reports_bad_files_and_keeps_good_ones(catalogue_dir):
    (catalogue_dir / "broken.mp3").write_bytes(b"\x00\x01 definitely not mpeg" * 100)

    with pytest.raises(CommandError):
        call_command(
            "import_catalog", str(catalogue_dir), "--artist", "Ebo Taylor Jr", stdout=StringIO()
        )

    assert sorted(Track.objects.values_list("title", flat=True)) == sorted(SEEDS)
    assert not Track.objects.filter(title="broken").exists()
    assert TrackFingerprint.objects.count() == 3


def test_index_follows_the_catalogue_when_tracks_come_and_go(
    catalogue_dir, tmp_path, django_capture_on_commit_callbacks
):
    imported = {r["title"]: r["track_id"] for r in _import(catalogue_dir)}
    index = catalog_index()
    assert sorted(index.index.track_ids) == sorted(imported.values())

    with django_capture_on_commit_callbacks(execute=True):
        Track.objects.filter(pk=imported["Volta Breeze"]).delete()
    clip = synth.write_wav(
        tmp_path / "volta.wav",
        synth.song(SEEDS["Volta Breeze"], SONG_SECONDS)[5 * SR : 15 * SR],
        sr=SR,
    )
    index.refresh(force=True)

    assert imported["Volta Breeze"] not in index.index
    assert _identify(clip) == []

    newcomer = tmp_path / "more"
    synth.write_wav(
        newcomer / "Volta Breeze.wav", synth.song(SEEDS["Volta Breeze"], SONG_SECONDS), sr=SR
    )
    readded = _import(newcomer)[0]

    assert [r["track_id"] for r in _identify(clip)] == [readded["track_id"]]


def test_fingerprinting_twice_keeps_one_row(catalogue_dir):
    track_id = _import(catalogue_dir)[0]["track_id"]
    row = TrackFingerprint.objects.get(track_id=track_id)

    again = services.fingerprint_track(track_id=track_id)

    assert again.pk == row.pk
    assert again.updated_at == row.updated_at
    assert TrackFingerprint.objects.filter(track_id=track_id).count() == 1


def test_rebuild_of_an_older_version_and_prune(catalogue_dir):
    ids = [r["track_id"] for r in _import(catalogue_dir)]
    TrackFingerprint.objects.filter(track_id=ids[0]).update(
        version=FINGERPRINT_VERSION - 1 if FINGERPRINT_VERSION > 0 else 99
    )
    old_version = TrackFingerprint.objects.get(track_id=ids[0]).version

    call_command(
        "fingerprint_tracks",
        "--version",
        str(old_version),
        "--prune",
        stdout=StringIO(),
        stderr=StringIO(),
    )

    assert TrackFingerprint.objects.filter(version=FINGERPRINT_VERSION).count() == 3
    assert not TrackFingerprint.objects.filter(version=old_version).exists()


def test_undecodable_stored_audio_marks_track_failed_with_reason(catalogue_dir):
    track_id = _import(catalogue_dir)[0]["track_id"]
    track = Track.objects.get(pk=track_id)
    Path(track.audio.path).write_bytes(b"corrupted on disk")
    Track.objects.filter(pk=track_id).update(audio_hash="0" * 64)

    assert services.fingerprint_track(track_id=track_id) is None

    track.refresh_from_db()
    assert track.fingerprint_status == FingerprintStatus.FAILED
    assert track.audio.name in track.fingerprint_error
