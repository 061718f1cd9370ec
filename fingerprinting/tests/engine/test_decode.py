"""Decoding in-process with FFmpeg's libraries: the samples the ffmpeg command line gives,
every input kind, and the files that must be refused."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fingerprinting.engine import SPEC, DecodeError, decode, fingerprint
from fingerprinting.engine.decode import ffmpeg_binary

from .synth import song, to_44k1

pytestmark = pytest.mark.slow  # runs the ffmpeg command line as the reference


def ffmpeg(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-y", *(["-nostdin"] if stdin is None else []), *args],
        input=stdin,
        capture_output=True,
        check=True,
    ).stdout


def encode(samples: np.ndarray, rate: int, *args: str, out: Path | None = None) -> bytes:
    """``samples`` ((frames,) or (frames, channels) float32) encoded by the command line."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    target = [str(out)] if out else ["pipe:1"]
    raw = ["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0"]
    data = ffmpeg(*raw, *args, *target, stdin=np.ascontiguousarray(samples, "<f4").tobytes())
    return out.read_bytes() if out else data


# What the engine ran before it decoded in-process.
_TO_F32 = ["-map", "0:a:0", "-af", f"aresample={SPEC.sample_rate}", "-ac", "1", "-f", "f32le"]


def reference(path: Path) -> np.ndarray:
    return np.frombuffer(ffmpeg("-i", str(path), *_TO_F32, "pipe:1"), dtype="<f4")


def stereo(seed: int, seconds: float, rate: int) -> np.ndarray:
    left = song(seed, seconds, rate)
    return np.stack([left, 0.6 * left + 0.4 * song(seed + 50, seconds, rate)], axis=1)


@pytest.mark.parametrize(
    ("name", "rate", "channels", "codec"),
    [
        ("master.flac", 48000, 2, []),
        ("broadcast.mp3", 44100, 2, ["-b:a", "128k"]),
        ("voice.mka", 22050, 1, ["-c:a", "aac", "-b:a", "64k"]),
        # A plain WAV of 3 channels has no channel order: decoded with FFmpeg's
        # default layout for 3, as the command line guesses it.
        ("three.wav", 44100, 3, ["-c:a", "pcm_s16le"]),
        ("track.ogg", 44100, 2, ["-c:a", "libvorbis"]),
        ("radio.opus", 48000, 2, ["-c:a", "libopus", "-b:a", "48k"]),
    ],
)
def test_samples_are_the_ffmpeg_command_lines(tmp_path, name, rate, channels, codec):
    audio = stereo(31, 6.0, rate)
    if channels == 1:
        audio = audio[:, 0]
    elif channels == 3:
        audio = np.concatenate([audio, audio[:, :1] * 0.5], axis=1)
    path = tmp_path / name
    encode(audio, rate, *codec, out=path)

    ours, theirs = decode(path), reference(path)

    assert ours.dtype == np.float32
    assert ours.size == theirs.size
    # Measured bit-identical (same resampler, same default settings).
    assert np.max(np.abs(ours - theirs)) <= 1e-6


def test_mp4_audio_ending_inside_a_frame_keeps_that_frame(tmp_path):
    # The ffmpeg command line (a newer FFmpeg than PyAV's) cuts an MP4's last AAC
    # frame at the edit list's end; FFmpeg's libraries here keep the whole frame,
    # so up to one frame more comes out, and the resampler's last 2 ms differ.
    path = tmp_path / "voice.m4a"
    encode(stereo(31, 6.0, 22050)[:, 0], 22050, "-c:a", "aac", out=path)

    ours, theirs = decode(path), reference(path)

    assert theirs.size == 6 * SPEC.sample_rate
    assert 0 < ours.size - theirs.size <= 1024 * SPEC.sample_rate // 22050 + 1
    assert np.array_equal(ours[: theirs.size - 16], theirs[:-16])


@pytest.mark.parametrize(
    ("rate", "dtype", "channels"),
    [(44100, "float32", 1), (48000, "float32", 2), (22050, "int16", 1)],
)
def test_pcm_arrays_are_resampled_as_the_command_line_does(rate, dtype, channels):
    audio = stereo(32, 5.0, rate)[:, :channels]
    if dtype == "int16":
        audio = (audio * 32767).astype(np.int16)
    floats = audio.astype(np.float32) / (32768.0 if dtype == "int16" else 1.0)
    raw = ["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0"]
    theirs = np.frombuffer(
        ffmpeg(*raw, *_TO_F32, "pipe:1", stdin=floats.astype("<f4").tobytes()), dtype="<f4"
    )

    ours = decode(audio, sample_rate=rate)

    assert ours.size == theirs.size == 5 * SPEC.sample_rate
    assert np.max(np.abs(ours - theirs)) <= 1e-6


