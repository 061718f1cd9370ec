"""Query-side variants of the spec scored on bench/fingerprint.py's own clips and nulls.

    python bench/query_variants.py [--variants NAME,NAME,...|all] [--list]

A query-side number (multi-probe margins, query targets) changes what a query looks up,
not what is stored, so it can be tried without rebuilding anything. This replays
bench/fingerprint.py's seeded sequence (its ``default_rng(2024)``: the recall clips of
every condition at 5 s and 10 s, then the 2,152 null windows), decodes each clip once,
and scores it with each variant against the same 28-track catalogue index. With the
current spec it reproduces bench/fingerprint.py's recall and null figures exactly.

For each variant: clips found (of 1,512) and per cell, found in the eight weak cells
(5 dB noise, speech, chained, at 5 s and 10 s; of 672), null windows over the threshold,
the largest null margin and how many windows reach margin 5 (one below the threshold),
and the median probes per clip. Prints a table and writes
bench/results/query_variants.json. Each variant takes about 2 minutes of one core; the
clips take about 2 minutes to make, and hold about 1 GB in memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fingerprint import (
    NULL_CELLS,
    RECALL_CELLS,
    false_matches,
    fetch_music,
    load_tracks,
    make_speech,
    null_windows,
    recall_clips,
    split_catalogue,
)

from fingerprinting.engine import SPEC, Index, Matcher, decode, fingerprint

RESULTS = Path(__file__).resolve().parent / "results" / "query_variants.json"
WEAK = ("noise_5db", "speech_-6db", "chained_+2%", "chained_-2%")


def _margins(**changed: float) -> tuple[float, ...]:
    """The current probe margins with some fields' changed (band, interval_b,
    interval_c, ratio, span)."""
    fields = ("band", "interval_b", "interval_c", "ratio", "span")
    unknown = set(changed) - set(fields)
    if unknown:
        raise ValueError(f"no probe field {sorted(unknown)}")
    return tuple(changed.get(f, m) for f, m in zip(fields, SPEC.probe_margins, strict=True))


# Spec changes by name; "current" is the spec as it is.
VARIANTS: dict[str, dict] = {
    "current": {},
    "interval_c_probed_0.25": {"probe_margins": _margins(interval_c=0.25)},
    "no_band_probe": {"probe_margins": _margins(band=0.0)},
    "no_interval_b_probe": {"probe_margins": _margins(interval_b=0.0)},
    "no_ratio_probe": {"probe_margins": _margins(ratio=0.0)},
    "no_span_probe": {"probe_margins": _margins(span=0.0)},
    "margins_x0.75": {"probe_margins": tuple(0.75 * m for m in SPEC.probe_margins)},
    "query_fan_out_7": {"query_fan_out": 7},
    "query_fan_out_6": {"query_fan_out": 6},
}
DEFAULT = ("current", "interval_c_probed_0.25", "query_fan_out_7")


def replay() -> tuple[Index, dict, list, list]:
    """The catalogue index, track ids, recall clips and null windows (kind, samples) of
    bench/fingerprint.py's full run, in its order and with its seeds."""
    rng = np.random.default_rng(2024)
    paths = fetch_music()
    tracks = load_tracks(paths)
    speech = make_speech()
    catalogue, held_out, ids = split_catalogue(paths)
    index = Index()
    index.add_many((ids[p.name], fingerprint(decode(p))) for p in paths if p.name in catalogue)
    clips = [
        (f"{condition}@{seconds}s", name, samples)
        for seconds, condition in RECALL_CELLS
        for name, _, samples in recall_clips(tracks, catalogue, speech, seconds, condition, 3, rng)
    ]
    nulls = [
        window
        for seconds, degraded in NULL_CELLS
        for window in null_windows(tracks, held_out, speech, seconds, 2.5, rng, degraded=degraded)
    ]
    return index, ids, clips, nulls


def score(index: Index, ids: dict, clips: list, nulls: list, changes: dict) -> dict:
    matcher = Matcher(index, spec=replace(SPEC, **changes))
    cells: Counter[str] = Counter()
    probes = []
    for cell, name, samples in clips:
        query = matcher.hash_query(samples)
        probes.append(query.hashes.size)
        found = [m for m in matcher.score(query) if m.confidence >= matcher.threshold]
        cells[cell] += bool(found and found[0].track_id == ids[name])
    counts, margins = false_matches(matcher, nulls)
    return {
        "changes": changes,
        "found": sum(cells.values()),
        "clips": len(clips),
        "found_weak_cells": sum(n for cell, n in cells.items() if cell.split("@")[0] in WEAK),
        "null_over_threshold": sum(over for over, _ in counts.values()),
        "null_windows": len(nulls),
        "largest_null_margin": int(max(margins)),
        "null_windows_at_margin_5_or_more": int(sum(m >= 5 for m in margins)),
        "probes_median": int(np.median(probes)),
        "cells": dict(cells),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(DEFAULT), help="names, or all")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    args = parser.parse_args()
    if args.list:
        for name, changes in VARIANTS.items():
            print(f"{name:24s} {changes or 'the spec as it is'}")
        return
    wanted = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    unknown = [name for name in wanted if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; --list shows them")

    index, ids, clips, nulls = replay()
    print(f"{len(clips)} clips, {len(nulls)} null windows", file=sys.stderr)
    report = {}
    for name in wanted:
        report[name] = score(index, ids, clips, nulls, VARIANTS[name])
        print(f"{name}: {report[name]['found']} found", file=sys.stderr)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")

    print("| variant | found | weak cells | nulls over | largest margin | at margin ≥ 5 | probes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in report.items():
        print(
            f"| {name} | {r['found']} / {r['clips']} | {r['found_weak_cells']} | "
            f"{r['null_over_threshold']} / {r['null_windows']} | {r['largest_null_margin']} | "
            f"{r['null_windows_at_margin_5_or_more']} | {r['probes_median']:,} |"
        )


if __name__ == "__main__":
    main()
