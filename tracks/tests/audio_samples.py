"""Audio for tests, synthesised from a seed: random notes → WAV (stdlib wave) → ffmpeg."""

from __future__ import annotations

import io
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from tracks.audio import ffmpeg_binary

RATE = 22050


def music(seconds: float = 3.0, *, seed: int = 0) -> np.ndarray:
    """A melody of random notes with harmonics: peaky enough for a fingerprinter."""
    rng = np.random.default_rng(seed)
    note_len = int(RATE * 0.25)
    notes = int(np.ceil(seconds * RATE / note_len))
    t = np.arange(note_len) / RATE
    envelope = np.minimum(1.0, np.minimum(t / 0.01, (t[-1] - t) / 0.02 + 0.05))
    out = []
    for _ in range(notes):
        chord = 220.0 * 2 ** (rng.integers(0, 36, size=3) / 12)
        tone = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in chord)
        out.append(tone * envelope)
    signal = np.concatenate(out)[: int(seconds * RATE)]
    signal += 0.02 * rng.standard_normal(signal.size)
    return (signal / np.abs(signal).max() * 0.8).astype(np.float32)


def wav_bytes(seconds: float = 3.0, *, seed: int = 0) -> bytes:
    pcm = (music(seconds, seed=seed) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def encode(wav: bytes, extension: str, *args: str) -> bytes:
    """Re-encodes WAV bytes with ffmpeg into `extension` (mp3, flac, ogg, m4a, aac)."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "in.wav"), Path(folder, f"out.{extension}")
        source.write_bytes(wav)
        subprocess.run(
            [
                ffmpeg_binary(),
                "-hide_banner",
                "-v",
                "error",
                "-y",
                "-i",
                str(source),
                *args,
                str(target),
            ],
            check=True,
        )
        return target.read_bytes()


def png_bytes(size: int = 32) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size: int = 32) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (30, 30, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()
