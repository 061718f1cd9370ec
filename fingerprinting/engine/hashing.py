"""Landmark triplets and their integer hashes.

A triplet is an anchor peak and two later targets (b before c) in its target zone.
It is described by five quantised numbers, three of which do not change with
playback speed (pitch and tempo together):

- the log-frequency intervals anchor→b and anchor→c,
- where b falls between anchor and c in time (the ratio of the two time gaps),

and two that move by at most 2 % at ±2 % speed and are therefore coarse:

- the anchor's log-frequency band,
- the time span anchor→c on a logarithmic scale.

The key (≈27 bits of layout) is hashed with xxh32 (seeded with the version). A
query probes the neighbouring cell of a value near a cell edge (of every value but
interval c, whose probes found almost nothing: see ``spec.probe_margins``), so a
speed change never drops a triplet on quantisation alone and peak jitter seldom
does, and the query needs no trial-speed hashing at all: the speed is found when
votes are counted.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import kernels
from .peaks import Peaks
from .spec import FingerprintSpec

_P1, _P2, _P3, _P4, _P5 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1
_MASK = 0xFFFFFFFF


def xxh32_u32(keys: np.ndarray, seed: int) -> np.ndarray:
    """xxh32 of each key's 4 little-endian bytes (the reference algorithm, vectorised)."""
    h = np.asarray(keys, dtype=np.uint64) * np.uint64(_P3)
    h = (h + np.uint64((seed + _P5 + 4) & _MASK)) & np.uint64(_MASK)
    h = ((h << np.uint64(17)) | (h >> np.uint64(15))) & np.uint64(_MASK)
    h = (h * np.uint64(_P4)) & np.uint64(_MASK)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(_P2)) & np.uint64(_MASK)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(_P3)) & np.uint64(_MASK)
    h ^= h >> np.uint64(16)
    return h.astype(np.uint32)


@functools.cache
def layout(spec: FingerprintSpec) -> tuple[int, int, int, int, int]:
    """Sizes of the five key fields: anchor band, interval b, interval c, ratio, span."""
    octaves = math.log2(spec.fmax_hz / spec.fmin_hz) + math.log2(1.0 + spec.max_speed_change)
    n_band = int(math.ceil(octaves * spec.anchor_bands_per_octave)) + 2
    n_interval = 2 * int(math.ceil(spec.max_octaves * spec.interval_cells_per_octave)) + 3
    n_ratio = spec.ratio_cells
    n_span = int(math.ceil(_log_span(spec.max_dt * (1.0 + spec.max_speed_change), spec))) + 2
    return n_band, n_interval, n_interval, n_ratio, n_span


def key_bits(spec: FingerprintSpec) -> float:
    """log2 of the number of possible keys (the hash's layout entropy, an upper bound)."""
    return math.log2(math.prod(layout(spec)))


def _log_span(frames, spec: FingerprintSpec):
    return np.log(np.maximum(frames, 1e-9) / spec.min_span) / math.log(spec.span_cell_ratio)


def zone_pairs(
    peaks: Peaks, spec: FingerprintSpec, *, max_dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor, target) indices of every pair in the target zone.

    Targets come after the anchor, within ``max_dt`` frames and ``spec.max_octaves``.
    """
    n = len(peaks)
    max_interval = spec.max_octaves * spec.cells_per_octave
    anchors: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    alive = np.arange(n)
    step = 1
    while alive.size and step < n:
        alive = alive[alive + step < n]
        other = alive + step
        dt = peaks.time[other] - peaks.time[alive]
        in_time = dt <= max_dt
        alive, other, dt = alive[in_time], other[in_time], dt[in_time]
        ok = (dt >= spec.min_dt) & (np.abs(peaks.cell[other] - peaks.cell[alive]) <= max_interval)
        anchors.append(alive[ok])
        targets.append(other[ok])
        step += 1
    if not anchors:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    return np.concatenate(anchors), np.concatenate(targets)


def triplets(
    peaks: Peaks, spec: FingerprintSpec, *, fan_out: int, max_dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(anchor, b, c) indices: every two of each anchor's ``fan_out`` strongest targets.

    Strongest, not nearest: noise and speech add weak peaks between the music's
    strong ones, which shifts a nearest-in-time ranking but rarely a strength one.
    """
    a, t = zone_pairs(peaks, spec, max_dt=max_dt)
    if a.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty
    order = np.lexsort((-peaks.strength[t], a))
    a, t = a[order], t[order]
    starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
    rank = np.arange(a.size) - np.repeat(starts, np.diff(np.r_[starts, a.size]))
    keep = rank < fan_out
    a, t, rank = a[keep], t[keep], rank[keep]
    table = np.full((len(peaks), fan_out), -1, dtype=np.intp)
    table[a, rank] = t
    out_a, out_b, out_c = [], [], []
    for i in range(fan_out):
        for j in range(i + 1, fan_out):
            ok = (table[:, i] >= 0) & (table[:, j] >= 0)
            anchor = np.flatnonzero(ok)
            first, second = table[anchor, i], table[anchor, j]
            # b is the earlier target (peaks are sorted by time).
            out_a.append(anchor)
            out_b.append(np.minimum(first, second))
            out_c.append(np.maximum(first, second))
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_c)


