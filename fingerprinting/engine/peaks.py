"""Spectrogram and spectral peak picking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy.ndimage import maximum_filter

from .spec import FingerprintSpec


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
    spectrum = sp_fft.rfft(frames * window, axis=1, workers=1)[:, lo:hi]
    power = spectrum.real**2 + spectrum.imag**2
    # A full-scale sine lands near 0 dB whatever n_fft is.
    power *= 4.0 / float(window.sum()) ** 2
    return (10.0 * np.log10(power + 1e-12)).astype(np.float32)


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
    neighbourhood = maximum_filter(power, size=(2 * frames + 1, 2 * bins + 1), mode="nearest")
    is_peak = (power == neighbourhood) & (power > spec.floor_db)
    # Edge rows/columns have no neighbours for interpolation.
    is_peak[0, :] = is_peak[-1, :] = False
    is_peak[:, 0] = is_peak[:, -1] = False
    t_idx, f_idx = np.nonzero(is_peak)
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
