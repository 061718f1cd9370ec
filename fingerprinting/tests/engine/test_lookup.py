"""The index's compiled lookup and the matcher's shortlist against plain references."""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import product

import numpy as np
import pytest

from fingerprinting.engine import SPEC, Fingerprint, Index, Matcher, decode, fingerprint, kernels
from fingerprinting.engine.hashing import _features, layout, query_hashes, triplets, xxh32_u32
from fingerprinting.engine.peaks import find_peaks

from .synth import faster, song

RATE = 44100


def random_print(rng: np.random.Generator, entries: int, keys: int) -> Fingerprint:
    """A fingerprint of ``entries`` hashes drawn from ``keys`` values (so buckets repeat)."""
    hashes = (rng.integers(0, keys, entries, dtype=np.uint64) * 2654435761 % 2**32).astype(
        np.uint32
    )
    offsets = np.sort(rng.integers(0, 6000, entries)).astype(np.uint32)
    return Fingerprint(hashes, offsets, duration=200.0)


def reference_lookup(
    prints: dict[int, Fingerprint], index: Index, probes: np.ndarray, *, stored=None
):
    """Every (probe, track, anchor frame) a plain scan of the fingerprints finds, with the
    index's bucket cap applied: what ``Index.lookup`` must return.

    ``stored``: every fingerprint the index still holds entries of (a removed track's
    entries count toward a bucket's size until the next compaction drops them).
    """
    totals: dict[int, int] = {}
    for fp in (stored or prints).values():
        for h in fp.hashes.tolist():
            totals[h] = totals.get(h, 0) + 1
    found = set()
    for i, h in enumerate(probes.tolist()):
        if totals.get(h, 0) > index.bucket_cap:
            continue
        for track_id, fp in prints.items():
            for offset in fp.offsets[fp.hashes == h].tolist():
                found.add((i, track_id, offset))
    return found


def index_lookup(index: Index, probes: np.ndarray):
    """(probe, track, anchor frame) of every entry ``Index.lookup`` finds; and checks that
    ``Index.candidates`` gives the same entries as the matcher would otherwise compute
    from them (each entry's slot, frame in its track and probe's time) in one pass."""
    probe, position = index.lookup(probes)
    slot = index.slot_of_positions(position)
    local = position - index.slot_base(slot)
    times = np.arange(probes.size) * 0.5 + 0.25
    gathered = index.candidates(probes, times)
    for ours, theirs in zip(gathered, (slot, local, times[probe], position), strict=True):
        assert ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs)
    return {
        (int(p), index.slot_track_id(int(s)), int(o))
        for p, s, o in zip(probe, slot, local, strict=True)
    }


def test_lookup_equals_a_plain_scan_through_adds_removes_and_a_snapshot(tmp_path):
    rng = np.random.default_rng(7)
    # 3,000 keys over 40 tracks x 1,500 entries: buckets of ~20, some over the cap.
    prints = {tid: random_print(rng, 1500, 3000) for tid in range(1, 41)}
    index = Index(bucket_cap=30)
    index.add_many(prints.items())
    probes = np.concatenate(
        [
            prints[3].hashes[:300],
            rng.integers(0, 2**32, 300, dtype=np.uint64).astype(np.uint32),  # mostly absent
            prints[40].hashes[-50:],
        ]
    )
    assert index_lookup(index, probes) == reference_lookup(prints, index, probes)
    assert len(reference_lookup(prints, index, probes)) > 1000

    # Added tracks sit in the delta until merged; removed ones are tombstones.
    for tid in (41, 42):
        prints[tid] = random_print(rng, 1500, 3000)
        index.add(tid, prints[tid])
    stored = dict(prints)
    for tid in (3, 17):
        del prints[tid]
        index.remove(tid)
    probes = np.concatenate([probes, prints[41].hashes[:200]])
    expected = reference_lookup(prints, index, probes, stored=stored)
    assert index_lookup(index, probes) == expected
    assert not any(track in (3, 17) for _, track, _ in expected)

    index.save(tmp_path / "index.snapshot")
    loaded = Index.load(tmp_path / "index.snapshot")
    assert index_lookup(loaded, probes) == reference_lookup(prints, loaded, probes)


