"""Offset-histogram matching of a query against an ``Index``, across trial speeds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernels
from .decode import AudioSource, decode
from .errors import TooShortError
from .fingerprint import fingerprint
from .hashing import query_hashes
from .index import Index
from .peaks import find_peaks
from .spec import MIN_QUERY_SECONDS, SPEC, FingerprintSpec

DEFAULT_THRESHOLD = 0.70
# Offsets within this many frames of each other vote together (peak times jitter).
OFFSET_TOLERANCE = 1
# How many of the best tracks are scored in full.
_TOP_TRACKS = 8
# Tracks that reach the full (track, speed, offset) vote, chosen by a coarse vote.
SHORTLIST = 64


@dataclass(frozen=True, slots=True)
class Match:
    """One recognised track in a query.

    ``query_offset`` is where in the query (s) the matched audio begins and
    ``track_offset`` the position in the track (s) heard at that moment; ``speed``
    is the playback speed (1.02 = 2 % fast). ``hits`` is the number of query
    hashes that agree on the alignment, ``second_hits`` the best count of any
    other track heard over the same stretch, ``coverage`` the share of the
    query's seconds that hold at least one aligned hit.
    """

    track_id: int
    track_offset: float
    query_offset: float
    speed: float
    confidence: float
    hits: int
    second_hits: int
    coverage: float
    query_hashes: int


@dataclass(frozen=True, slots=True)
class QueryHashes:
    """A query's triplet hashes (with multi-probes): parallel arrays, one row per probe."""

    hashes: np.ndarray
    anchor_time: np.ndarray  # anchor time in query frames
    triplet_id: np.ndarray
    seconds: float


