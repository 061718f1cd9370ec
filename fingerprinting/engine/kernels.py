"""Compiled inner loops of query hashing, the lookup and the coarse and full votes (numba).

A 10 s query makes ~60,000 probes (triplets times their multi-probes) and, on a
10,000-track catalogue, as many candidate entries. As numpy passes each step cost
a dozen full-size temporaries and re-reads of the candidates; as single loops they
read each probe and entry once.
The tests compare them with plain references (a scan of the fingerprints, a
binary search of the bases, the full vote without a shortlist, the numpy probes).

They are compiled when a process first calls them (about 4 s of CPU for all of
them since the full vote joined them; ``matcher.warm_up`` does it ahead of a capture
worker's first window), not cached on disk: numba's cache files are written without
coordination, and test workers or Celery processes starting together would compile
at once.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Table keys are (slot << 32 | bin), never negative.
_EMPTY = np.int64(-(2**62))


# How many probes (or entries) ahead the lookup asks for what it will read: a probe's
# directory entry is wanted two steps before its bucket, whose address it gives.
# Measured on a 10,000-track index (bench/README.md): 4-6 probes ahead were within 5 % of
# each other, 3 and 8 about 12 % slower than 6.
_AHEAD_BUCKET = 6
_AHEAD_ENTRIES = 16


@intrinsic
def _prefetch(typingctx, array, index):  # pragma: no cover
    """Asks the CPU to start loading ``array[index]`` into its caches (LLVM's prefetch:
    a read, kept in every cache level). A hint: it returns nothing and changes nothing;
    the index is not checked (`_ahead` keeps it inside the array)."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, [args[1]], wraparound=False
        )
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [ir.PointerType(), i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        # (address, 0: read, 3: keep in all levels, 1: data)
        builder.call(fn, [pointer, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(nogil=True)
def _ahead(array, index):  # pragma: no cover
    """`_prefetch` of ``array[index]``, the index kept inside the array (the end of a
    directory or bucket may point one past it)."""
    _prefetch(array, min(max(np.int64(index), 0), array.size - 1))


@njit(nogil=True)
def bucket_ranges(keys, directory, shift, probes, order, lo_out, count_out):  # pragma: no cover
    """For each probe hash, where its run of equal entries starts and how long it is.

    ``directory[p]`` is the first position of prefix ``p = hash >> shift``; the
    binary search runs inside that bucket only, on ``keys``, the entries' low 16
    bits (``shift`` <= 16, so within a bucket they hold the rest of the hash).
    Probes are visited in ``order`` (sorted by hash), so consecutive searches read
    ascending addresses. Each is a chain of dependent reads from memory (directory,
    then bucket); the reads of the probes a few steps ahead are started first, so that
    several are in flight at once instead of one.
    """
    n = order.size
    for k in range(n):
        if k + 2 * _AHEAD_BUCKET < n:
            _ahead(directory, np.int64(probes[order[k + 2 * _AHEAD_BUCKET]]) >> shift)
        if k + _AHEAD_BUCKET < n:
            _ahead(keys, directory[np.int64(probes[order[k + _AHEAD_BUCKET]]) >> shift])
        i = order[k]
        wanted = probes[i]
        low = wanted & 0xFFFF
        bucket = np.int64(wanted) >> shift
        lo = np.int64(directory[bucket])
        end = np.int64(directory[bucket + 1])
        hi = end
        while lo < hi:
            mid = (lo + hi) >> 1
            if keys[mid] < low:
                lo = mid + 1
            else:
                hi = mid
        run = 0
        while lo + run < end and keys[lo + run] == low:
            run += 1
        lo_out[i] = lo
        count_out[i] = run


@njit(nogil=True)
def prefix_order(hashes, bits):  # pragma: no cover
    """Probe indices ordered by the top ``bits`` of their hash (a counting sort): enough
    order for ``bucket_ranges`` to read the index in ascending address order."""
    shift = 32 - bits
    counts = np.zeros((1 << bits) + 1, dtype=np.int64)
    for i in range(hashes.size):
        counts[(np.int64(hashes[i]) >> shift) + 1] += 1
    for b in range(1, counts.size):
        counts[b] += counts[b - 1]
    order = np.empty(hashes.size, dtype=np.int64)
    for i in range(hashes.size):
        b = np.int64(hashes[i]) >> shift
        order[counts[b]] = i
        counts[b] += 1
    return order


@njit(nogil=True)
def gather_entries(values, lo, count, use, probe_out, position_out, filled):  # pragma: no cover
    """Append the entries of every probe with ``use`` set; returns the new fill."""
    k = filled
    n = lo.size
    for i in range(n):
        if i + _AHEAD_ENTRIES < n:
            _ahead(values, lo[i + _AHEAD_ENTRIES])
        if not use[i]:
            continue
        start = lo[i]
        for j in range(count[i]):
            probe_out[k] = i
            position_out[k] = values[start + j]
            k += 1
    return k


@njit(nogil=True)
def slots_of(positions, bases, blocks, block_bits, out):  # pragma: no cover
    """The slot (track row) owning each position: the last slot whose base is <=
    the position. ``blocks[b]`` is that slot for position ``b << block_bits``, and a
    block is narrower than the gap between two bases, so at most one base lies
    inside it."""
    n_bases = bases.size
    n = positions.size
    for i in range(n):
        if i + _AHEAD_ENTRIES < n:
            _ahead(blocks, positions[i + _AHEAD_ENTRIES] >> block_bits)
        position = positions[i]
        block = position >> block_bits
        if block >= blocks.size:
            out[i] = n_bases - 1
            continue
        slot = np.int64(blocks[block])
        if slot + 1 < n_bases and bases[slot + 1] <= position:
            slot += 1
        out[i] = slot


@njit(nogil=True)
def _empty_table(n):  # pragma: no cover
    """An open-addressing table for up to ``n`` keys (at most half full): its key array,
    all empty, and the shift and mask that place a key (``_insert``, ``_find``)."""
    size = 16
    while size < 2 * n:
        size <<= 1
    return np.full(size, _EMPTY, dtype=np.int64), np.uint64(64 - int(np.log2(size))), size - 1


@njit(nogil=True)
def _insert(table_key, key, bits, mask):  # pragma: no cover
    """Slot of ``key`` in an open-addressing table, claimed if absent; (slot, was_new)."""
    at = np.int64((np.uint64(key) * _GOLDEN) >> bits)
    while table_key[at] != _EMPTY and table_key[at] != key:
        at = (at + 1) & mask
    new = table_key[at] == _EMPTY
    table_key[at] = key
    return at, new


@njit(nogil=True)
def _find(table_key, key, bits, mask):  # pragma: no cover
    """Slot of ``key`` in the table, or -1."""
    at = np.int64((np.uint64(key) * _GOLDEN) >> bits)
    while table_key[at] != _EMPTY:
        if table_key[at] == key:
            return at
        at = (at + 1) & mask
    return -1


@njit(nogil=True)
def coarse_best(slot, coarse, n_slots):  # pragma: no cover
    """Per slot, the most candidates in two neighbouring coarse offset bins.

    Counts (slot, bin) pairs in an open-addressing table, then takes for every
    occupied bin its count plus the next bin's.
    """
    table_key, bits, mask = _empty_table(slot.size)
    table_count = np.zeros(table_key.size, dtype=np.int64)
    for i in range(slot.size):
        key = (np.int64(slot[i]) << 32) | (np.int64(coarse[i]) + (1 << 31))
        at, _ = _insert(table_key, key, bits, mask)
        table_count[at] += 1
    best = np.zeros(n_slots, dtype=np.int64)
    for at in range(table_key.size):
        key = table_key[at]
        if key == _EMPTY:
            continue
        total = table_count[at]
        following = _find(table_key, key + 1, bits, mask)
        if following >= 0:
            total += table_count[following]
        s = key >> 32
        if total > best[s]:
            best[s] = total
    return best


@njit(nogil=True)
def probe_keys(cell, alt, has_alt, sizes):  # pragma: no cover
    """Keys of every multi-probe of every query triplet, and the triplet of each.

    ``cell``, ``alt`` (int64) and ``has_alt`` (bool) are (fields, triplets): each
    field's cell, its neighbouring cell and whether the value lies near enough to the
    edge to probe it. Probe masks are enumerated in order (mask 0 = every field's own
    cell), triplets within a mask in order; keys with a field out of range are dropped.

    The key is mixed-radix (field 0 most significant), so a probe's key is the triplet's
    own key plus, for each field the mask swaps, (alt - cell) times that field's stride;
    a mask is usable when every field it swaps has an in-range neighbour and every field
    it keeps has an in-range cell. Both conditions are bit masks computed once per
    triplet, so the 2**fields masks cost one test each, not a loop over the fields.
    """
    n_fields, n = cell.shape
    stride = np.ones(n_fields, dtype=np.int64)
    for f in range(n_fields - 2, -1, -1):
        stride[f] = stride[f + 1] * sizes[f + 1]
    own = np.zeros(n, dtype=np.int64)
    delta = np.zeros((n_fields, n), dtype=np.int64)  # what swapping a field adds to own
    swappable = np.zeros(n, dtype=np.int64)  # fields whose neighbour may be probed
    must_swap = np.zeros(n, dtype=np.int64)  # fields whose own cell is out of range
    total = 0
    for t in range(n):
        key = np.int64(0)
        for f in range(n_fields):
            value = cell[f, t]
            if value < 0 or value >= sizes[f]:
                must_swap[t] |= 1 << f
                value = 0
            else:
                key += value * stride[f]
            other = alt[f, t]
            if has_alt[f, t] and other >= 0 and other < sizes[f]:
                swappable[t] |= 1 << f
                delta[f, t] = (other - value) * stride[f]
        own[t] = key
        if must_swap[t] & ~swappable[t] == 0:
            # Every subset of the swappable fields that holds the must-swap ones.
            free = swappable[t] & ~must_swap[t]
            count = 1
            while free:
                free &= free - 1
                count <<= 1
            total += count
    keys = np.empty(total, dtype=np.int64)
    ids = np.empty(total, dtype=np.int64)
    k = 0
    for mask in range(1 << n_fields):
        for t in range(n):
            if mask & ~swappable[t] or must_swap[t] & ~mask:
                continue
            key = own[t]
            for f in range(n_fields):
                if (mask >> f) & 1:
                    key += delta[f, t]
            keys[k] = key
            ids[k] = t
            k += 1
    return keys, ids


@njit(nogil=True)
def _first_pairs(position, q_time):  # pragma: no cover
    """Which candidates are the first with their (position, query time), and how many."""
    n = position.size
    pair_position, bits, mask = _empty_table(n)
    pair_time = np.empty(pair_position.size, dtype=np.float64)
    first = np.zeros(n, dtype=np.bool_)
    n_first = 0
    for i in range(n):
        at = np.int64(
            ((np.uint64(position[i]) ^ np.uint64(np.int64(q_time[i] * 8.0) << 40)) * _GOLDEN)
            >> bits
        )
        repeated = False
        while pair_position[at] != _EMPTY:
            if pair_position[at] == position[i] and pair_time[at] == q_time[i]:
                repeated = True
                break
            at = (at + 1) & mask
        if not repeated:
            pair_position[at] = position[i]
            pair_time[at] = q_time[i]
            first[i] = True
            n_first += 1
    return first, n_first


@njit(nogil=True)
def best_alignments(slot, local, q_time, position, speeds, tolerance, limit):  # pragma: no cover
    """The full vote: every candidate votes at every trial speed for (slot, speed,
    offset), where offset = track frame - rint(query frame * speed); a stored entry
    votes once per (speed, query frame) however many probes reach it. A key's score is
    its votes plus those of the keys within ``tolerance`` frames.

    Returns the best key of each of the ``limit`` best slots, as (slot, speed index,
    offset, score) arrays, best first. A slot's best key has the highest score, then
    the most exact votes, then the speed nearest 1, then the lowest key; slots are
    ranked by that score, ties to the lower slot. Equal to the numpy reference in the
    tests (unique/lexsort over the expanded candidates).
    """
    n_speeds = speeds.size
    # A candidate repeating an earlier one's (entry, query time) would cast the same
    # votes, all seen already: it is dropped before the vote, and the vote's tables are
    # sized for the others (multi-probes reach one entry from one query time several
    # times: on a crowded query two thirds of the candidates).
    first, n_first = _first_pairs(position, q_time)
    n_slots = np.int64(slot.max()) + 1 if slot.size else 0
    seen, bits, mask = _empty_table(n_first * n_speeds)
    count_key = np.full(seen.size, _EMPTY, dtype=np.int64)
    count = np.zeros(seen.size, dtype=np.int64)
    for i in range(slot.size):
        if not first[i]:
            continue
        for s in range(n_speeds):
            frame = np.int64(np.rint(np.float64(q_time[i]) * speeds[s]))
            clipped = min(max(frame, 0), (1 << 20) - 1)
            vote = (np.int64(position[i]) << 24) | (np.int64(s) << 20) | clipped
            _, new = _insert(seen, vote, bits, mask)
            if not new:
                continue
            key = (np.int64(slot[i]) << 40) | (np.int64(s) << 32) | (local[i] - frame + (1 << 31))
            at, _ = _insert(count_key, key, bits, mask)
            count[at] += 1
    best_key = np.full(n_slots, _EMPTY, dtype=np.int64)
    best_score = np.zeros(n_slots, dtype=np.int64)
    best_exact = np.zeros(n_slots, dtype=np.int64)
    for at in range(count_key.size):
        key = count_key[at]
        if key == _EMPTY:
            continue
        score = count[at]
        for step in range(1, tolerance + 1):
            below = _find(count_key, key - step, bits, mask)
            if below >= 0:
                score += count[below]
            above = _find(count_key, key + step, bits, mask)
            if above >= 0:
                score += count[above]
        s = key >> 40
        current = best_key[s]
        better = current == _EMPTY or score > best_score[s]
        if not better and score == best_score[s]:
            if count[at] != best_exact[s]:
                better = count[at] > best_exact[s]
            else:
                mine = abs(speeds[(key >> 32) & 0xFF] - 1.0)
                theirs = abs(speeds[(current >> 32) & 0xFF] - 1.0)
                better = mine < theirs or (mine == theirs and key < current)
        if better:
            best_key[s] = key
            best_score[s] = score
            best_exact[s] = count[at]
    voted = np.flatnonzero(best_key != _EMPTY)
    order = np.argsort(-best_score[voted], kind="mergesort")[:limit]
    chosen = voted[order]
    keys = best_key[chosen]
    return (
        keys >> 40,
        (keys >> 32) & 0xFF,
        (keys & 0xFFFFFFFF) - (1 << 31),
        best_score[chosen],
    )