def test_lookup_finds_every_entry_of_well_spread_hashes():
    """Hashes spread over the whole 32-bit range (as xxh32 output is) share their top
    bits with many others: the directory and the sort must still find every entry."""
    rng = np.random.default_rng(19)
    prints = {tid: random_print(rng, 4000, 2**32) for tid in range(1, 31)}
    index = Index()
    index.add_many(list(prints.items())[:25])  # merged into the main arrays
    for tid in range(26, 31):
        index.add(tid, prints[tid])  # left in the sorted delta
    probes = np.concatenate([fp.hashes[::7] for fp in prints.values()])
    expected = reference_lookup(prints, index, probes)
    assert len(expected) >= probes.size
    assert index_lookup(index, probes) == expected


def test_hashes_sharing_their_low_bits_in_neighbouring_buckets_stay_apart():
    """Entries keep a hash's low 16 bits only: a run of equal low bits must end at its
    bucket, or a probe would also find the next bucket's hash with the same low bits."""
    hashes = np.array([0x0001ABCD, 0x0002ABCD, 0x0002ABCD, 0x00030000], dtype=np.uint32)
    index = Index()
    index.add_many([(1, Fingerprint(hashes, np.arange(4, dtype=np.uint32), 1.0))])
    probes = np.array([0x0001ABCD, 0x0002ABCD, 0x0003ABCD, 0x00020000], dtype=np.uint32)
    assert index_lookup(index, probes) == {(0, 1, 0), (1, 1, 1), (1, 1, 2)}


def test_a_bucket_too_crowded_to_scan_is_searched_with_the_same_result():
    """Buckets are scanned whole up to ``_SCANNED_BUCKET`` entries and binary-searched
    beyond (a hash stored thousands of times): both find exactly the plain scan's entries,
    for a probe of every stored low part, of absent ones between and around them, and
    of the same low parts in a neighbouring bucket."""
    rng = np.random.default_rng(29)
    lows = np.array([0x0003, 0x0100, 0x0101, 0x7FFF, 0xFFF0], dtype=np.uint32)
    crowded = np.concatenate(
        [np.full(2_600, 0xABCD0101), 0xABCD0000 | rng.choice(lows, 900)]
    ).astype(np.uint32)
    sparse = (0x12340000 | rng.choice(lows, 400)).astype(np.uint32)
    prints = {
        1: Fingerprint(crowded, np.arange(crowded.size, dtype=np.uint32), 120.0),
        2: Fingerprint(sparse, np.arange(sparse.size, dtype=np.uint32), 20.0),
    }
    index = Index()
    index.add_many(prints.items())
    assert index._directory_shift == 16
    bucket = np.diff(index._directory.astype(np.int64))
    assert bucket[0xABCD] > kernels._SCANNED_BUCKET >= bucket[0x1234]
    absent = np.array([0x0000, 0x0004, 0x00FF, 0x0102, 0x8000, 0xFFFF], dtype=np.uint32)
    # The crowded bucket's probes come last, so the lookup also asks ahead for its lines.
    probes = np.concatenate(
        [0x12340000 | lows, 0x12340000 | absent, 0xABCC0000 | lows, 0xABCE0000 | lows,
         0xABCD0000 | lows, 0xABCD0000 | absent]
    ).astype(np.uint32)  # fmt: skip
    expected = reference_lookup(prints, index, probes)
    (crowded_probe,) = np.flatnonzero(probes == 0xABCD0101)  # stored 2,600 times and more
    assert sum(p == crowded_probe for p, _, _ in expected) >= 2_600
    assert index_lookup(index, probes) == expected


