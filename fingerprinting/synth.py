"""Deterministic synthesised music and talk, for tests and the demo (plain numpy, no Django).

A "song" is built from its seed alone: tempo, key, chord progression, a melody
with harmonics and envelopes, a bass line and a drum pattern. Different seeds are
different songs as far as a fingerprinter can tell; the same seed is the same
song, sample for sample.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_PROGRESSIONS = [(0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 4, 5, 3)]


def _note_hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi) - 69) / 12.0)


def _tone(freq: float, n: int, sr: int, rng: np.random.Generator, timbre: np.ndarray) -> np.ndarray:
    if n <= 0:
        return np.zeros(0)
    t = np.arange(n, dtype=np.float64) / sr
    out = np.zeros(n)
    for harmonic, amp in enumerate(timbre, start=1):
        if freq * harmonic < sr / 2:
            out += amp * np.sin(2 * np.pi * freq * harmonic * t + rng.uniform(0, 2 * np.pi))
    attack = max(1, min(n, int(0.01 * sr)))
    env = np.exp(-3.0 * t / max(t[-1], 1e-3))
    env[:attack] *= np.linspace(0, 1, attack)
    return out * env


def song(seed: int, seconds: float, *, sr: int = 44100) -> np.ndarray:
    """A mono float32 song of `seconds` at `sr`, peak about 0.5, fully determined by `seed`."""
    rng = np.random.default_rng(seed)
    n_total = int(seconds * sr)
    out = np.zeros(n_total)
    bpm = rng.uniform(72, 160)
    beat = int(sr * 60 / bpm)
    # A continuous key and a scale of its own (7 pitches anywhere in the octave):
    # songs built on one shared 12-tone scale at similar tempi share note pairs a
    # fingerprinter rightly finds alike, which real recordings almost never do.
    key = float(rng.uniform(43, 66))
    scale = np.sort(np.concatenate([[0.0], rng.uniform(0.5, 11.5, size=6)]))
    # Each song has its own instruments and drum kit, so songs share no sounds.
    bass_timbre = rng.uniform(0.05, 1.0, size=int(rng.integers(2, 6)))
    lead_timbre = rng.uniform(0.05, 1.0, size=int(rng.integers(3, 9)))
    kick_hz, kick_sweep, kick_decay = (
        rng.uniform(45, 140),
        rng.uniform(100, 600),
        rng.uniform(15, 45),
    )
    snare_hz = rng.uniform(150, 400)
    hat_pattern = rng.random(8) < 0.6
    swing = rng.uniform(0, 0.15)
    progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    # Melody: eighth and quarter notes drawn from the scale around the chord.
    pos = 0
    bar = 0
    while pos < n_total:
        chord_root = progression[bar % len(progression)]
        bar_end = min(n_total, pos + 4 * beat)
        # Bass: root of the chord on every beat.
        for b in range(4):
            start = pos + b * beat
            if start >= n_total:
                break
            n = min(beat, n_total - start)
            out[start : start + n] += 0.35 * _tone(
                float(_note_hz(key - 12 + scale[chord_root % 7])), n, sr, rng, bass_timbre
            )
        # Melody.
        cursor = pos
        while cursor < bar_end:
            length = int(beat * rng.choice([0.25, 0.5, 0.5, 0.75, 1.0, 1.5]))
            n = min(length, n_total - cursor)
            degree = chord_root + int(rng.choice([0, 1, 2, 3, 4, 5, 7, 9]))
            midi = key + 12 + scale[degree % 7] + 12 * (degree // 7)
            out[cursor : cursor + n] += 0.3 * _tone(float(_note_hz(midi)), n, sr, rng, lead_timbre)
            cursor += length
        # Drums: kick on 1 and 3, snare-like noise on 2 and 4, hats on eighths.
        for b in range(8):
            start = pos + b * beat // 2 + (int(swing * beat) if b % 2 else 0)
            if start >= n_total:
                break
            n = min(int(0.08 * sr), n_total - start)
            t = np.arange(n) / sr
            if b % 4 == 0:
                sweep = np.sin(2 * np.pi * (kick_hz - kick_sweep * t) * t)
                out[start : start + n] += 0.6 * sweep * np.exp(-t * kick_decay)
            elif b % 4 == 2:
                body = np.sin(2 * np.pi * snare_hz * t) + rng.standard_normal(n)
                out[start : start + n] += 0.2 * body * np.exp(-t * 40)
            elif hat_pattern[b]:
                out[start : start + n] += 0.06 * rng.standard_normal(n) * np.exp(-t * 90)
        pos = bar_end
        bar += 1
    peak = np.max(np.abs(out)) or 1.0
    return (0.5 * out / peak).astype(np.float32)


def talk(seed: int, seconds: float, *, sr: int = 44100) -> np.ndarray:
    """Speech-like noise: formant-filtered bursts at syllable rate, with pauses."""
    rng = np.random.default_rng(seed)
    n_total = int(seconds * sr)
    out = np.zeros(n_total)
    pos = 0
    while pos < n_total:
        syllable = int(sr * rng.uniform(0.12, 0.3))
        n = min(syllable, n_total - pos)
        t = np.arange(n) / sr
        pitch = rng.uniform(100, 220)
        voice = np.sign(np.sin(2 * np.pi * pitch * t)) * 0.3
        for formant in (rng.uniform(300, 900), rng.uniform(900, 2500)):
            voice += 0.2 * np.sin(2 * np.pi * formant * t)
        out[pos : pos + n] = voice * np.hanning(n)
        pos += n + int(sr * rng.uniform(0.02, 0.25))
    peak = np.max(np.abs(out)) or 1.0
    return (0.4 * out / peak).astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray, *, sr: int = 44100) -> Path:
    """Writes mono float samples as 16-bit PCM WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sr)
        wav.writeframes(pcm.tobytes())
    return path


@dataclass(frozen=True)
class Segment:
    """One item of a programme: its audio and, for catalogue songs, a label to check against."""

    audio: np.ndarray
    label: str | None = None
    crossfade: float = 0.0  # seconds this item overlaps the end of the previous one


@dataclass(frozen=True)
class Aired:
    label: str
    start: float  # seconds from the start of the programme
    end: float


def programme(segments: list[Segment], *, sr: int = 44100) -> tuple[np.ndarray, list[Aired]]:
    """Mixes segments into one broadcast with linear crossfades; returns it and what aired when."""
    total = 0
    starts = []
    for seg in segments:
        start = max(0, total - int(seg.crossfade * sr))
        starts.append(start)
        total = start + seg.audio.size
    out = np.zeros(total, dtype=np.float32)
    aired = []
    for seg, start in zip(segments, starts, strict=True):
        audio = seg.audio.astype(np.float32).copy()
        fade = int(seg.crossfade * sr)
        if fade:
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            audio[:fade] *= ramp
            out[start : start + fade] *= ramp[::-1]
        out[start : start + audio.size] += audio
        if seg.label:
            aired.append(Aired(seg.label, start / sr, (start + audio.size) / sr))
    return np.clip(out, -1.0, 1.0), aired