def _features(peaks: Peaks, a, b, c, spec: FingerprintSpec) -> list[tuple[np.ndarray, int]]:
    """The five continuous key values (in cell units) with each field's probe pad."""
    scale = spec.interval_cells_per_octave / spec.cells_per_octave
    n_band, n_interval, _, n_ratio, _ = layout(spec)
    octave = peaks.cell[a].astype(np.float64) / spec.cells_per_octave
    band = octave * spec.anchor_bands_per_octave
    interval_b = (peaks.cell[b] - peaks.cell[a]).astype(np.float64) * scale
    interval_c = (peaks.cell[c] - peaks.cell[a]).astype(np.float64) * scale
    gap_b = (peaks.time[b] - peaks.time[a]).astype(np.float64)
    span = (peaks.time[c] - peaks.time[a]).astype(np.float64)
    ratio = np.clip(gap_b / np.maximum(span, 1e-9), 0.0, 0.999999) * n_ratio
    return [
        (band, 1),
        (interval_b, n_interval // 2),
        (interval_c, n_interval // 2),
        (ratio, 0),
        (_log_span(span, spec), 1),
    ]


def _pack(cells: list[np.ndarray], spec: FingerprintSpec) -> np.ndarray:
    """Pack five cell indices into one key; -1 where any is out of range."""
    sizes = layout(spec)
    key = np.zeros(cells[0].shape, dtype=np.int64)
    ok = np.ones(cells[0].shape, dtype=bool)
    for value, size in zip(cells, sizes, strict=True):
        ok &= (value >= 0) & (value < size)
        key = key * size + value
    return np.where(ok, key, -1)


def reference_hashes(peaks: Peaks, spec: FingerprintSpec) -> tuple[np.ndarray, np.ndarray]:
    """Hashes and anchor frames of a stored track (one key per triplet), sorted by offset."""
    a, b, c = triplets(peaks, spec, fan_out=spec.fan_out, max_dt=spec.max_dt)
    cells = [np.floor(v).astype(np.int64) + pad for v, pad in _features(peaks, a, b, c, spec)]
    key = _pack(cells, spec)
    valid = key >= 0
    hashes = xxh32_u32(key[valid], spec.version)
    offsets = np.maximum(np.rint(peaks.time[a][valid]), 0).astype(np.uint32)
    order = np.lexsort((hashes, offsets))
    return hashes[order], offsets[order]


def query_hashes(peaks: Peaks, spec: FingerprintSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of a query, probing the neighbouring cell of values near a cell edge.

    Returns (hashes, anchor time in query frames, triplet index).
    """
    max_dt = spec.max_dt * (1.0 + spec.max_speed_change)
    a, b, c = triplets(peaks, spec, fan_out=spec.query_fan_out, max_dt=max_dt)
    if a.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty.astype(np.uint32), empty.astype(np.float64), empty
    fields = []
    features = _features(peaks, a, b, c, spec)
    for (values, pad), margin in zip(features, spec.probe_margins, strict=True):
        cell = np.floor(values)
        frac = values - cell
        low, high = frac < margin, frac > 1.0 - margin
        alt = np.where(low, cell - 1, cell + 1)
        fields.append((cell.astype(np.int64) + pad, alt.astype(np.int64) + pad, low | high))
    anchor_t = peaks.time[a].astype(np.float64)
    key, ids = kernels.probe_keys(
        np.array([f[0] for f in fields]),
        np.array([f[1] for f in fields]),
        np.array([f[2] for f in fields]),
        np.array(layout(spec), dtype=np.int64),
    )
    return xxh32_u32(key, spec.version), anchor_t[ids], ids