def test_a_large_index_finds_the_same_entries_as_a_search_of_whole_hashes(tmp_path):
    """Past 2**19 entries the directory prefix grows beyond 16 bits (low bits then
    repeat a few prefix bits); merges and compaction rebuild whole hashes from it."""
    rng = np.random.default_rng(23)
    prints = {
        tid: Fingerprint(
            rng.integers(0, 2**32, 600_000, dtype=np.uint64).astype(np.uint32),
            np.sort(rng.integers(0, 90_000, 600_000)).astype(np.uint32),
            2880.0,
        )
        for tid in range(1, 9)
    }
    index = Index()
    index.add_many(prints.items())
    assert index._directory_shift < 16
    index.add(9, prints[1])  # the delta, searched beside the main arrays
    index.remove(2)
    index._flush(force=True)  # merged and compacted: whole hashes rebuilt twice
    live = {tid: fp for tid, fp in prints.items() if tid != 2} | {9: prints[1]}
    whole = np.concatenate([fp.hashes for fp in live.values()])
    order = np.argsort(whole, kind="stable")
    whole, owner = whole[order], np.concatenate([[t] * len(fp) for t, fp in live.items()])[order]
    probes = np.concatenate(
        [
            prints[3].hashes[::500],
            prints[2].hashes[::500],
            rng.integers(0, 2**32, 500).astype(np.uint32),
        ]
    )
    lo, hi = np.searchsorted(whole, probes, "left"), np.searchsorted(whole, probes, "right")
    expected_tracks = sorted(
        (i, int(owner[j])) for i in range(probes.size) for j in range(lo[i], hi[i])
    )
    for candidate in (index, _reloaded(index, tmp_path)):
        found = sorted((p, t) for p, t, _ in index_lookup(candidate, probes))
        assert found == expected_tracks
    assert len(expected_tracks) >= 600  # prints[3]'s probes, and prints[1]'s twice


def _reloaded(index: Index, tmp_path) -> Index:
    index.save(tmp_path / "large.snapshot")
    return Index.load(tmp_path / "large.snapshot")


def test_slot_of_positions_equals_a_binary_search_of_the_bases():
    rng = np.random.default_rng(3)
    index = Index()
    # Spans from 1 frame up: neighbouring bases can be as close as the gap allows.
    for tid in range(1, 301):
        span = int(rng.choice([1, 2, 50, 700, 9000]))
        offsets = np.sort(rng.integers(0, span, 5)).astype(np.uint32)
        index.add(tid, Fingerprint(np.arange(5, dtype=np.uint32) + tid, offsets, 1.0))
    bases = index.slot_base(np.arange(len(index)))
    positions = np.concatenate(
        [bases, bases + 1, bases - 1, rng.integers(0, int(bases[-1]) + 9000, 5000)]
    )
    positions = positions[positions >= 0]
    expected = np.searchsorted(bases, positions, side="right") - 1
    assert np.array_equal(index.slot_of_positions(positions), expected)


@pytest.fixture(scope="module")
def crowded() -> tuple[Index, dict[int, np.ndarray]]:
    """100 synthesised songs: more tracks than the shortlist, so it is used."""
    songs = {100 + seed: song(seed, 20.0, RATE) for seed in range(100)}
    index = Index()
    index.add_many(
        (tid, fingerprint(decode(audio, sample_rate=RATE))) for tid, audio in songs.items()
    )
    return index, songs


def test_shortlist_changes_no_result_of_the_full_vote(crowded):
    index, songs = crowded
    assert len(index) > 64
    fast, full = Matcher(index), Matcher(index, shortlist=None)
    rng = np.random.default_rng(11)
    for tid in (100, 137, 199):
        start = int(rng.uniform(0, 8) * RATE)
        audio = faster(songs[tid][start : start + 10 * RATE], 2)
        query = fast.hash_query(decode(audio, sample_rate=RATE))
        shortlisted, everything = fast.score(query), full.score(query)
        assert shortlisted == everything
        assert shortlisted[0].track_id == tid and shortlisted[0].confidence >= 0.7
    # A song that is not in the index: the same (unconfident) candidates either way.
    stranger = fast.hash_query(decode(song(999, 10.0, RATE), sample_rate=RATE))
    assert fast.score(stranger) == full.score(stranger)
    assert not fast.match(decode(song(999, 10.0, RATE), sample_rate=RATE))


def test_shortlist_smaller_than_the_tracks_scored_is_refused(crowded):
    with pytest.raises(ValueError, match="at least"):
        Matcher(crowded[0], shortlist=4)


