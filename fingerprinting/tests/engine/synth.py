"""Seeded synthetic "music" for the engine tests: different seeds are different songs."""

from __future__ import annotations

import numpy as np
from scipy.signal import resample_poly

SCALES = ([0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 3, 5, 7, 10])


def song(seed: int, seconds: float, rate: int = 44100) -> np.ndarray:
    """Melody and bass from random notes (harmonics, decaying envelopes) over a drum pattern."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n, dtype=np.float64)
    beat = 60.0 / rng.uniform(85, 140)
    scale = SCALES[seed % len(SCALES)]
    root = int(rng.integers(45, 58))
    for voice, (octave, loudness) in enumerate(((12, 0.25), (0, 0.3), (-12, 0.35))):
        t = 0.0
        while t < seconds:
            length = beat * float(rng.choice([0.5, 1.0, 1.0, 2.0] if voice < 2 else [1.0, 2.0]))
            degree = int(rng.integers(0, len(scale) * 2))
            midi = root + octave + scale[degree % len(scale)] + 12 * (degree // len(scale))
            _note(out, rate, t, length, 440.0 * 2 ** ((midi - 69) / 12), loudness, rng)
            t += length
    hits = rng.random(64) < 0.6
    step = 0
    t = 0.0
    while t < seconds:
        if hits[step % 64] or step % 4 == 0:
            _drum(out, rate, t, heavy=step % 4 == 0, rng=rng)
        t += beat / 2
        step += 1
    out /= np.max(np.abs(out)) + 1e-9
    return (0.8 * out).astype(np.float32)


def _note(out, rate, start, length, freq, loudness, rng) -> None:
    a = int(start * rate)
    b = min(out.size, a + int(length * rate))
    if b <= a:
        return
    t = np.arange(b - a) / rate
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / (0.3 * length + 0.05))
    tone = np.zeros_like(t)
    for harmonic in range(1, 6):
        if freq * harmonic > 7000:
            break
        tone += rng.uniform(0.2, 1.0) / harmonic * np.sin(2 * np.pi * freq * harmonic * t)
    out[a:b] += loudness * envelope * tone


def _drum(out, rate, start, *, heavy, rng) -> None:
    a = int(start * rate)
    b = min(out.size, a + int(0.15 * rate))
    if b <= a:
        return
    t = np.arange(b - a) / rate
    burst = rng.standard_normal(t.size) * np.exp(-t / 0.03) * (0.3 if heavy else 0.15)
    if heavy:
        burst += 0.6 * np.sin(2 * np.pi * (60 + 90 * np.exp(-t / 0.02)) * t) * np.exp(-t / 0.08)
    out[a:b] += burst


def to_44k1(samples_48k: np.ndarray) -> np.ndarray:
    """A 44.1 kHz copy of 48 kHz audio (what a broadcast chain does)."""
    return resample_poly(samples_48k, 147, 160).astype(np.float32)


def faster(samples: np.ndarray, percent: int) -> np.ndarray:
    """Played ``percent`` % fast (resampled: pitch and tempo together); 1 or 2 %."""
    up, down = {1: (100, 101), 2: (50, 51)}[percent]
    return resample_poly(samples, up, down).astype(np.float32)