def test_path_bytes_and_file_object_give_the_same_samples(tmp_path):
    path = tmp_path / "clip.mp3"
    encode(song(33, 5.0, 44100), 44100, "-b:a", "64k", out=path)

    from_path = decode(path)

    assert from_path.size == pytest.approx(5 * SPEC.sample_rate, abs=100)
    assert np.array_equal(decode(path.read_bytes(), name="clip.mp3"), from_path)
    with path.open("rb") as handle:
        assert np.array_equal(decode(handle), from_path)
    assert np.array_equal(decode(io.BytesIO(path.read_bytes())), from_path)


def test_48k_and_44k1_files_of_the_same_audio_give_the_same_hashes(tmp_path):
    master = song(34, 20.0, 48000)
    encode(master, 48000, "-c:a", "flac", out=tmp_path / "master.flac")
    encode(to_44k1(master), 44100, "-c:a", "pcm_s16le", out=tmp_path / "copy.wav")

    a = fingerprint(decode(tmp_path / "master.flac"))
    b = fingerprint(decode(tmp_path / "copy.wav"))

    pairs_a = set(zip(a.hashes.tolist(), a.offsets.tolist(), strict=True))
    pairs_b = set(zip(b.hashes.tolist(), b.offsets.tolist(), strict=True))
    assert len(a) > 300
    assert len(pairs_a & pairs_b) / len(pairs_a | pairs_b) >= 0.99


def test_vbr_mp3_without_a_header_is_not_called_truncated():
    # Written to a pipe, so no Xing header: FFmpeg estimates the duration from the
    # first frame's bit rate (silence: 32 kbit/s), three times the real length.
    rng = np.random.default_rng(35)
    audio = np.concatenate([np.zeros(2 * 44100), rng.standard_normal(8 * 44100) * 0.3])
    blob = encode(audio.astype(np.float32), 44100, "-c:a", "libmp3lame", "-q:a", "0", "-f", "mp3")

    # Twice: FFmpeg's notice that it estimated is the same line both times.
    for _ in range(2):
        assert decode(blob, name="vbr.mp3").size == pytest.approx(10 * SPEC.sample_rate, abs=400)


def test_sample_rate_change_midway_is_decoded_in_full():
    first = encode(song(36, 4.0, 44100), 44100, "-f", "mp3")
    second = encode(song(37, 3.0, 22050), 22050, "-f", "mp3")

    samples = decode(first + second, name="joined.mp3")

    assert samples.size / SPEC.sample_rate == pytest.approx(7.0, abs=0.15)


def _adts_frames(data: bytes) -> list[tuple[int, int]]:
    frames, position = [], 0
    while position + 7 <= len(data):
        length = ((data[position + 3] & 3) << 11) | (data[position + 4] << 3)
        length |= data[position + 5] >> 5
        frames.append((position, length))
        position += length
    return frames


@pytest.mark.parametrize(("corrupt_in_10", "decodes"), [(1, True), (9, False)])
def test_corrupt_frames_are_skipped_until_most_are_corrupt(corrupt_in_10, decodes):
    aac = bytearray(encode(song(38, 8.0, 44100), 44100, "-c:a", "aac", "-f", "adts"))
    rng = np.random.default_rng(38)
    for k, (start, length) in enumerate(_adts_frames(bytes(aac))):
        if k % 10 < corrupt_in_10:
            aac[start + 7 : start + length] = rng.integers(0, 256, length - 7, np.uint8).tobytes()

    if decodes:
        # As the command line: a tenth of the frames lost, the rest decoded.
        assert 6.5 < decode(bytes(aac), name="noisy.aac").size / SPEC.sample_rate < 7.9
    else:
        # Some frames still decode: it is the share of errors that refuses the file.
        with pytest.raises(DecodeError, match=r"garbled\.aac: not decodable audio \(\d+ of \d+ fr"):
            decode(bytes(aac), name="garbled.aac")


def test_playlist_naming_another_file_is_refused(tmp_path):
    # FFmpeg's playlist demuxers open what a playlist names; an upload must not
    # read other files on the server.
    encode(song(39, 8.0, 44100), 44100, out=tmp_path / "secret.mp3")
    playlist = tmp_path / "upload.m3u8"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:8,\n"
        f"{tmp_path / 'secret.mp3'}\n#EXT-X-ENDLIST\n"
    )

    with pytest.raises(DecodeError, match=r"upload\.m3u8: not decodable audio"):
        decode(playlist)


def test_file_without_audio_is_refused(tmp_path):
    video = tmp_path / "video.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=3", str(video))

    with pytest.raises(DecodeError, match=r"video\.mp4: not decodable audio \(no audio stream\)"):
        decode(video)


def test_pcm_array_in_no_known_channel_order_is_refused():
    with pytest.raises(DecodeError, match=r"nine: cannot mix down to mono"):
        decode(np.zeros((8000, 9), np.float32), sample_rate=8000, name="nine")