def test_query_probes_equal_every_combination_of_neighbouring_cells():
    samples = decode(faster(song(21, 6.0, RATE), 2), sample_rate=RATE)
    peaks = find_peaks(
        samples,
        SPEC,
        frames=SPEC.query_peak_frames,
        bins=SPEC.query_peak_bins,
        per_second=SPEC.query_peaks_per_s,
    )
    a, b, c = triplets(
        peaks, SPEC, fan_out=SPEC.query_fan_out, max_dt=SPEC.max_dt * (1 + SPEC.max_speed_change)
    )
    features = _features(peaks, a, b, c, SPEC)
    sizes = layout(SPEC)
    expected = []
    for t in range(a.size):
        choices = []
        for (values, pad), margin in zip(features, SPEC.probe_margins, strict=True):
            cell = int(np.floor(values[t]))
            frac = values[t] - cell
            own = [cell + pad]
            if frac < margin:
                own.append(cell - 1 + pad)
            elif frac > 1 - margin:
                own.append(cell + 1 + pad)
            choices.append(own)
        for combo in product(*choices):
            if all(0 <= v < n for v, n in zip(combo, sizes, strict=True)):
                key = 0
                for v, n in zip(combo, sizes, strict=True):
                    key = key * n + v
                expected.append((key, t))
    hashes, anchor_time, ids = query_hashes(peaks, SPEC)
    keys = np.array([k for k, _ in expected], dtype=np.int64)
    reference = sorted(
        zip(xxh32_u32(keys, SPEC.version).tolist(), [t for _, t in expected], strict=True)
    )
    assert sorted(zip(hashes.tolist(), ids.tolist(), strict=True)) == reference
    assert len(reference) > 3 * a.size  # multi-probing did add probes
    assert np.array_equal(anchor_time, peaks.time[a][ids])


def reference_best_alignments(slot, local, q_time, position, speeds, tolerance, limit):
    """The full vote in plain numpy: expand every candidate over the trial speeds, keep
    one vote per (entry, speed, query frame), count (slot, speed, offset) keys, add the
    keys within the tolerance, and take each slot's best key, then the best slots."""
    n_speeds = speeds.size
    anchor = np.rint(q_time[:, None] * speeds[None, :]).astype(np.int64)
    diff = (local[:, None] - anchor).ravel()
    anchor = anchor.ravel()
    speed = np.tile(np.arange(n_speeds, dtype=np.int64), slot.size)
    slot_x = np.repeat(slot, n_speeds)
    key = (slot_x << 40) | (speed << 32) | (diff + (1 << 31))
    vote = (np.repeat(position, n_speeds) << 24) | (speed << 20) | np.clip(anchor, 0, 2**20 - 1)
    _, first_vote = np.unique(vote, return_index=True)
    keys, counts = np.unique(key[first_vote], return_counts=True)
    score = counts.copy()
    for step in range(1, tolerance + 1):
        for neighbour in (keys - step, keys + step):
            at = np.minimum(np.searchsorted(keys, neighbour), keys.size - 1)
            score += np.where(keys[at] == neighbour, counts[at], 0)
    off_nominal = np.abs(speeds[(keys >> 32) & 0xFF] - 1.0)
    order = np.lexsort((off_nominal, -counts, -score))
    _, first = np.unique(keys[order] >> 40, return_index=True)
    best = order[first]
    ranking = best[np.argsort(-score[best], kind="stable")][:limit]
    chosen = keys[ranking]
    return chosen >> 40, (chosen >> 32) & 0xFF, (chosen & 0xFFFFFFFF) - (1 << 31), score[ranking]


@pytest.mark.parametrize(
    ("seed", "slots", "base", "dtype"),
    [
        (1, 40, 1000, np.float32),
        (2, 40, 1000, np.float64),
        (3, 400, 1000, np.float64),
        (4, 1500, 1000, np.float32),
        # positions of 34 bits: four of the radix sort's passes
        (7, 40, 2**28, np.float64),
    ],
)
def test_the_compiled_vote_equals_the_numpy_reference(seed, slots, base, dtype):
    """Few offsets and query frames, so keys collide, neighbouring offsets add up,
    entries are reached by several probes and ties between slots, speeds and offsets
    are everywhere (with many slots, a few candidates each): the order of ties must
    match too. As in the index, a slot's positions are a range of their own and an
    entry's track frame is its position less the slot's base."""
    from fingerprinting.engine import kernels

    rng = np.random.default_rng(seed)
    speeds = np.asarray(SPEC.speeds, dtype=np.float64)
    n = 3000
    slot = rng.integers(0, slots, n).astype(np.int64)
    # Quarter frames: times 0.25 apart land on one frame at some speeds, not at others.
    q_time = (rng.integers(0, 60, n) + rng.choice([0.0, 0.25, 0.5], n)).astype(dtype)
    local = (q_time.astype(np.int64) + rng.integers(0, 6, n)).astype(np.int64)
    position = slot * base + local  # one entry reached by many probes
    # (some of them from the same query time: candidates the vote skips as repeats)
    assert len(set(zip(position.tolist(), q_time.tolist(), strict=True))) < n
    for limit in (8, 64):
        ours = kernels.best_alignments(slot, local, q_time, position, speeds, 1, limit)
        theirs = reference_best_alignments(slot, local, q_time, position, speeds, 1, limit)
        for a, b in zip(ours, theirs, strict=True):
            assert np.array_equal(a, b)
    assert len(set(theirs[3].tolist())) < theirs[3].size  # tied scores were ranked
    width, count = vote_widths(slot, local, q_time, speeds)
    assert np.all(count < width)  # every slot's candidates scored one by one


