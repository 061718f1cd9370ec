"""Golden tests of the fingerprinting engine on synthesised audio (no database)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fingerprinting.engine import (
    FINGERPRINT_VERSION,
    MIN_QUERY_SECONDS,
    SPEC,
    DecodeError,
    Fingerprint,
    FingerprintError,
    FormatError,
    Index,
    Matcher,
    TooShortError,
    decode,
    fingerprint,
)
from fingerprinting.engine.decode import ffmpeg_binary

from .synth import faster, song, to_44k1

RATE = 44100
HOP_S = SPEC.hop / SPEC.sample_rate
CATALOGUE = {101: 11, 102: 12, 103: 13, 104: 14, 105: 15}  # track id -> synth seed
SONG_S = 30.0


@pytest.fixture(scope="module")
def masters() -> dict[int, np.ndarray]:
    return {track_id: song(seed, SONG_S, RATE) for track_id, seed in CATALOGUE.items()}


@pytest.fixture(scope="module")
def prints(masters) -> dict[int, Fingerprint]:
    return {tid: fingerprint(decode(x, sample_rate=RATE)) for tid, x in masters.items()}


@pytest.fixture
def index(prints) -> Index:
    index = Index()
    index.add_many(prints.items())
    return index


def clip(x: np.ndarray, start: float, seconds: float) -> np.ndarray:
    return x[int(start * RATE) : int((start + seconds) * RATE)]


def query(matcher: Matcher, samples: np.ndarray) -> list:
    return matcher.match(decode(samples, sample_rate=RATE))


def mp3_64k(samples: np.ndarray) -> bytes:
    return subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-f",
            "f32le",
            "-ar",
            str(RATE),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-f",
            "mp3",
            "pipe:1",
        ],
        input=np.clip(samples, -1, 1).astype("<f4").tobytes(),
        capture_output=True,
        check=True,
    ).stdout


def test_clean_clip_is_found_at_its_offset(index, masters):
    matches = query(Matcher(index), clip(masters[103], 11.3, 8.0))

    assert [m.track_id for m in matches] == [103]
    found = matches[0]
    assert found.speed == 1.0
    assert found.confidence >= 0.70
    # Track position heard at the start of the query.
    start = found.track_offset - found.query_offset * found.speed
    assert abs(start - 11.3) <= HOP_S


def test_mp3_noisy_fast_clip_is_found(index, masters):
    rng = np.random.default_rng(5)
    # 2 % fast: 8 s of broadcast hold 8.16 s of the track.
    played = faster(clip(masters[102], 6.0, 8.2), 2)[: 8 * RATE]
    noisy = played + rng.standard_normal(played.size).astype(np.float32) * 0.1 * np.std(played)
    matches = Matcher(index).match(decode(mp3_64k(noisy), name="clip.mp3"))

    assert [m.track_id for m in matches] == [102]
    # Within one step of the 0.5 % grid: on clips this short the slope of the aligned
    # hits is that precise (on the benchmark's 5 s clips 2 % fast, v2 and v3 alike
    # report 1.015 or less for about one clip in five; on 10 s clips, none).
    assert matches[0].speed in (1.015, 1.02, 1.025)
    start = matches[0].track_offset - matches[0].query_offset * matches[0].speed
    assert abs(start - 6.0) <= 2 * HOP_S


def test_unrelated_song_is_not_matched(index):
    stranger = song(999, 12.0, RATE)

    assert query(Matcher(index), stranger) == []
    # It is not empty-handed because of silence: the matcher saw hashes and candidates.
    assert Matcher(index).candidates(decode(stranger, sample_rate=RATE))[0].confidence < 0.70


def test_end_of_one_song_and_start_of_next_are_both_found(index, masters):
    segue = np.concatenate([clip(masters[101], SONG_S - 6.0, 6.0), clip(masters[104], 0.0, 6.0)])
    matches = query(Matcher(index), segue)

    assert sorted(m.track_id for m in matches) == [101, 104]
    by_id = {m.track_id: m for m in matches}
    assert abs(by_id[104].query_offset - 6.0) <= 0.5
    assert by_id[104].track_offset <= 0.5
    assert by_id[101].query_offset <= 0.5


def test_48k_master_and_44k1_copy_give_the_same_hashes():
    master = song(21, 20.0, 48000)
    a = fingerprint(decode(master, sample_rate=48000))
    b = fingerprint(decode(to_44k1(master), sample_rate=44100))

    pairs_a = set(zip(a.hashes.tolist(), a.offsets.tolist(), strict=True))
    pairs_b = set(zip(b.hashes.tolist(), b.offsets.tolist(), strict=True))
    shared = len(pairs_a & pairs_b) / len(pairs_a | pairs_b)
    assert len(a) > 300
    # Measured 1.0 (identical sets) on several seeds.
    assert shared >= 0.99


def test_decoded_rate_is_the_analysis_rate_whatever_the_source_rate():
    second = np.zeros(48000, dtype=np.float32)
    assert decode(second, sample_rate=48000).size == SPEC.sample_rate
    assert decode(second[:44100], sample_rate=44100).size == SPEC.sample_rate


def test_removed_track_stops_matching_and_added_track_starts(prints, masters):
    index = Index(delta_ratio=0.01)
    index.add_many((tid, fp) for tid, fp in prints.items() if tid != 105)
    matcher = Matcher(index)
    entries = index.entries

    assert query(matcher, clip(masters[105], 4.0, 6.0)) == []

    index.add(105, prints[105])
    assert [m.track_id for m in query(matcher, clip(masters[105], 4.0, 6.0))] == [105]
    assert index.entries == entries + len(prints[105])

    assert index.remove(102) is True
    assert index.remove(102) is False
    assert query(matcher, clip(masters[102], 4.0, 6.0)) == []
    assert 102 not in index
    assert len(index) == 4
    # Re-adding after removal works and other tracks are unaffected.
    index.add(102, prints[102].to_bytes())
    assert [m.track_id for m in query(matcher, clip(masters[102], 4.0, 6.0))] == [102]
    assert [m.track_id for m in query(matcher, clip(masters[101], 4.0, 6.0))] == [101]


def test_adding_a_track_id_again_replaces_it(prints, masters):
    index = Index()
    index.add(7, prints[101])
    index.add(7, prints[103])

    assert len(index) == 1
    assert [m.track_id for m in query(Matcher(index), clip(masters[103], 2.0, 6.0))] == [7]
    assert query(Matcher(index), clip(masters[101], 2.0, 6.0)) == []


def test_snapshot_round_trip_gives_identical_matches(index, masters, tmp_path):
    index.remove(104)
    path = tmp_path / "index.snapshot"
    index.save(path)
    loaded = Index.load(path)
    queries = [clip(masters[tid], 9.0, 7.0) for tid in (101, 102, 104)]

    assert loaded.track_ids == [101, 102, 103, 105]
    assert loaded.entries == index.entries
    for q in queries:
        samples = decode(q, sample_rate=RATE)
        assert Matcher(loaded).candidates(samples) == Matcher(index).candidates(samples)
    assert Matcher(loaded).match(decode(queries[2], sample_rate=RATE)) == []
    # A loaded (memory-mapped) index still takes updates.
    loaded.add(104, Fingerprint.from_bytes(index_bytes := _fp_bytes(masters[104])))
    assert len(index_bytes) > 0
    assert [m.track_id for m in query(Matcher(loaded), queries[2])] == [104]


def _fp_bytes(x: np.ndarray) -> bytes:
    return fingerprint(decode(x, sample_rate=RATE)).to_bytes()


def test_fingerprint_bytes_round_trip(prints):
    fp = prints[101]
    blob = fp.to_bytes()

    assert Fingerprint.from_bytes(blob) == fp
    assert len(blob) == 20 + 8 * len(fp)
    assert fp.version == FINGERPRINT_VERSION
    assert fp.hashes.dtype == np.uint32 and fp.offsets.dtype == np.uint32
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(blob[:-1])
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(b"RIFF" + blob[4:])


def test_snapshot_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "junk.snapshot"
    path.write_bytes(b"hello\n")
    with pytest.raises(FormatError, match="junk.snapshot"):
        Index.load(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("version", FINGERPRINT_VERSION - 1, "snapshot of version"), ("layout", None, "layout")],
)
def test_snapshot_of_another_version_or_layout_is_refused(tmp_path, field, value, message):
    """A worker must not read a snapshot written by another engine version, or by the
    same version with whole 32-bit hashes (before entries kept 16 bits)."""
    path = tmp_path / "index.snapshot"
    Index().save(path)
    magic, header, rest = path.read_bytes().split(b"\n", 2)
    meta = json.loads(header)
    meta[field] = value
    path.write_bytes(magic + b"\n" + json.dumps(meta).encode() + b"\n" + rest)
    with pytest.raises(FormatError, match=message):
        Index.load(path)


def test_non_audio_bytes_name_the_source():
    with pytest.raises(DecodeError, match=r"upload\.mp3"):
        decode(b"this is not audio at all, just text " * 50, name="upload.mp3")


def test_empty_file_names_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match=r"empty\.wav: empty file"):
        decode(empty)


def test_truncated_mp3_names_the_file(tmp_path, masters):
    # Written to a file, as encoders do, so it carries its length in an Info/Xing header.
    full = tmp_path / "full.mp3"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-f",
            "f32le",
            "-ar",
            str(RATE),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            str(full),
        ],
        input=clip(masters[101], 0.0, 10.0).astype("<f4").tobytes(),
        check=True,
    )
    whole = full.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DecodeError, match=r"cut\.mp3: truncated"):
        decode(cut)
    # The complete file decodes to its full length.
    assert abs(decode(full).size / SPEC.sample_rate - 10.0) < 0.1


def test_truncated_wav_names_the_file(tmp_path, masters):
    wav = tmp_path / "cut.wav"
    samples = (clip(masters[101], 0.0, 4.0) * 32767).astype("<i2")
    header = (
        b"RIFF"
        + (36 + samples.nbytes).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + RATE.to_bytes(4, "little")
        + (2 * RATE).to_bytes(4, "little")
        + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + samples.nbytes.to_bytes(4, "little")
    )
    wav.write_bytes(header + samples.tobytes())
    assert decode(wav).size == 4 * SPEC.sample_rate
    wav.write_bytes(header + samples.tobytes()[: samples.nbytes // 2])
    with pytest.raises(DecodeError, match=r"cut\.wav: truncated"):
        decode(wav)


def test_too_short_clip_names_the_file(tmp_path, index, masters):
    short = tmp_path / "short.mp3"
    short.write_bytes(mp3_64k(clip(masters[101], 0.0, MIN_QUERY_SECONDS - 1.0)))
    with pytest.raises(TooShortError, match=r"short\.mp3") as caught:
        Matcher(index).match_source(short)
    assert isinstance(caught.value, FingerprintError)
    assert caught.value.source == str(short)


def test_pcm_array_needs_its_rate():
    with pytest.raises(DecodeError, match="sample_rate"):
        decode(np.zeros(1000, dtype=np.float32), name="frames")


def test_missing_file_names_it(tmp_path):
    with pytest.raises(DecodeError, match=r"nowhere\.ogg"):
        decode(tmp_path / "nowhere.ogg")


def test_silence_has_no_hashes():
    fp = fingerprint(np.zeros(10 * SPEC.sample_rate, dtype=np.float32))
    assert len(fp) == 0
    assert fp.duration == 10.0


def test_source_path_reported_is_the_path_given(tmp_path):
    path = Path(tmp_path / "not-audio.txt")
    path.write_text("plain text " * 100)
    with pytest.raises(DecodeError) as caught:
        decode(path)
    assert caught.value.source == str(path)


def test_vectorised_xxh32_equals_the_xxhash_package():
    import xxhash

    from fingerprinting.engine.hashing import xxh32_u32

    keys = np.random.default_rng(32).integers(0, 2**32, 1000, dtype=np.int64)
    keys[:3] = (0, 1, 2**32 - 1)
    expected = [xxhash.xxh32_intdigest(int(k).to_bytes(4, "little"), 2) for k in keys]

    assert xxh32_u32(keys, 2).tolist() == expected
