"""Decode any audio input to mono float32 at the one analysis rate, through ffmpeg.

Every input goes through the same ffmpeg resampler, so a 48 kHz master and a
44.1 kHz broadcast copy land on the same sample grid.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import DecodeError, TooShortError
from .spec import SPEC

AudioSource = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | np.ndarray

_DURATION_RE = re.compile(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
# A container may declare a slightly longer duration than its decodable samples
# (encoder delay, padding); anything shorter than this is a truncated file.
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_SLACK_RATIO = 0.02


def ffmpeg_binary() -> str:
    """The ffmpeg executable: ``$FFMPEG_BINARY``, else the one shipped with imageio-ffmpeg."""
    configured = os.environ.get("FFMPEG_BINARY")
    if configured:
        return configured
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode(
    source: AudioSource,
    *,
    sample_rate: int | None = None,
    channels: int = 1,
    name: str | None = None,
    min_seconds: float = 0.0,
) -> np.ndarray:
    """Decode ``source`` to mono float32 samples at ``SPEC.sample_rate``.

    ``source`` is a file path, the bytes of an audio file, a binary file object
    holding an audio file, or a numpy array of PCM samples (then ``sample_rate``
    is required; a 2-D array is (frames, channels)). ``name`` is used in error
    messages (defaults to the path, or ``<bytes>``/``<array>``).

    Raises ``DecodeError`` when the input is not audio, empty or truncated, and
    ``TooShortError`` when it holds less than ``min_seconds`` of audio.
    """
    if isinstance(source, np.ndarray):
        label = name or "<array>"
        samples = _decode_array(source, sample_rate=sample_rate, label=label)
    elif isinstance(source, str | os.PathLike):
        label = name or str(source)
        samples = _decode_path(Path(source), label=label)
    else:
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
        else:
            data = source.read()
        label = name or getattr(source, "name", None) or "<bytes>"
        samples = _decode_bytes(data, label=str(label))
    seconds = samples.size / SPEC.sample_rate
    if seconds < min_seconds:
        raise TooShortError(
            f"{seconds:.2f} s of audio, at least {min_seconds:.2f} s needed", source=label
        )
    return samples


def _decode_bytes(data: bytes, *, label: str) -> np.ndarray:
    if not data:
        raise DecodeError("empty input", source=label)
    # ffmpeg reads durations and headers only from seekable input, and those are
    # what tell a truncated file apart from a short one, so go through a file.
    with tempfile.NamedTemporaryFile(prefix="zamio-fp-", suffix=".bin") as handle:
        handle.write(data)
        handle.flush()
        return _decode_path(Path(handle.name), label=label)


def _decode_path(path: Path, *, label: str) -> np.ndarray:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DecodeError(f"cannot read file ({exc.strerror})", source=label) from exc
    if size == 0:
        raise DecodeError("empty file", source=label)
    _check_wav_complete(path, size=size, label=label)
    args = ["-i", str(path)]
    samples, stderr = _run_ffmpeg(args, stdin=None, label=label)
    declared = _declared_duration(stderr)
    decoded = samples.size / SPEC.sample_rate
    if declared is not None and decoded < declared - max(
        _TRUNCATION_SLACK_S, _TRUNCATION_SLACK_RATIO * declared
    ):
        raise DecodeError(
            f"truncated: {decoded:.2f} s decoded of {declared:.2f} s declared", source=label
        )
    return samples


def _decode_array(array: np.ndarray, *, sample_rate: int | None, label: str) -> np.ndarray:
    if sample_rate is None or sample_rate <= 0:
        raise DecodeError("a PCM array needs its sample_rate", source=label)
    pcm = np.asarray(array)
    if pcm.ndim == 1:
        pcm = pcm[:, None]
    if pcm.ndim != 2 or pcm.shape[0] == 0 or pcm.shape[1] == 0:
        raise DecodeError(f"empty or malformed PCM array of shape {array.shape}", source=label)
    if pcm.dtype.kind in "iu":
        scale = float(np.iinfo(pcm.dtype).max) + 1.0
        pcm = pcm.astype(np.float32) / scale
    pcm = np.ascontiguousarray(pcm, dtype="<f4")
    if not np.isfinite(pcm).all():
        raise DecodeError("PCM array contains NaN or infinity", source=label)
    args = ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(pcm.shape[1]), "-i", "pipe:0"]
    samples, _ = _run_ffmpeg(args, stdin=pcm.tobytes(), label=label)
    return samples


def _run_ffmpeg(
    input_args: list[str], *, stdin: bytes | None, label: str
) -> tuple[np.ndarray, bytes]:
    command = [
        ffmpeg_binary(),
        "-hide_banner",
        "-nostats",
        "-v",
        "info",
        *([] if stdin is not None else ["-nostdin"]),
        *input_args,
        "-map",
        "0:a:0",
        # Batching frames after the resampler keeps ffmpeg's thread hand-offs cheap.
        "-af",
        f"aresample={SPEC.sample_rate},asetnsamples=n=8192:p=0",
        "-ac",
        "1",
        "-f",
        "f32le",
        "pipe:1",
    ]
    try:
        result = subprocess.run(command, input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise DecodeError(f"cannot run ffmpeg ({exc})", source=label) from exc
    if result.returncode != 0:
        raise DecodeError(f"not decodable audio ({_last_error(result.stderr)})", source=label)
    usable = len(result.stdout) - len(result.stdout) % 4
    samples = np.frombuffer(result.stdout[:usable], dtype="<f4").astype(np.float32)
    if samples.size == 0:
        raise DecodeError("no audio samples decoded", source=label)
    return samples, result.stderr


def _declared_duration(stderr: bytes) -> float | None:
    # A duration ffmpeg estimated from the file size is not a declaration.
    if b"Estimating duration from bitrate" in stderr:
        return None
    found = _DURATION_RE.search(stderr)
    if not found:
        return None
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _check_wav_complete(path: Path, *, size: int, label: str) -> None:
    """A WAV's data chunk states its length; ffmpeg silently decodes a cut one."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (chunk_size,) = struct.unpack("<I", head[position + 4 : position + 8])
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF mean "unknown length" (streamed WAV).
            if chunk_size not in (0, 0xFFFFFFFF) and position + 8 + chunk_size > size:
                raise DecodeError(
                    f"truncated WAV: {size - position - 8} of {chunk_size} data bytes",
                    source=label,
                )
            return
        position += 8 + chunk_size + (chunk_size & 1)


def _last_error(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else "ffmpeg failed"