def vote_widths(slot, local, q_time, speeds, tolerance=1):
    """Per slot with candidates (the others are left out), how many offsets the vote's
    table holds at one speed: the slot's range of track frames less the query's range
    of frames at any speed, and the tolerance; and those slots' candidate counts."""
    frames = np.rint(q_time.astype(np.float64)[:, None] * speeds).astype(np.int64)
    voting, count = np.unique(slot, return_counts=True)
    high = np.array([local[slot == s].max() for s in voting])
    low = np.array([local[slot == s].min() for s in voting])
    return high - frames.min() - (low - frames.max()) + 2 * tolerance + 1, count


@pytest.mark.parametrize(("seed", "dtype"), [(11, np.float64), (12, np.float32)])
def test_a_slot_with_more_candidates_than_offsets_is_voted_the_same(seed, dtype):
    """A loop heard at many of a track's offsets gives its slot more candidates than
    offsets; the vote then reads the slot's table in order instead of scoring each
    candidate. The keys are still only the offsets voted for: here every other offset
    (query frames under 25, which no trial speed moves), so an offset between two voted
    ones adds up to twice either, and must not win."""
    from fingerprinting.engine import kernels

    rng = np.random.default_rng(seed)
    speeds = np.asarray(SPEC.speeds, dtype=np.float64)
    n = 3000
    slot = rng.integers(0, 3, n).astype(np.int64)
    frame = rng.integers(0, 25, n)
    q_time = frame.astype(dtype)
    local = frame + 2 * rng.integers(0, 4, n)
    position = slot * 1000 + local
    width, count = vote_widths(slot, local, q_time, speeds)
    assert np.all(count > width)  # every slot's table read in order
    for limit in (2, 8):
        ours = kernels.best_alignments(slot, local, q_time, position, speeds, 1, limit)
        theirs = reference_best_alignments(slot, local, q_time, position, speeds, 1, limit)
        for a, b in zip(ours, theirs, strict=True):
            assert np.array_equal(a, b)
    assert set(theirs[2].tolist()) <= {0, 2, 4, 6}  # a voted offset won


@pytest.mark.parametrize(("seed", "slots", "spread"), [(5, 300, 40), (6, 300, 40), (8, 2000, 900)])
def test_the_compiled_coarse_vote_equals_a_count_of_neighbouring_bins(seed, slots, spread):
    """Per slot, the most candidates in any two neighbouring coarse bins (b, b + 1),
    never a slot's last bin with the next slot's first; slots with few candidates and
    with many (counted in two ways) alike."""
    from fingerprinting.engine import kernels

    rng = np.random.default_rng(seed)
    per_slot = rng.integers(1, 2 * kernels._SMALL_SLOT + 2, slots)
    per_slot[:2] = kernels._SMALL_SLOT, kernels._SMALL_SLOT + 1  # both sides of the switch
    per_slot[2] = 0  # a slot with no candidate
    slot = rng.permutation(np.repeat(np.arange(slots, dtype=np.int64), per_slot))
    n = slot.size
    q_time = rng.uniform(0, 320, n)
    local = rng.integers(0, 16 * spread, n).astype(np.int64)
    coarse = (local - np.rint(q_time).astype(np.int64)) >> 4  # negative offsets round down
    expected = np.zeros(slots, dtype=np.int64)
    counts: dict[tuple[int, int], int] = {}
    for s, b in zip(slot.tolist(), coarse.tolist(), strict=True):
        counts[(s, b)] = counts.get((s, b), 0) + 1
    for (s, b), c in counts.items():
        expected[s] = max(expected[s], c + counts.get((s, b + 1), 0))
    assert coarse.min() < 0
    assert expected.max() > 2  # bins shared, not only single candidates
    assert np.array_equal(kernels.coarse_best(slot, local, q_time, 4, slots), expected)


