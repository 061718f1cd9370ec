"""Compiled inner loops of query hashing, the lookup and the coarse and full votes (numba).

A 10 s query makes ~45,000 probes (triplets times their multi-probes) and, on a
10,000-track catalogue, as many candidate entries. As numpy passes each step cost
a dozen full-size temporaries and re-reads of the candidates; as single loops they
read each probe and entry once.
The tests compare them with plain references (a scan of the fingerprints, a
binary search of the bases, the full vote without a shortlist, the numpy probes, a
count of the coarse bins, numpy's sort, the matcher's numpy alignment of its best tracks).

They compile when a process first calls them (8-20 s of CPU for all of them, by the
machine; 6.5-6.8 s on one machine before ``align_best`` and the coarse vote's table were added;
``matcher.warm_up`` does it ahead of a capture worker's first window), and are kept on
disk once compiled (``kernel_cache``): a later process loads them in about half a
second. They call only each other (no kernel of another module), so that the cache's
digest of this file covers all the code each was compiled from.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import kernel_cache

_SOURCE = kernel_cache.source_digest(__file__)


def _kernel(function):
    """A kernel Python calls: compiled with numba (releasing the GIL) and kept on disk."""
    return kernel_cache.cached(njit(nogil=True)(function), _SOURCE)


def _inner(function):
    """A kernel only other kernels call: compiled into their machine code, so a process
    that loads them from disk never compiles it (cached on its own too, it only added
    files: 1.6 MB of them against 1.0, and time to the first compile)."""
    return njit(nogil=True)(function)


# No vote yet for a slot (vote keys are never negative).
_EMPTY = np.int64(-(2**62))


# How many probes (or entries) ahead the lookup asks for what it will read: a probe's
# directory entry is wanted two steps before its bucket, whose address it gives.
# Measured on a 10,000-track index (bench/README.md): with the bucket's first cache line
# only, 4-6 probes ahead were within 5 % of each other, 3 and 8 about 12 % slower than 6;
# with all of its lines and a binary search, 8 and 12 within 2 %, 4 and 6 about 8 %
# slower. Since the buckets are scanned and the probes taken unsorted: 16 ahead
# 0.79-0.85 x the time of 8 on the layout model, 0.74-0.77 x on the copied one, the same
# on the catalogue; 24 and 32 within 4 % of 16 on the layout model (0.93 x on the copied
# one). The entries: 16, 32 and 64 ahead within 5 %.
_AHEAD_BUCKET = 16
_AHEAD_ENTRIES = 16
# Keys (uint16) in a 64-byte cache line.
_KEYS_PER_LINE = 32
# Buckets of up to this many entries are scanned whole, larger ones binary-searched
# (``bucket_ranges``). Directory buckets hold 4-8 entries on a large index (32-64 when
# this was measured); only a hash stored thousands of times makes one this large, and
# the search bounds what it costs.
# Measured (bench/README.md), with the probes still in hash order: the scan took 0.73 x
# the binary search's time on the 10,000-track layout model, 0.87 x on the copied one and
# 0.90 x on the benchmark's catalogue; scanning buckets of any size, or only up to 512,
# was within 5 % of this.
_SCANNED_BUCKET = 2048


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


@_inner
def _ahead(array, index):  # pragma: no cover
    """`_prefetch` of ``array[index]``, the index kept inside the array (the end of a
    directory or bucket may point one past it)."""
    _prefetch(array, min(max(np.int64(index), 0), array.size - 1))


@_kernel
def bucket_ranges(keys, directory, shift, probes, lo_out, count_out):  # pragma: no cover
    """For each probe hash, where its run of equal entries starts and how long it is.

    ``directory[p]`` is the first position of prefix ``p = hash >> shift``; the
    search runs inside that bucket only, on ``keys``, the entries' low 16 bits
    (``shift`` <= 16, so within a bucket they hold the rest of the hash). A bucket of
    up to ``_SCANNED_BUCKET`` entries (all of them but a crowded hash's) is scanned
    whole, counting the keys below the probe's and equal to it: a few vector
    instructions with no branch to mispredict, where a binary search's every step was a
    coin toss for the branch predictor. A larger one is binary-searched for the run's
    two ends.
    Each probe is a chain of dependent reads from memory (directory, then bucket); the
    reads of the probes a few steps ahead are started first, so that several are in
    flight at once instead of one. The probes are taken in their own order: visited
    in hash order, so that the reads went up the index, they took 1.2-1.5 x as long
    with the sort (bench/README.md).
    """
    n = probes.size
    for i in range(n):
        if i + 2 * _AHEAD_BUCKET < n:
            _ahead(directory, np.int64(probes[i + 2 * _AHEAD_BUCKET]) >> shift)
        if i + _AHEAD_BUCKET < n:
            ahead = np.int64(probes[i + _AHEAD_BUCKET]) >> shift
            line = np.int64(directory[ahead])
            end = np.int64(directory[ahead + 1])
            if end - line <= _SCANNED_BUCKET:  # every line of a bucket to be scanned
                while line < end:
                    _ahead(keys, line)
                    line += _KEYS_PER_LINE
            else:  # the first and last of one to be searched
                _ahead(keys, line)
            _ahead(keys, end - 1)
        wanted = probes[i]
        low = np.uint16(wanted & 0xFFFF)
        bucket = np.int64(wanted) >> shift
        lo = np.int64(directory[bucket])
        end = np.int64(directory[bucket + 1])
        if end - lo <= _SCANNED_BUCKET:
            below = np.int32(0)
            equal = np.int32(0)
            for j in range(lo, end):
                key = keys[j]
                below += np.int32(key < low)
                equal += np.int32(key == low)
            lo += below
            run = np.int64(equal)
        else:
            hi = end
            while lo < hi:  # the first key >= low
                mid = (lo + hi) >> 1
                if keys[mid] < low:
                    lo = mid + 1
                else:
                    hi = mid
            top, hi = lo, end
            while top < hi:  # the first key > low
                mid = (top + hi) >> 1
                if keys[mid] <= low:
                    top = mid + 1
                else:
                    hi = mid
            run = top - lo
        lo_out[i] = lo
        count_out[i] = run


@_kernel
def gather_entries(values, lo, count, use, tag, tag_out, position_out, filled):  # pragma: no cover
    """Append the entries of every probe with ``use`` set, each with its probe's ``tag``
    (its index for ``Index.lookup``, its anchor time for the matcher); returns the new
    fill."""
    k = filled
    n = lo.size
    for i in range(n):
        if i + _AHEAD_ENTRIES < n:
            _ahead(values, lo[i + _AHEAD_ENTRIES])
        if not use[i]:
            continue
        start = lo[i]
        mark = tag[i]
        for j in range(count[i]):
            tag_out[k] = mark
            position_out[k] = values[start + j]
            k += 1
    return k


@_kernel
def gather_candidates(
    values, lo, count, use, anchor_time, bases, blocks, block_bits, alive, out, filled
):  # pragma: no cover
    """``gather_entries`` for the matcher: the entries of every probe with ``use`` set,
    appended to ``out`` = (slot, local, q_time, position) arrays as their track's slot,
    their anchor frame in the track, their probe's anchor time and their position,
    leaving out the entries of dead tracks; returns the new fill.

    Two passes over what this call appends: the positions and times (reading the index),
    then the slots (reading the block table a few entries ahead, as ``slots_of``), so
    that neither waits on the other's reads from memory; done in one, each entry's slot
    waited on its position and the whole was 15 % slower.
    """
    out_slot, out_local, out_time, out_position = out
    k = gather_entries(values, lo, count, use, anchor_time, out_time, out_position, filled)
    kept = filled
    n_bases = bases.size
    for i in range(filled, k):
        if i + _AHEAD_ENTRIES < k:
            _ahead(blocks, out_position[i + _AHEAD_ENTRIES] >> block_bits)
        position = out_position[i]
        # slots_of's search, written out: called as a function here, it made the whole
        # 1.5 times slower.
        block = position >> block_bits
        if block >= blocks.size:
            slot = np.int64(n_bases - 1)
        else:
            slot = np.int64(blocks[block])
            if slot + 1 < n_bases and bases[slot + 1] <= position:
                slot += 1
        if alive[slot]:
            out_slot[kept] = slot
            out_local[kept] = position - bases[slot]
            if kept != i:  # (only once a dead track's entry was left out)
                out_time[kept] = out_time[i]
                out_position[kept] = position
            kept += 1
    return kept


@_kernel
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


_RADIX_BITS = 11


@_inner
def _radix_sort(keys, order, carry):  # pragma: no cover
    """``keys`` (non-negative int64) sorted, ties kept in their order, and ``order``
    moved with them when ``carry`` is set (else it may be empty); the arrays passed in
    are the passes' scratch, overwritten.

    A least-significant-digit radix sort, 11 bits a pass (its counts stay in the
    first-level cache), as many passes as the largest key needs, all counted in one
    read; each pass then reads the keys in order and writes them to their digit's run,
    so nothing is read at random however many keys there are.
    """
    n = keys.size
    if n < 2:
        return keys, order
    top = keys.max()
    passes = 1
    while top >> (passes * _RADIX_BITS) > 0:
        passes += 1
    digit_mask = (1 << _RADIX_BITS) - 1
    counts = np.zeros((passes, (1 << _RADIX_BITS) + 1), dtype=np.int64)
    for i in range(n):
        key = keys[i]
        for p in range(passes):
            counts[p, ((key >> (p * _RADIX_BITS)) & digit_mask) + 1] += 1
    spare_keys = np.empty(n, dtype=np.int64)
    spare_order = np.empty(order.size, dtype=order.dtype)
    for p in range(passes):
        shift = p * _RADIX_BITS
        if counts[p].max() == n:
            continue  # every key has the same digit here
        for d in range(1, counts.shape[1]):
            counts[p, d] += counts[p, d - 1]
        for i in range(n):
            key = keys[i]
            d = (key >> shift) & digit_mask
            at = counts[p, d]
            counts[p, d] = at + 1
            spare_keys[at] = key
            if carry:
                spare_order[at] = order[i]
        keys, spare_keys = spare_keys, keys
        order, spare_order = spare_order, order
    return keys, order


@_inner
def _time_order(q_time):  # pragma: no cover
    """Indices that sort the (non-negative) query times, ties in their order.

    A non-negative float's bits sort as the float does; the radix sort reads the top 32
    of them (sign, exponent and 20 bits of the fraction), and the rare runs that agree
    there but not after are finished by insertion (runs of one anchor's many probes
    hold equal times, which insertion passes over).
    """
    n = q_time.size
    top = np.empty(n, dtype=np.int64)
    for i in range(n):
        top[i] = np.int64(np.float64(q_time[i]).view(np.uint64) >> np.uint64(32))
    top, order = _radix_sort(top, np.arange(n), True)
    i = 0
    while i < n:
        j = i + 1
        while j < n and top[j] == top[i]:
            j += 1
        for k in range(i + 1, j):
            moving = order[k]
            m = k - 1
            while m >= i and q_time[order[m]] > q_time[moving]:
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = moving
        i = j
    return order


# A slot with at most this many candidates has its coarse bins compared pairwise; one
# with more counts them in a table as wide as its range of bins (see ``coarse_best``).
# On the layout model's candidates 8 and 16 were within the noise of 24, and 48 took
# 1.3 x as long (pairs grow with the square of a slot's candidates).
_SMALL_SLOT = 24


@_kernel
def coarse_best(slot, local, q_time, bits, n_slots):  # pragma: no cover
    """Per slot, the most candidates in two neighbouring coarse offset bins, a
    candidate's bin being ``(local - rint(q_time)) >> bits``.

    A query on a large catalogue has tens of thousands to millions of candidates, and
    a hash table of them would not stay in the caches. The bins are grouped by slot in
    one counting pass (the per-slot counts, a few dozen kilobytes, stay in the caches),
    then each slot's are counted on their own: a slot with few candidates (about 6 on
    the 10,000-track layout model) by comparing its bins pairwise, one with many (the
    matching track; on the copied model's crowded queries 150 to 1,000 for every slot)
    in a small dense table. Radix-sorting every (slot, bin) pair instead, as this did
    before, took 1.4 x as long on the layout model and the same on the copied one
    (bench/README.md).
    """
    n = slot.size
    best = np.zeros(n_slots, dtype=np.int64)
    if n == 0:
        return best
    start = np.zeros(n_slots + 1, dtype=np.int64)
    for i in range(n):
        start[slot[i] + 1] += 1
    for s in range(n_slots):
        start[s + 1] += start[s]
    fill = start[:n_slots].copy()
    bins = np.empty(n, dtype=np.int64)
    for i in range(n):
        s = slot[i]
        bins[fill[s]] = (np.int64(local[i]) - np.int64(np.rint(q_time[i]))) >> bits
        fill[s] += 1
    counts = np.zeros(0, dtype=np.int64)
    for s in range(n_slots):
        lo, hi = start[s], start[s + 1]
        if hi - lo <= _SMALL_SLOT:
            best[s] = _small_slot_best(bins, lo, hi)
            continue
        low = high = bins[lo]
        for i in range(lo + 1, hi):
            low = min(low, bins[i])
            high = max(high, bins[i])
        width = high - low + 2  # a spare zero after the last bin
        if counts.size < width:
            counts = np.zeros(max(width, 2 * counts.size), dtype=np.int64)
        for i in range(lo, hi):
            counts[bins[i] - low] += 1
        top = 0
        for b in range(width - 1):
            top = max(top, counts[b] + counts[b + 1])
        best[s] = top
        for i in range(lo, hi):
            counts[bins[i] - low] = 0
    return best


@_inner
def _small_slot_best(bins, lo, hi):  # pragma: no cover
    """The most of ``bins[lo:hi]`` in two neighbouring bins (b, b + 1).

    For each bin b present, the bins at b or b + 1: the most of these is the most of
    any pair, since a pair with no bin at b holds no more than the pair from b + 1.
    Every pair of bins is compared, with no branch that depends on them: sorting a few
    bins and counting runs cost a mispredicted branch at almost every step.
    """
    top = 0
    for i in range(lo, hi):
        b = bins[i]
        total = 0
        for j in range(lo, hi):
            d = bins[j] - b
            total += (d == 0) | (d == 1)
        top = max(top, total)
    return top


@_kernel
def of_slots(wanted, slot, local, q_time, position):  # pragma: no cover
    """The candidates whose slot is ``wanted``, in their order: (slot, local, q_time,
    position) arrays, in one pass over them."""
    n = 0
    for i in range(slot.size):
        n += wanted[slot[i]]
    out_slot = np.empty(n, dtype=slot.dtype)
    out_local = np.empty(n, dtype=local.dtype)
    out_time = np.empty(n, dtype=q_time.dtype)
    out_position = np.empty(n, dtype=position.dtype)
    k = 0
    for i in range(slot.size):
        if wanted[slot[i]]:
            out_slot[k] = slot[i]
            out_local[k] = local[i]
            out_time[k] = q_time[i]
            out_position[k] = position[i]
            k += 1
    return out_slot, out_local, out_time, out_position


@_kernel
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


@_kernel
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

    The candidates are sorted by position (radix sorts), which puts each slot's
    together and each stored entry's next to each other. A slot's votes then go, one
    speed at a time, to a dense table of its offsets, small enough to stay in the
    caches (hash tables of every candidate's nine votes did not: on a crowded query
    they were most of the vote's time); and an entry's repeated votes are found among
    the candidates of that entry alone. So, as in the index, a slot's positions must
    be a range of their own and ``local`` a position less its slot's base.
    ``q_time`` is not negative.
    """
    n = slot.size
    n_speeds = speeds.size
    n_slots = np.int64(slot.max()) + 1 if n else 0
    best_key = np.full(n_slots, _EMPTY, dtype=np.int64)
    best_score = np.zeros(n_slots, dtype=np.int64)
    best_exact = np.zeros(n_slots, dtype=np.int64)
    if n:
        # By position, and within a position (one stored entry) by query time, so that at
        # one speed a repeated query frame is the one before it.
        order = _time_order(q_time)
        c_position, order = _radix_sort(position[order].astype(np.int64), order, True)
        frame_low = np.int64(np.rint(np.float64(q_time.min()) * speeds.min()))
        frame_high = np.int64(np.rint(np.float64(q_time.max()) * speeds.max()))
        # The candidates in that order, each with whether it repeats its entry.
        c_slot = slot[order]
        c_local = local[order].astype(np.int64)
        c_time = q_time[order].astype(np.float64)
        c_repeat = np.zeros(n, dtype=np.bool_)
        c_at = np.empty(n, dtype=np.int64)
        for k in range(1, n):
            c_repeat[k] = c_position[k] == c_position[k - 1]
        table = np.zeros(0, dtype=np.int32)
        start = 0
        while start < n:
            s_id = np.int64(c_slot[start])
            stop = start + 1
            local_low = local_high = c_local[start]
            while stop < n and c_slot[stop] == s_id:
                local_low = min(local_low, c_local[stop])
                local_high = max(local_high, c_local[stop])
                stop += 1
            # This slot's offsets at one speed, with room for the tolerance either side:
            # a key's score reads its own speed's row only, so the speeds go one at a time.
            low = local_low - frame_high - tolerance
            width = local_high - frame_low + tolerance - low + 1
            if table.size < width:
                table = np.zeros(width, dtype=np.int32)
            for s in range(n_speeds):
                speed = speeds[s]
                previous = np.int64(-1)
                for k in range(start, stop):
                    frame = np.int64(np.rint(c_time[k] * speed))
                    at = c_local[k] - frame - low
                    c_at[k] = at
                    # (No branch on whether the candidate repeats its entry: the predictor
                    # cannot know. This and the order of the tests below together: the
                    # vote of the heaviest queries in about 0.77 x the time.)
                    table[at] += np.int32(not (c_repeat[k] & (frame == previous)))
                    previous = frame
                # Every key voted for, scored; a key seen again compares equal to itself.
                # A slot with more candidates than offsets (a loop heard at many of its
                # offsets: tens of thousands of candidates for a few thousand offsets)
                # has its table read in order instead, each key once: on the 10,000-track
                # layout model, the vote of the heaviest queries in 0.92 x the time.
                by_table = width < stop - start
                for k in range(width if by_table else stop - start):
                    at = np.int64(k) if by_table else c_at[start + k]
                    exact = np.int64(table[at])
                    score = exact
                    for step in range(1, tolerance + 1):
                        score += table[at - step] + table[at + step]
                    # Below the best first: soon true for nearly every key, so predicted,
                    # where whether an offset of the table holds a vote is not.
                    if score < best_score[s_id] or exact == 0:
                        continue  # (an offset with no vote is no key: read from the table)
                    key = (s_id << 40) | (np.int64(s) << 32) | (at + low + (1 << 31))
                    current = best_key[s_id]
                    better = current == _EMPTY or score > best_score[s_id]
                    if not better:
                        if exact != best_exact[s_id]:
                            better = exact > best_exact[s_id]
                        else:
                            mine = abs(speed - 1.0)
                            theirs = abs(speeds[(current >> 32) & 0xFF] - 1.0)
                            better = mine < theirs or (mine == theirs and key < current)
                    if better:
                        best_key[s_id] = key
                        best_score[s_id] = score
                        best_exact[s_id] = exact
                if width <= 4 * (stop - start):
                    table[:width] = 0
                else:
                    for k in range(start, stop):
                        table[c_at[k]] = 0
            start = stop
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


@_kernel
def align_best(
    best_slot,
    best_speed,
    best_diff,
    slot,
    local,
    q_time,
    position,
    speeds,
    tolerance,
    frame_seconds,
    speed_step,
    max_change,
):  # pragma: no cover
    """Each best track's aligned hits at its best key, fitted (the matcher's last step).

    A candidate of ``best_slot[k]`` is aligned when ``local - rint(q_time * speed)`` is
    within ``tolerance`` of ``best_diff[k]``, at the trial speed ``speeds[best_speed[k]]``.
    Returns per best track: its hits (distinct stored entries aligned), the first and
    last aligned query frame, how many distinct query seconds hold one, and the fitted
    speed and shift (track frame = speed * query frame + shift).

    The speed is the least-squares slope of the aligned hits when they are at least 3
    and span 64 frames or more and the slope is within 1 % of the trial speed (the trial
    grid is coarser than what a long query can tell apart), else the trial speed; then
    put on the ``speed_step`` grid and within ``max_change`` of 1, to 4 decimals. The
    shift is the median of ``local - speed * q_time`` over the aligned hits.
    """
    n_best = best_slot.size
    row = np.full(np.int64(slot.max()) + 1 if slot.size else 0, -1, dtype=np.int64)
    for k in range(n_best):
        row[best_slot[k]] = k
    # Aligned candidates, grouped by best track: count, then fill.
    counts = np.zeros(n_best + 1, dtype=np.int64)
    aligned = np.zeros(slot.size, dtype=np.bool_)
    for i in range(slot.size):
        k = row[slot[i]]
        if k < 0:
            continue
        diff = np.int64(local[i]) - np.int64(np.rint(q_time[i] * speeds[best_speed[k]]))
        if abs(diff - best_diff[k]) <= tolerance:
            aligned[i] = True
            counts[k + 1] += 1
    for k in range(n_best):
        counts[k + 1] += counts[k]
    fill = counts[:n_best].copy()
    a_time = np.empty(counts[n_best], dtype=np.float64)
    a_local = np.empty(counts[n_best], dtype=np.int64)
    a_position = np.empty(counts[n_best], dtype=np.int64)
    for i in range(slot.size):
        if aligned[i]:
            k = row[slot[i]]
            a_time[fill[k]] = q_time[i]
            a_local[fill[k]] = local[i]
            a_position[fill[k]] = position[i]
            fill[k] += 1
    hits = np.zeros(n_best, dtype=np.int64)
    seconds = np.zeros(n_best, dtype=np.int64)
    start = np.zeros(n_best, dtype=np.float64)
    end = np.zeros(n_best, dtype=np.float64)
    speed_out = np.zeros(n_best, dtype=np.float64)
    shift_out = np.zeros(n_best, dtype=np.float64)
    for k in range(n_best):
        lo, hi = counts[k], counts[k + 1]
        n = hi - lo
        # (Plain loops and the kernels' own sorts: numpy's sort and median here made
        # every process compile for over a second longer, for a few dozen hits.)
        ordered, _ = _radix_sort(a_position[lo:hi].copy(), np.empty(0, dtype=np.int64), False)
        hits[k] = _distinct(ordered)
        first, last = a_time[lo], a_time[lo]
        time_sum = local_sum = 0.0
        for i in range(lo, hi):
            first = min(first, a_time[i])
            last = max(last, a_time[i])
            time_sum += a_time[i]
            local_sum += a_local[i]
        start[k], end[k] = first, last
        heard = np.zeros(np.int64(np.floor(last * frame_seconds)) + 1, dtype=np.bool_)
        for i in range(lo, hi):
            heard[np.int64(np.floor(a_time[i] * frame_seconds))] = True
        seconds[k] = heard.sum()
        trial = speeds[best_speed[k]]
        speed = trial
        if n >= 3 and last - first >= 64:
            time_mean, local_mean = time_sum / n, local_sum / n
            xy = xx = 0.0
            for i in range(lo, hi):
                x = a_time[i] - time_mean
                xy += x * (a_local[i] - local_mean)
                xx += x * x
            slope = xy / xx
            if abs(slope - trial) <= 0.01:
                speed = slope
        speed = np.rint(speed / speed_step) * speed_step
        speed = min(max(speed, 1.0 - max_change), 1.0 + max_change)
        speed = np.rint(speed * 10_000.0) / 10_000.0
        speed_out[k] = speed
        residual = np.empty(n, dtype=np.float64)
        for i in range(n):
            residual[i] = a_local[lo + i] - speed * a_time[lo + i]
        shift_out[k] = _median(residual)
    return hits, start, end, seconds, speed_out, shift_out


@_inner
def _median(values):  # pragma: no cover
    """numpy's median of a non-empty float array (the mean of the two middle values
    when there are two), overwriting ``values``.

    Ordered by a bottom-up merge sort of plain loops: numpy's sort costs more than a
    second of compile time in every process, for a track's few dozen aligned hits (or
    a few thousand, when a whole recording is identified).
    """
    n = values.size
    source, target = values, np.empty(n, dtype=np.float64)
    width = 1
    while width < n:
        for low in range(0, n, 2 * width):
            middle, high = min(low + width, n), min(low + 2 * width, n)
            i, j = low, middle
            for k in range(low, high):
                if i < middle and (j >= high or source[i] <= source[j]):
                    target[k] = source[i]
                    i += 1
                else:
                    target[k] = source[j]
                    j += 1
        source, target = target, source
        width *= 2
    middle = n // 2
    if n % 2:
        return source[middle]
    return (source[middle - 1] + source[middle]) / 2.0


@_inner
def _distinct(ordered):  # pragma: no cover
    """How many distinct values a sorted array holds."""
    if ordered.size == 0:
        return 0
    count = 1
    for i in range(1, ordered.size):
        count += ordered[i] != ordered[i - 1]
    return count