class Matcher:
    def __init__(
        self,
        index: Index,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        spec: FingerprintSpec = SPEC,
        shortlist: int | None = SHORTLIST,
    ) -> None:
        """``shortlist``: how many tracks (those with the most candidates in one coarse
        alignment) reach the full vote; ``None`` votes on every candidate."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within [0, 1]")
        if shortlist is not None and shortlist < _TOP_TRACKS:
            # The tracks scored in full are taken from the shortlist.
            raise ValueError(f"shortlist must be at least {_TOP_TRACKS} tracks")
        self.index = index
        self.threshold = threshold
        self.spec = spec
        self.shortlist = shortlist

    def match_source(self, source: AudioSource, *, name: str | None = None, **kw) -> list[Match]:
        """Decode ``source`` (refusing less than ``MIN_QUERY_SECONDS``) and ``match`` it."""
        samples = decode(source, name=name, min_seconds=MIN_QUERY_SECONDS, **kw)
        return self.match(samples)

    def match(self, samples: np.ndarray) -> list[Match]:
        """Tracks heard in ``samples`` (mono float32 at the analysis rate) that clear the
        threshold, most confident first; ``[]`` when none does."""
        return [m for m in self.candidates(samples) if m.confidence >= self.threshold]

    def candidates(self, samples: np.ndarray, *, limit: int = _TOP_TRACKS) -> list[Match]:
        """The best-scoring tracks whatever their confidence (for calibration and debugging)."""
        spec = self.spec
        samples = np.asarray(samples, dtype=np.float32)
        seconds = samples.size / spec.sample_rate
        if seconds < MIN_QUERY_SECONDS:
            raise TooShortError(
                f"{seconds:.2f} s of audio, at least {MIN_QUERY_SECONDS:.2f} s needed",
                source="<samples>",
            )
        return self.score(self.hash_query(samples), limit=limit)

    def hash_query(self, samples: np.ndarray) -> QueryHashes:
        """Peaks of the query and their triplet hashes (the lookup's input)."""
        spec = self.spec
        peaks = find_peaks(
            samples,
            spec,
            frames=spec.query_peak_frames,
            bins=spec.query_peak_bins,
            per_second=spec.query_peaks_per_s,
        )
        hashes, anchor_t, triplet_id = query_hashes(peaks, spec)
        return QueryHashes(hashes, anchor_t, triplet_id, samples.size / spec.sample_rate)

    def score(self, query: QueryHashes, *, limit: int = _TOP_TRACKS) -> list[Match]:
        """Look the query's hashes up and vote on (track, trial speed, offset)."""
        spec = self.spec
        seconds = query.seconds
        n_query = int(np.count_nonzero(np.bincount(query.triplet_id)))
        slot, local, q_time, position = self.index.candidates(query.hashes, query.anchor_time)
        if slot.size == 0:
            return []
        if self.shortlist is not None and len(self.index) > self.shortlist:
            wanted = _shortlist(slot, local, q_time, spec, self.shortlist)
            slot, local, q_time, position = kernels.of_slots(wanted, slot, local, q_time, position)
        # The hashes do not depend on speed; the alignment does: a query anchor at
        # frame t of audio played at speed s sits at t * s in the track. Every
        # candidate votes at every trial speed; the true speed gathers the votes.
        # A stored entry votes once per alignment, however many query triplets reach
        # it: multi-probing can reach one entry several times, and sustained tones in
        # unrelated music would otherwise pile up votes. Votes within the tolerance
        # count together; see kernels.best_alignments for the order of ties.
        speeds = np.asarray(spec.speeds, dtype=np.float64)
        best_slot, best_speed, best_diff, _ = kernels.best_alignments(
            slot, local, q_time, position, speeds, OFFSET_TOLERANCE, limit
        )
        # Each best track's candidates are aligned again at its best speed (a track has
        # one best key), to gather its aligned hits and fit its speed and shift.
        hits, start, end, n_seconds, speed, shift = kernels.align_best(
            best_slot, best_speed, best_diff, slot, local, q_time, position, speeds,
            OFFSET_TOLERANCE, spec.frame_seconds, _SPEED_STEP, spec.max_speed_change,
        )  # fmt: skip
        found = [
            {
                "slot": int(best_slot[k]),
                "speed": float(speed[k]),
                "diff": float(shift[k]),
                "hits": int(hits[k]),
                "start": float(start[k]),
                "end": float(end[k]),
                "coverage": min(1.0, int(n_seconds[k]) / max(1.0, math.ceil(seconds))),
            }
            for k in range(best_slot.size)
        ]
        matches = []
        for i, item in enumerate(found):
            # The strongest other track heard over the same stretch of the query.
            second = 0
            for j, other in enumerate(found):
                if j != i and other["start"] <= item["end"] and other["end"] >= item["start"]:
                    second = max(second, other["hits"])
            confidence = _confidence(item["hits"], second, item["coverage"])
            q_off = item["start"]
            matches.append(
                Match(
                    track_id=self.index.slot_track_id(item["slot"]),
                    track_offset=max(
                        0.0, (q_off * item["speed"] + item["diff"]) * spec.frame_seconds
                    ),
                    query_offset=q_off * spec.frame_seconds,
                    speed=item["speed"],
                    confidence=confidence,
                    hits=item["hits"],
                    second_hits=second,
                    coverage=item["coverage"],
                    query_hashes=n_query,
                )
            )
        matches.sort(key=lambda m: (-m.confidence, -m.hits))
        return matches


def _shortlist(
    slot: np.ndarray, local: np.ndarray, q_time: np.ndarray, spec: FingerprintSpec, size: int
) -> np.ndarray:
    """Which slots are the ``size`` tracks with the most candidates in one coarse
    alignment (a boolean per slot).

    On a large catalogue nearly every candidate is a chance hit, spread over
    thousands of tracks; voting on each at every trial speed is what made a
    10,000-track lookup slow. So each candidate first votes once, at nominal speed,
    for its track and alignment (track frame minus query frame, the same for every
    hit of one airing) in bins wide enough that a +-2 % drift over the whole query
    stays within two neighbouring bins; only the candidates of the tracks with the
    best-voted bin pairs go on to the full vote. A track dropped here had fewer
    candidates in any one alignment than each of ``size`` others; candidates count
    multi-probe repeats and whole bins, not exact aligned hits, so this is a
    heuristic, checked rather than proven: the tests and the benchmark's clips give
    the same matches with and without it. A catalogue of at most ``size`` tracks
    skips this.
    """
    n_slots = int(slot.max()) + 1
    best = kernels.coarse_best(slot, local, q_time, _bin_bits(q_time, spec), n_slots)
    hit = np.flatnonzero(best)
    chosen = hit[np.argsort(-best[hit], kind="stable")[:size]]
    wanted = np.zeros(n_slots, dtype=bool)
    wanted[chosen] = True
    return wanted


def _bin_bits(q_time: np.ndarray, spec: FingerprintSpec) -> int:
    """log2 of the coarse offset bin: at least the most a +-2 % drift moves an
    alignment over the query (plus the vote tolerance), and 16 frames."""
    drift = spec.max_speed_change * float(q_time.max()) + 2 * OFFSET_TOLERANCE
    return max(4, math.ceil(math.log2(max(drift, 1.0))))


# Reported speeds are on this grid (0.5 %: the playout speeds worth telling apart); see
# kernels.align_best.
_SPEED_STEP = 0.005


# Confidence is 1 - exp(-margin / _MARGIN_SCALE), margin = hits - second_hits. The
# scale puts 0.70 at a margin of _MARGIN_AT_THRESHOLD hits, one more than the largest
# margin any of the benchmark's 2,152 null windows reached with v2 (5 s and 10 s windows
# of held-out music and of speech, clean and degraded); see bench/README.md, "Calibration".
_MARGIN_AT_THRESHOLD = 6.0
_MARGIN_SCALE = _MARGIN_AT_THRESHOLD / math.log(1.0 / (1.0 - DEFAULT_THRESHOLD))


def _confidence(hits: int, second: int, coverage: float) -> float:
    """Map raw counts to [0, 1]; calibrated on the benchmark (see bench/README.md)."""
    del coverage  # reported, but it did not separate matches from chance on the benchmark
    margin = hits - second
    if margin <= 0:
        return 0.0
    return float(1.0 - math.exp(-margin / _MARGIN_SCALE))


def warm_up() -> None:
    """Get the engine's kernels ready now rather than on a worker's first query.

    They compile on first use (8-20 s of CPU in all, depending on the machine) unless
    an earlier process left them in the kernel cache (then about 0.5 s to load them);
    a capture worker that did either on its first window would start analysing late.
    This runs one query through an index of more than ``SHORTLIST`` tracks, so every
    kernel compiles with the argument types real queries use; then removes tracks from
    that index until it compacts, as a catalogue refresh may (its slot search is a
    kernel too).
    """
    rng = np.random.default_rng(0)
    samples = (0.1 * rng.standard_normal(int(2 * MIN_QUERY_SECONDS * SPEC.sample_rate))).astype(
        np.float32
    )
    fp = fingerprint(samples)
    index = Index()
    index.add_many((track_id, fp) for track_id in range(1, SHORTLIST + 2))
    Matcher(index).match(samples)
    for track_id in range(1, SHORTLIST // 2):  # enough dead tracks for a compaction
        index.remove(track_id)
    index.flush()