def test_the_shortlisted_candidates_are_those_of_the_wanted_slots_in_order():
    from fingerprinting.engine import kernels

    rng = np.random.default_rng(10)
    slot = rng.integers(0, 50, 5000).astype(np.int64)
    local = rng.integers(0, 9000, 5000).astype(np.int64)
    q_time = rng.uniform(0, 320, 5000)
    position = slot * 10_000 + local
    wanted = rng.random(50) < 0.3
    keep = wanted[slot]
    for ours, theirs in zip(
        kernels.of_slots(wanted, slot, local, q_time, position),
        (slot[keep], local[keep], q_time[keep], position[keep]),
        strict=True,
    ):
        assert ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs)


def reference_align_best(best_slot, best_speed, best_diff, slot, local, q_time, position):
    """The matcher's last step in numpy, one best track at a time (as it was before it
    was compiled): (hits, start, end, seconds, speed, shift) per best track."""
    speeds = np.asarray(SPEC.speeds, dtype=np.float64)
    rows = []
    for k_slot, k_speed, k_diff in zip(best_slot, best_speed, best_diff, strict=True):
        mine = slot == k_slot
        k_local, k_time = local[mine], q_time[mine]
        diff = k_local - np.rint(k_time * speeds[k_speed]).astype(np.int64)
        aligned = np.abs(diff - k_diff) <= 1
        times, locals_ = k_time[aligned], k_local[aligned]
        speed = trial = speeds[k_speed]
        if times.size >= 3 and np.ptp(times) >= 64:
            x, y = times - times.mean(), locals_ - locals_.mean()
            slope = float(np.dot(x, y) / np.dot(x, x))
            if abs(slope - trial) <= 0.01:
                speed = slope
        speed = round(speed / 0.005) * 0.005
        speed = round(min(max(speed, 0.98), 1.02), 4)
        rows.append(
            (
                np.unique(position[mine][aligned]).size,
                times.min(),
                times.max(),
                np.unique(np.floor(times * SPEC.frame_seconds).astype(np.int64)).size,
                speed,
                float(np.median(locals_ - speed * times)),
            )
        )
    return [np.array(column) for column in zip(*rows, strict=True)]


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_the_compiled_alignment_of_the_best_tracks_equals_numpy(seed):
    """Each best track's aligned hits, first and last frame, seconds heard, fitted speed
    and shift. Tracks aired at speeds on and off the trial grid and beyond +-2 %, over
    long and short stretches (too short to fit a slope, or so short that the slope
    strays more than 1 % from the trial speed), a few hits or many, entries reached by
    several probes, among chance candidates."""
    from fingerprinting.engine import kernels

    rng = np.random.default_rng(seed)
    speeds = np.asarray(SPEC.speeds, dtype=np.float64)
    base = 1 << 20
    parts = []
    for s in range(40):
        n = int(rng.integers(1, 40))
        first = rng.uniform(0, 250)
        q_time = first + rng.uniform(0, rng.choice([20.0, 70.0, 300.0]), n)
        speed, shift = rng.uniform(0.975, 1.025), rng.uniform(100, 5000)
        local = np.rint(q_time * speed + shift).astype(np.int64) + rng.integers(-1, 2, n)
        again = rng.random(n) < 0.2  # the same entry reached by another probe
        q_time = np.concatenate([q_time, q_time[again] + rng.uniform(-3, 3, again.sum())])
        local = np.concatenate([local, local[again]])
        chance = int(rng.integers(0, 60))
        q_time = np.concatenate([q_time, rng.uniform(0, 320, chance)])
        local = np.concatenate([local, rng.integers(0, 6000, chance)])
        parts.append((np.full(q_time.size, s), local, np.abs(q_time)))
    # Two hits 70 frames apart, aligned exactly at 1.01, 1.015 and 1.02 (the vote keeps
    # 1.01, nearest 1): too few to fit, though their slope (71 / 70) would say 1.015.
    parts.append((np.array([40, 40]), np.array([1005, 1076]), np.array([5.0, 75.0])))
    slot, local, q_time = (np.concatenate(column) for column in zip(*parts, strict=True))
    shuffle = rng.permutation(slot.size)
    slot, local, q_time = slot[shuffle], local[shuffle].astype(np.int64), q_time[shuffle]
    position = slot * base + local
    best = kernels.best_alignments(slot, local, q_time, position, speeds, 1, 64)[:3]
    ours = kernels.align_best(
        *best, slot, local, q_time, position, speeds, 1, SPEC.frame_seconds, 0.005, 0.02
    )
    theirs = reference_align_best(*best, slot, local, q_time, position)
    for a, b in zip(ours, theirs, strict=True):
        assert np.array_equal(a, b)
    fitted = ours[4] != speeds[best[1]]
    assert fitted.any() and not fitted.all()  # slopes fitted, and trial speeds kept
    assert (ours[4] == 1.02).any() or (ours[4] == 0.98).any()  # and clamped
    two = list(best[0]).index(40)
    assert ours[0][two] == 2 and ours[4][two] == 1.01


