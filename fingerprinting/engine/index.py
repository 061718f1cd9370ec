"""In-memory inverted index: sorted numpy arrays from hash to (track, anchor frame).

Every stored hash is one entry of 6 bytes: the hash's low 16 bits (uint16) and
a global position (uint32). Each track owns a contiguous range of positions
starting at its *base*, so ``position - base`` is the anchor frame in the track
and one integer carries both the track and the offset.

Lookups do not binary-search the whole array: a *directory* (the first position
of every top-bits prefix of the hash, at least 2**16 prefixes and one per 4 to 8
entries on a large index) narrows each probe to a bucket of a few entries, and
the hashes being xxh32 output, buckets are even. On a 91 M-entry index that is
two reads from memory per probe (the directory, then the bucket's keys, usually
one cache line) instead of 27 cache misses. The
prefix is at least the top 16 bits, so within a bucket the low 16 bits hold the
rest of the hash: the entries store only those, and the full hash is the
bucket's prefix joined to them (25 % less memory than whole hashes).

Adds go to a small sorted *delta* that lookups search too; it is merged into the
main arrays (a linear merge, not a re-sort) once it grows past a fraction of
them. Removes only mark the track's slot dead (a tombstone): its entries are
skipped by lookups and dropped at the next compaction.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from . import kernels
from .errors import FormatError
from .fingerprint import Fingerprint
from .spec import FINGERPRINT_VERSION

_SNAPSHOT_MAGIC = b"ZAMIO-FP-INDEX\n"
_MAX_POSITION = np.iinfo(np.uint32).max
# Positions between tracks left unused, so a tolerance window never spans two tracks.
_GAP = 64
# Position blocks of the slot table (2**6 = 64 <= _GAP: one block never holds two bases).
_BLOCK_BITS = 6
# Entries per directory bucket, at least (a large index has 1 to 2 times this; the
# directory costs 4 / this bytes per entry, or less). A bucket of 4-8 two-byte keys
# usually sits in one cache line, where one of 32-64 (this was 32) took two or three:
# the 10,000-track layout model's lookup+scoring in 0.83 x the time for 1.10 x the
# memory (578 -> 637 MB); 8 gave 0.87 x (603 MB). bench/README.md.
_ENTRIES_PER_BUCKET = 4
# The directory's prefix is never shorter than this, so entries keep 16 bits of hash.
_MIN_PREFIX_BITS = 16
# Snapshot arrays: low 16 bits of each hash, the directory, positions.
_LAYOUT = "keys16"


class Index:
    """Hash index over fingerprints of one ``FINGERPRINT_VERSION``."""

    def __init__(self, *, bucket_cap: int = 4096, delta_ratio: float = 0.1) -> None:
        # Hashes with more entries than this are skipped at lookup: they say
        # almost nothing about which track is playing and cost the most time.
        self.bucket_cap = bucket_cap
        self.delta_ratio = delta_ratio
        self._set_main(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32))
        self._set_delta(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32))
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        # Per slot, in base order.
        self._bases = np.zeros(0, dtype=np.int64)
        self._track_ids = np.zeros(0, dtype=np.int64)
        self._durations = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=bool)
        self._slot_of: dict[int, int] = {}
        self._next_base = 0
        self._dead_tracks = 0
        # Slot of every 2**_BLOCK_BITS positions, built on first use after a change.
        self._blocks: np.ndarray | None = None

    # -- catalogue changes ------------------------------------------------------------

    def add(self, track_id: int, fp: Fingerprint | bytes) -> None:
        """Index ``fp`` under ``track_id``, replacing what that id had before."""
        if not isinstance(fp, Fingerprint):
            fp = Fingerprint.from_bytes(fp)
        if fp.version != FINGERPRINT_VERSION:
            raise FormatError(
                f"fingerprint version {fp.version} in an index of {FINGERPRINT_VERSION}"
            )
        track_id = int(track_id)
        if track_id in self._slot_of:
            self.remove(track_id)
        span = int(fp.offsets.max()) + 1 if fp.offsets.size else 1
        if self._next_base + span + _GAP > _MAX_POSITION:
            self._compact()
            if self._next_base + span + _GAP > _MAX_POSITION:
                raise OverflowError("index position space exhausted")
        base = self._next_base
        self._next_base += span + _GAP
        self._slot_of[track_id] = self._bases.size
        self._bases = np.append(self._bases, base)
        self._blocks = None
        self._track_ids = np.append(self._track_ids, track_id)
        self._durations = np.append(self._durations, fp.duration)
        self._alive = np.append(self._alive, True)
        if fp.hashes.size:
            positions = (fp.offsets.astype(np.int64) + base).astype(np.uint32)
            self._pending.append((fp.hashes.astype(np.uint32), positions))

    def add_many(self, items: Iterable[tuple[int, Fingerprint | bytes]]) -> None:
        """Add many tracks, merging once at the end (what a worker does at start)."""
        for track_id, fp in items:
            self.add(track_id, fp)
        self._flush(force=True)

    def flush(self) -> None:
        """Sorts the tracks added since the last lookup into the index now, as that lookup
        would first, and builds the table of which track owns which positions: a process
        that will fork its matchers does both once, before they inherit the arrays,
        rather than each of them making its own copy."""
        self._flush()
        self._block_table()

    def remove(self, track_id: int) -> bool:
        """Forget ``track_id``; returns whether it was indexed."""
        slot = self._slot_of.pop(int(track_id), None)
        if slot is None:
            return False
        self._alive[slot] = False
        self._dead_tracks += 1
        return True

    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, int | np.integer) and int(track_id) in self._slot_of

    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._slot_of)

    @property
    def entries(self) -> int:
        self._flush()
        return int(self._keys.size + self._delta_keys.size)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (entries and per-track tables)."""
        self._flush()
        arrays = (
            self._keys,
            self._positions,
            self._delta_keys,
            self._delta_positions,
            self._directory,
            self._delta_directory,
            self._bases,
            self._track_ids,
            self._durations,
            self._alive,
        )
        blocks = self._blocks.nbytes if self._blocks is not None else 0
        return int(sum(a.nbytes for a in arrays)) + blocks

    @property
    def indexed_seconds(self) -> float:
        return float(self._durations[self._alive].sum())

    # -- lookups ----------------------------------------------------------------------

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entries for each probe hash: (probe index, global position), dead tracks removed.

        A probe whose hash has more than ``bucket_cap`` entries in all returns none.
        """
        parts, size = self._ranges(hashes)
        probe = np.empty(size, dtype=np.int64)
        position = np.empty(size, dtype=np.int64)
        filled = 0
        for values, lo, count, use in parts:
            filled = kernels.gather_entries(
                values, lo, count, use, np.arange(lo.size), probe, position, filled
            )
        if self._dead_tracks:
            keep = self._alive[self.slot_of_positions(position)]
            probe, position = probe[keep], position[keep]
        return probe, position

    def candidates(
        self, hashes: np.ndarray, anchor_time: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``lookup``'s entries as the matcher votes on them: (slot, anchor frame in the
        track, the probe's ``anchor_time``, global position) arrays, in ``lookup``'s
        order, gathered by one kernel instead of numpy passes over every entry."""
        parts, size = self._ranges(hashes)
        out = (
            np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.float64),
            np.empty(size, dtype=np.int64),
        )
        anchor_time = np.ascontiguousarray(anchor_time, dtype=np.float64)
        blocks = self._block_table()
        filled = 0
        for values, lo, count, use in parts:
            filled = kernels.gather_candidates(
                values, lo, count, use, anchor_time, self._bases, blocks, _BLOCK_BITS,
                self._alive, out, filled,
            )  # fmt: skip
        slot, local, q_time, position = (a[:filled] for a in out)
        return slot, local, q_time, position

    def _ranges(self, hashes: np.ndarray) -> tuple[list[tuple], int]:
        """Per part of the index (the main arrays, and the delta unless it is empty):
        its positions and, per probe, where its run of entries starts, how long it is
        and whether it is wanted (the bucket cap); and how many entries are wanted."""
        self._flush()
        hashes = np.ascontiguousarray(hashes, dtype=np.uint32)
        parts = [(self._keys, self._positions, self._directory, self._directory_shift)]
        if self._delta_keys.size:  # (empty until a track is added after the last merge)
            parts.append(
                (
                    self._delta_keys,
                    self._delta_positions,
                    self._delta_directory,
                    self._delta_directory_shift,
                )
            )
        ranges = []
        total = np.zeros(hashes.size, dtype=np.int64)
        for keys, _, directory, shift in parts:
            lo = np.empty(hashes.size, dtype=np.int64)
            count = np.empty(hashes.size, dtype=np.int64)
            kernels.bucket_ranges(keys, directory, shift, hashes, lo, count)
            ranges.append((lo, count))
            total += count
        use = total <= self.bucket_cap
        wanted = [
            (values, lo, count, use)
            for (_, values, _, _), (lo, count) in zip(parts, ranges, strict=True)
        ]
        return wanted, int(total[use].sum())

    def _block_table(self) -> np.ndarray:
        """The slot of every 2**_BLOCK_BITS positions (see ``kernels.slots_of``)."""
        if self._blocks is None:
            starts = np.arange(0, self._next_base + 1, 1 << _BLOCK_BITS, dtype=np.int64)
            self._blocks = np.maximum(
                np.searchsorted(self._bases, starts, side="right") - 1, 0
            ).astype(np.int32)
        return self._blocks

    def slot_of_positions(self, positions: np.ndarray) -> np.ndarray:
        """The slot (row of the per-track tables) owning each global position."""
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        out = np.empty(positions.size, dtype=np.int64)
        if positions.size:
            kernels.slots_of(positions, self._bases, self._block_table(), _BLOCK_BITS, out)
        return out

    def slot_base(self, slots: np.ndarray) -> np.ndarray:
        return self._bases[slots]

    def slot_track_id(self, slot: int) -> int:
        return int(self._track_ids[slot])

    def slot_duration(self, slot: int) -> float:
        return float(self._durations[slot])

    # -- merging ----------------------------------------------------------------------

    def _set_main(self, hashes: np.ndarray, positions: np.ndarray) -> None:
        """The main arrays from sorted whole hashes: directory, low 16 bits, positions."""
        self._directory, self._directory_shift = _directory(hashes)
        self._keys, self._positions = _low_bits(hashes), positions

    def _set_delta(self, hashes: np.ndarray, positions: np.ndarray) -> None:
        """The delta arrays from sorted whole hashes, as ``_set_main``."""
        self._delta_directory, self._delta_directory_shift = _directory(hashes)
        self._delta_keys, self._delta_positions = _low_bits(hashes), positions

    def _main_hashes(self) -> np.ndarray:
        return _whole_hashes(self._keys, self._directory, self._directory_shift)

    def _delta_hashes(self) -> np.ndarray:
        return _whole_hashes(self._delta_keys, self._delta_directory, self._delta_directory_shift)

    def _flush(self, *, force: bool = False) -> None:
        if self._pending:
            hashes = np.concatenate([self._delta_hashes(), *(h for h, _ in self._pending)])
            positions = np.concatenate([self._delta_positions, *(p for _, p in self._pending)])
            self._pending.clear()
            order = np.argsort(hashes, kind="stable")
            self._set_delta(hashes[order], positions[order])
        if self._delta_keys.size and (
            force or self._delta_keys.size > self.delta_ratio * max(self._keys.size, 1 << 16)
        ):
            self._merge_delta()
        if self._dead_tracks and (force or self._dead_tracks * 4 > max(len(self._alive), 16)):
            self._compact()

    def _merge_delta(self) -> None:
        main_h, main_p = self._main_hashes(), self._positions
        delta_h, delta_p = self._delta_hashes(), self._delta_positions
        # Linear merge of two sorted arrays: where each delta entry lands.
        at = np.searchsorted(main_h, delta_h, side="right") + np.arange(delta_h.size)
        size = main_h.size + delta_h.size
        is_delta = np.zeros(size, dtype=bool)
        is_delta[at] = True
        hashes = np.empty(size, dtype=np.uint32)
        positions = np.empty(size, dtype=np.uint32)
        hashes[at], positions[at] = delta_h, delta_p
        hashes[~is_delta], positions[~is_delta] = main_h, main_p
        self._set_main(hashes, positions)
        self._set_delta(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32))

    def _compact(self) -> None:
        """Drop dead tracks' entries and re-pack the live tracks' positions from 0."""
        self._merge_delta()
        slots = self.slot_of_positions(self._positions.astype(np.int64))
        keep = self._alive[slots] if self._alive.size else np.zeros(0, dtype=bool)
        live = np.flatnonzero(self._alive)
        spans = np.diff(np.append(self._bases, self._next_base))[live]
        new_bases = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
        remap = np.full(self._alive.size, -1, dtype=np.int64)
        remap[live] = np.arange(live.size)
        old_slots = slots[keep]
        new_positions = (
            self._positions[keep].astype(np.int64)
            - self._bases[old_slots]
            + new_bases[remap[old_slots]]
        )
        self._set_main(self._main_hashes()[keep], new_positions.astype(np.uint32))
        self._bases = new_bases
        self._blocks = None
        self._track_ids = self._track_ids[live]
        self._durations = self._durations[live]
        self._alive = np.ones(live.size, dtype=bool)
        self._slot_of = {int(t): i for i, t in enumerate(self._track_ids)}
        self._next_base = int(spans.sum())
        self._dead_tracks = 0

    # -- snapshots --------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a snapshot file atomically: a JSON header line, then .npy records."""
        self._flush(force=True)
        path = Path(path)
        arrays = {
            "keys": self._keys,
            "directory": self._directory,
            "positions": self._positions,
            "bases": self._bases,
            "track_ids": self._track_ids,
            "durations": self._durations,
        }
        meta = {
            "version": FINGERPRINT_VERSION,
            "layout": _LAYOUT,
            "directory_shift": self._directory_shift,
            "next_base": self._next_base,
            "bucket_cap": self.bucket_cap,
            "arrays": list(arrays),
        }
        fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_SNAPSHOT_MAGIC)
                handle.write(json.dumps(meta).encode() + b"\n")
                for array in arrays.values():
                    np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = True) -> Index:
        """Read a snapshot; with ``mmap`` the big arrays are mapped, not copied."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {}
        with path.open("rb") as handle:
            if handle.readline() != _SNAPSHOT_MAGIC:
                raise FormatError(f"{path}: not a fingerprint index snapshot")
            meta = json.loads(handle.readline())
            if meta.get("version") != FINGERPRINT_VERSION:
                raise FormatError(
                    f"{path}: snapshot of version {meta.get('version')}, "
                    f"this engine reads {FINGERPRINT_VERSION}"
                )
            if meta.get("layout") != _LAYOUT:
                raise FormatError(
                    f"{path}: snapshot layout {meta.get('layout')!r}, this engine reads {_LAYOUT!r}"
                )
            for name in meta["arrays"]:
                major, _ = np.lib.format.read_magic(handle)
                if major != 1:
                    raise FormatError(f"{path}: unsupported .npy record version {major}")
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
                start = handle.tell()
                count = int(np.prod(shape))
                if mmap and count:
                    arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=start, shape=shape)
                else:
                    arrays[name] = np.fromfile(handle, dtype=dtype, count=count).reshape(shape)
                handle.seek(start + count * dtype.itemsize)
        index = cls(bucket_cap=int(meta["bucket_cap"]))
        index._keys, index._positions = arrays["keys"], arrays["positions"]
        index._directory = arrays["directory"]
        index._directory_shift = int(meta["directory_shift"])
        index._bases = np.array(arrays["bases"], dtype=np.int64)
        index._track_ids = np.array(arrays["track_ids"], dtype=np.int64)
        index._durations = np.array(arrays["durations"], dtype=np.float64)
        index._alive = np.ones(index._bases.size, dtype=bool)
        index._slot_of = {int(t): i for i, t in enumerate(index._track_ids)}
        index._next_base = int(meta["next_base"])
        return index


def _directory(hashes: np.ndarray) -> tuple[np.ndarray, int]:
    """First position of each ``hash >> shift`` prefix in sorted ``hashes`` (plus the end).

    ``shift`` leaves about ``_ENTRIES_PER_BUCKET`` entries per prefix, and at most 16
    bits below the prefix (which the entries keep).
    """
    bits = max(_MIN_PREFIX_BITS, int(hashes.size // _ENTRIES_PER_BUCKET).bit_length() - 1)
    if hashes.size == 0:
        bits = 0  # nothing to find: one empty bucket instead of 2**16
    shift = 32 - bits
    counts = np.bincount(np.asarray(hashes).astype(np.int64) >> shift, minlength=1 << bits)
    directory = np.zeros((1 << bits) + 1, dtype=np.int64)
    np.cumsum(counts, out=directory[1:])
    # Positions are uint32, so an index never holds more entries than uint32 counts.
    return directory.astype(np.uint32), shift


def _low_bits(hashes: np.ndarray) -> np.ndarray:
    return (np.asarray(hashes, dtype=np.uint32) & 0xFFFF).astype(np.uint16)


def _whole_hashes(keys: np.ndarray, directory: np.ndarray, shift: int) -> np.ndarray:
    """The whole hashes of sorted entries: each bucket's prefix joined to the low bits
    (where the two overlap, with a prefix longer than 16 bits, their bits agree)."""
    counts = np.diff(directory.astype(np.int64))
    prefix = np.repeat(np.arange(counts.size, dtype=np.uint32), counts)
    return (prefix << np.uint32(shift)) | keys.astype(np.uint32)
