"""Landmark pairs and their integer hashes.

A pair (anchor, target) is described by three quantised numbers: the anchor's
log-frequency cell, the log-frequency interval to the target (the same at every
playback speed) and the time from anchor to target in frames. These form a key
that xxhash turns into a uniformly spread 32-bit hash (seeded by the version).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import xxhash

from .peaks import Peaks
from .spec import FingerprintSpec


@functools.cache
def _layout(spec: FingerprintSpec) -> tuple[int, int, int]:
    """Sizes of the three key fields (anchor cells, interval cells, dt cells)."""
    span = spec.cells_per_octave * math.log2(spec.fmax_hz / spec.fmin_hz)
    slack = spec.cells_per_octave * math.log2(max(spec.speeds) / min(spec.speeds))
    n_anchor = int(math.ceil(span + slack)) + 4
    n_interval = 2 * int(math.ceil(spec.max_octaves * spec.cells_per_octave)) + 3
    n_dt = int(math.ceil(spec.max_dt / spec.dt_cell)) + 3
    return n_anchor, n_interval, n_dt


@functools.cache
def _hash_table(spec: FingerprintSpec) -> np.ndarray:
    """xxh32 of every possible key, computed once per spec so hashing is a table lookup."""
    n_anchor, n_interval, n_dt = _layout(spec)
    size = n_anchor * n_interval * n_dt
    seed = spec.version
    digest = xxhash.xxh32_intdigest
    table = np.fromiter(
        (digest(key.to_bytes(4, "little"), seed) for key in range(size)),
        dtype=np.uint32,
        count=size,
    )
    table.setflags(write=False)
    return table


def pairs(
    peaks: Peaks, spec: FingerprintSpec, *, fan_out: int | None, max_dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (anchor, target) of peak pairs in the target zone.

    Targets come after the anchor, within ``max_dt`` frames and
    ``spec.max_octaves``; with ``fan_out`` only the nearest ones in time are kept.
    """
    n = len(peaks)
    max_interval = spec.max_octaves * spec.cells_per_octave
    anchors: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    taken = np.zeros(n, dtype=np.int32)
    alive = np.arange(n)
    step = 1
    while alive.size and step < n:
        alive = alive[alive + step < n]
        other = alive + step
        dt = peaks.time[other] - peaks.time[alive]
        in_time = dt <= max_dt
        alive, other, dt = alive[in_time], other[in_time], dt[in_time]
        ok = (dt >= spec.min_dt) & (np.abs(peaks.cell[other] - peaks.cell[alive]) <= max_interval)
        if fan_out is not None:
            ok &= taken[alive] < fan_out
        anchors.append(alive[ok])
        targets.append(other[ok])
        taken[alive[ok]] += 1
        if fan_out is not None:
            alive = alive[taken[alive] < fan_out]
        step += 1
    if not anchors:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    return np.concatenate(anchors), np.concatenate(targets)


def reference_hashes(peaks: Peaks, spec: FingerprintSpec) -> tuple[np.ndarray, np.ndarray]:
    """Hashes and anchor frames of a stored track (speed 1, one key per pair)."""
    a, b = pairs(peaks, spec, fan_out=spec.fan_out, max_dt=spec.max_dt)
    anchor = peaks.cell[a]
    interval = peaks.cell[b] - anchor
    dt = (peaks.time[b] - peaks.time[a]) / spec.dt_cell
    n_anchor, n_interval, n_dt = _layout(spec)
    key = _pack(
        np.floor(anchor).astype(np.int64) + _anchor_pad(spec),
        np.floor(interval).astype(np.int64) + n_interval // 2,
        np.floor(dt).astype(np.int64),
        spec,
    )
    valid = key >= 0
    hashes = _hash_table(spec)[key[valid]]
    offsets = np.rint(peaks.time[a][valid]).astype(np.int64)
    offsets = np.maximum(offsets, 0).astype(np.uint32)
    order = np.lexsort((hashes, offsets))
    return hashes[order], offsets[order]


def query_hashes(
    peaks: Peaks, spec: FingerprintSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of a query at every trial speed, with multi-probing near cell edges.

    Returns (hashes, anchor time in reference frames, speed index, pair index).
    """
    a, b = pairs(peaks, spec, fan_out=None, max_dt=spec.max_dt / min(spec.speeds))
    if a.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty.astype(np.uint32), empty.astype(np.float64), empty, empty
    speeds = np.asarray(spec.speeds, dtype=np.float64)
    n_speeds = speeds.size
    pair_id = np.arange(a.size)
    # Shapes (pairs, speeds): a peak at query time t and frequency f came from
    # reference time t*s and frequency f/s.
    anchor = peaks.cell[a][:, None] - spec.cells_per_octave * np.log2(speeds)[None, :]
    interval = np.broadcast_to((peaks.cell[b] - peaks.cell[a])[:, None], anchor.shape)
    dt = ((peaks.time[b] - peaks.time[a])[:, None] * speeds[None, :]) / spec.dt_cell
    in_zone = (dt >= spec.min_dt / spec.dt_cell) & (dt <= spec.max_dt / spec.dt_cell)
    anchor_t = peaks.time[a][:, None] * speeds[None, :]
    speed_idx = np.broadcast_to(np.arange(n_speeds)[None, :], anchor.shape)
    pid = np.broadcast_to(pair_id[:, None], anchor.shape)

    anchor, interval, dt = anchor[in_zone], interval[in_zone], dt[in_zone]
    anchor_t, speed_idx, pid = anchor_t[in_zone], speed_idx[in_zone], pid[in_zone]

    n_anchor, n_interval, n_dt = _layout(spec)
    fields = []
    for values, pad in (
        (anchor, _anchor_pad(spec)),
        (interval, n_interval // 2),
        (dt, 0),
    ):
        cell = np.floor(values)
        frac = values - cell
        alt = np.where(frac < spec.probe_margin, cell - 1, cell + 1)
        has_alt = (frac < spec.probe_margin) | (frac > 1.0 - spec.probe_margin)
        fields.append((cell.astype(np.int64) + pad, alt.astype(np.int64) + pad, has_alt))

    keys, times, sidx, pids = [], [], [], []
    for mask in range(8):
        chosen = []
        use = np.ones(anchor.size, dtype=bool)
        for bit, (cell, alt, has_alt) in enumerate(fields):
            if mask >> bit & 1:
                use &= has_alt
                chosen.append(alt)
            else:
                chosen.append(cell)
        if not use.any():
            continue
        key = _pack(chosen[0][use], chosen[1][use], chosen[2][use], spec)
        ok = key >= 0
        keys.append(key[ok])
        times.append(anchor_t[use][ok])
        sidx.append(speed_idx[use][ok])
        pids.append(pid[use][ok])
    key = np.concatenate(keys)
    return (
        _hash_table(spec)[key],
        np.concatenate(times),
        np.concatenate(sidx).astype(np.int64),
        np.concatenate(pids).astype(np.int64),
    )


def _anchor_pad(spec: FingerprintSpec) -> int:
    return int(math.ceil(spec.cells_per_octave * math.log2(max(spec.speeds)))) + 2


def _pack(anchor: np.ndarray, interval: np.ndarray, dt: np.ndarray, spec: FingerprintSpec):
    """Pack three cell indices into one key; -1 where any is out of range."""
    n_anchor, n_interval, n_dt = _layout(spec)
    ok = (
        (anchor >= 0)
        & (anchor < n_anchor)
        & (interval >= 0)
        & (interval < n_interval)
        & (dt >= 0)
        & (dt < n_dt)
    )
    key = (anchor * n_interval + interval) * n_dt + dt
    return np.where(ok, key, -1)
