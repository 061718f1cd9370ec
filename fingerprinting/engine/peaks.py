"""Spectrogram and spectral peak picking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft

from .spec import FingerprintSpec

# Frames transformed together by log_spectrogram (64 frames of 2048 samples: 0.5 MB),
# and frames searched for maxima together by local_maxima: working sets that stay
# in cache.
_SPECTRUM_BLOCK = 64
_PEAK_BLOCK = 128


@dataclass(frozen=True, slots=True)
class Peaks:
    """Spectral peaks, sorted by time.

    ``time`` is in frames (sub-frame interpolated), ``cell`` is the frequency in
    log-frequency cells above ``spec.fmin_hz`` (sub-bin interpolated), ``strength``
    in dB.
    """

    time: np.ndarray
    cell: np.ndarray
    strength: np.ndarray

    def __len__(self) -> int:
        return int(self.time.size)


def log_spectrogram(samples: np.ndarray, spec: FingerprintSpec) -> np.ndarray:
    """Power spectrogram in dB re full scale, shape (frames, bins in [fmin, fmax])."""
    lo, hi = _band(spec)
    if samples.size < spec.n_fft:
        return np.zeros((0, hi - lo), dtype=np.float32)
    frames = sliding_window_view(samples.astype(np.float32, copy=False), spec.n_fft)[:: spec.hop]
    window = _window(spec.n_fft)
    # A full-scale sine lands near 0 dB whatever n_fft is.
    scale = 4.0 / float(window.sum()) ** 2
    out = np.empty((frames.shape[0], hi - lo), dtype=np.float32)
    # A few dozen frames at a time, so the windowed frames, their spectra and the
    # power stay in cache instead of passing through memory as track-sized
    # temporaries. Every frame sees the same operations in the same order as one
    # whole-track pass, so the values are the same to the bit.
    windowed = np.empty((_SPECTRUM_BLOCK, spec.n_fft), dtype=np.float32)
    for start in range(0, frames.shape[0], _SPECTRUM_BLOCK):
        stop = min(start + _SPECTRUM_BLOCK, frames.shape[0])
        block = windowed[: stop - start]
        np.multiply(frames[start:stop], window, out=block)
        spectrum = sp_fft.rfft(block, axis=1, workers=1, overwrite_x=True)[:, lo:hi]
        power = spectrum.real**2 + spectrum.imag**2
        power *= scale
        power += 1e-12
        np.log10(power, out=power)
        np.multiply(power, 10.0, out=out[start:stop])
    return out


def find_peaks(
    samples: np.ndarray, spec: FingerprintSpec, *, frames: int, bins: int, per_second: int
) -> Peaks:
    """Local maxima of the log spectrogram over a (frames x bins) neighbourhood.

    Peaks must clear ``spec.floor_db``; at most ``per_second`` of the strongest
    survive in each one-second block, so density stays bounded on loud, dense music.
    """
    power = log_spectrogram(samples, spec)
    n_frames, n_bins = power.shape
    if n_frames < 3:
        return Peaks(*(np.zeros(0, np.float32) for _ in range(3)))
    t_idx, f_idx = local_maxima(power, frames, bins, spec.floor_db)
    strength = power[t_idx, f_idx]

    block = max(1, round(spec.sample_rate / spec.hop))
    keep = _strongest_per_block(t_idx // block, strength, per_second)
    t_idx, f_idx, strength = t_idx[keep], f_idx[keep], strength[keep]

    # Parabolic interpolation in time and frequency for sub-cell positions.
    centre = strength
    dt = _parabolic(power[t_idx - 1, f_idx], centre, power[t_idx + 1, f_idx])
    df = _parabolic(power[t_idx, f_idx - 1], centre, power[t_idx, f_idx + 1])
    lo, _ = _band(spec)
    hz = (f_idx + lo + df) * (spec.sample_rate / spec.n_fft)
    cell = spec.cells_per_octave * np.log2(hz / spec.fmin_hz)
    time = t_idx + dt
    order = np.argsort(time, kind="stable")
    return Peaks(
        time=time[order].astype(np.float32),
        cell=cell[order].astype(np.float32),
        strength=strength[order].astype(np.float32),
    )


def local_maxima(
    power: np.ndarray, frames: int, bins: int, floor_db: float
) -> tuple[np.ndarray, np.ndarray]:
    """(frame, bin) indices, row-major, of the cells that equal the maximum of their
    (2 frames + 1) x (2 bins + 1) neighbourhood (clipped at the edges) and clear
    ``floor_db``; never on the first or last frame or bin, which have no neighbours
    for interpolation.

    The cells ``power == maximum_filter(power, size, mode="nearest")`` marks (a clipped
    window has the maximum of an edge-replicated one), a few times faster: the
    maximum over a window is that of two overlapping power-of-two runs, and runs
    double in a few whole-array passes, block by block so the passes stay in cache.
    """
    n_t, n_f = power.shape
    pad = np.full((_PEAK_BLOCK + 2 * frames, n_f + 2 * bins), -np.inf, dtype=np.float32)
    t_parts, f_parts = [], []
    for start in range(0, n_t, _PEAK_BLOCK):
        stop = min(n_t, start + _PEAK_BLOCK)
        # pad row i holds frame start - frames + i; frames outside the track stay -inf.
        first, last = max(0, start - frames), min(n_t, stop + frames)
        rows = pad[: stop - start + 2 * frames]
        if first > start - frames or last < stop + frames:
            rows[:] = -np.inf
        rows[first - start + frames : last - start + frames, bins : bins + n_f] = power[first:last]
        neighbourhood = _window_max(_window_max(rows, 2 * bins + 1, axis=1), 2 * frames + 1, axis=0)
        cells = power[start:stop]
        is_peak = (cells == neighbourhood) & (cells > floor_db)
        t_idx, f_idx = np.nonzero(is_peak[:, 1:-1])
        t_parts.append(t_idx + start)
        f_parts.append(f_idx + 1)
    t_idx = np.concatenate(t_parts)
    f_idx = np.concatenate(f_parts)
    inner = (t_idx > 0) & (t_idx < n_t - 1)
    return t_idx[inner], f_idx[inner]


def _window_max(values: np.ndarray, width: int, *, axis: int) -> np.ndarray:
    """Maximum of every ``width`` consecutive values along ``axis`` (length - width + 1)."""

    def cut(array: np.ndarray, begin: int, size: int) -> np.ndarray:
        return array[(slice(None),) * axis + (slice(begin, begin + size),)]

    run, runs = 1, values
    while run * 2 <= width:
        # runs[i] becomes the maximum of values[i : i + 2 run].
        size = runs.shape[axis] - run
        runs = np.maximum(cut(runs, 0, size), cut(runs, run, size))
        run *= 2
    size = values.shape[axis] - width + 1
    return np.maximum(cut(runs, 0, size), cut(runs, width - run, size))


def _strongest_per_block(block_id: np.ndarray, strength: np.ndarray, limit: int) -> np.ndarray:
    if block_id.size == 0:
        return np.zeros(0, dtype=np.intp)
    # Sort by block, then strongest first; rank inside each block.
    order = np.lexsort((-strength, block_id))
    sorted_blocks = block_id[order]
    starts = np.flatnonzero(np.r_[True, sorted_blocks[1:] != sorted_blocks[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_blocks.size]))
    rank = np.arange(sorted_blocks.size) - run_start
    return np.sort(order[rank < limit])


def _parabolic(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> np.ndarray:
    denominator = left - 2.0 * centre + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = 0.5 * (left - right) / denominator
    shift = np.where(np.isfinite(shift), shift, 0.0)
    return np.clip(shift, -0.5, 0.5)


def _band(spec: FingerprintSpec) -> tuple[int, int]:
    bin_hz = spec.sample_rate / spec.n_fft
    return int(np.floor(spec.fmin_hz / bin_hz)), int(np.ceil(spec.fmax_hz / bin_hz)) + 1


_WINDOWS: dict[int, np.ndarray] = {}


def _window(n_fft: int) -> np.ndarray:
    window = _WINDOWS.get(n_fft)
    if window is None:
        window = np.hanning(n_fft + 2)[1:-1].astype(np.float32)
        _WINDOWS[n_fft] = window
    return window