def test_the_compiled_median_is_numpys():
    from fingerprinting.engine import kernels

    rng = np.random.default_rng(14)
    for n in (1, 2, 3, 4, 5, 8, 33, 64, 1000, 4097):
        for values in (rng.normal(0, 50, n), rng.integers(-3, 3, n).astype(np.float64)):
            assert kernels._median(values.copy()) == np.median(values)


def test_query_times_are_ordered_exactly_and_stably():
    """Times that agree in their top 32 bits and differ below, and equal times: the
    vote's order of an entry's candidates is by time, ties as they came."""
    from fingerprinting.engine import kernels

    rng = np.random.default_rng(9)
    close = 10.0 + np.array([0.0, 1e-12, 2e-12, -1e-12])
    q_time = rng.choice(np.concatenate([close, [0.0, 3.5, 3.5, 250.25]]), 2000)
    order = kernels._time_order(q_time)
    assert np.array_equal(order, np.argsort(q_time, kind="stable"))


_WARM_UP = """
import sys

from numba.core.registry import CPUDispatcher
from fingerprinting.engine import Index, Matcher, decode, fingerprint, kernels, warm_up
from fingerprinting.tests.engine.entry_kernels import ENTRY_KERNELS, unprepared
from fingerprinting.tests.engine.synth import song

warm_up()
dispatchers = {n: f for n, f in vars(kernels).items() if isinstance(f, CPUDispatcher)}
before = {n: len(f.signatures) for n, f in dispatchers.items()}
assert not unprepared(kernels), unprepared(kernels)
index = Index()
index.add_many((100 + s, fingerprint(decode(song(s, 20.0, 44100), sample_rate=44100)))
               for s in range(70))
query = decode(song(3, 20.0, 44100)[5 * 44100 : 15 * 44100], sample_rate=44100)
assert Matcher(index).match(query)[0].track_id == 103
after = {n: len(f.signatures) for n, f in dispatchers.items()}
assert before == after, (before, after)
if sys.argv[1] == "warm":
    compiled = {n: len(f.stats.cache_misses) for n, f in dispatchers.items()}
    assert not any(compiled.values()), compiled
    assert all(dispatchers[name].stats.cache_hits for name in ENTRY_KERNELS)
print("ok")
"""


def test_warm_up_compiles_every_kernel_and_later_processes_load_them(tmp_path):
    """Two processes starting together on an empty kernel cache compile (or load what the
    other wrote first) every kernel with the types of a real query: after warm_up a real
    query compiles nothing more. A process started afterwards compiles nothing: it loads
    every kernel the engine calls from what they wrote."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def started(mode: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", _WARM_UP, mode], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def finished(process: subprocess.Popen) -> None:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0 and out.strip() == "ok", err[-3000:]

    together = [started("cold"), started("cold")]
    for process in together:
        finished(process)
    finished(started("warm"))
