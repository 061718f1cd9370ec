"""Null margins on music the threshold was not chosen on: the matcher's calibration checked.

    python bench/null_music.py [--step 2.5] [--quick]

The matcher's threshold (confidence 0.70 = a margin of 6 hits over the second-best track)
was set one hit above the largest margin of bench/fingerprint.py's 2,152 null windows,
the same windows its false matches are counted on. This script measures the margins of
windows of other music, from a package the threshold never saw: ``warzone2100-music``
(Debian; 30 Opus tracks, about 4 hours of electronic and orchestral game music, fetched
once into bench/data/null/ with ``apt-get download`` + ``dpkg -x``). The catalogue is
bench/fingerprint.py's: the same 28 tracks of ``nexuiz-music`` and ``singularity-music``.

Windows of 5 s and 10 s every ``--step`` seconds of every track, clean (decoded from the
44.1 kHz audio) and degraded (each with one of bench/fingerprint.py's conditions, drawn
at random with a seeded generator), cut by bench/fingerprint.py's ``music_windows`` as
its null windows are. For each: the top
candidate's margin (hits minus second-best hits) and whether it clears the threshold.
Prints a table and writes bench/results/null_music.json with the margin histogram and
every window at the largest margins (file, start, condition, the catalogue track it
reached, hits and second best).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fingerprint import (
    DATA,
    RATE,
    fetch_music,
    load_tracks,
    make_speech,
    music_windows,
    split_catalogue,
)

from fingerprinting.engine import (
    FINGERPRINT_VERSION,
    Index,
    Matcher,
    decode,
    fingerprint,
)

PACKAGE = "warzone2100-music"
RESULTS = Path(__file__).resolve().parent / "results" / "null_music.json"
# Windows at or above this margin are listed in the JSON one by one.
_LISTED_MARGIN = 4


def fetch_null_music() -> list[Path]:
    """Download and unpack ``warzone2100-music`` into bench/data/null/ (once)."""
    root = DATA / "null"
    music = sorted(root.rglob("*.opus"))
    if not music:
        root.mkdir(parents=True, exist_ok=True)
        print(f"fetching {PACKAGE} with apt-get download", file=sys.stderr)
        subprocess.run(["apt-get", "download", PACKAGE], cwd=root, check=True)
        for deb in sorted(root.glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(root / "unpacked")], check=True)
        music = sorted(root.rglob("*.opus"))
    if not music:
        raise SystemExit(f"{PACKAGE} holds no Opus files")
    return music


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=2.5, help="seconds between windows")
    parser.add_argument("--quick", action="store_true", help="every 4th track only")
    args = parser.parse_args()
    rng = np.random.default_rng(4242)

    paths = fetch_music()
    names, _, ids = split_catalogue(paths)  # bench/fingerprint.py's catalogue
    catalogue = [p for p in paths if p.name in names]
    index = Index()
    index.add_many((ids[p.name], fingerprint(decode(p))) for p in catalogue)
    title = {ids[p.name]: p.stem for p in catalogue}
    matcher = Matcher(index)
    speech = make_speech()

    null = fetch_null_music()
    if args.quick:
        null = null[::4]
    tracks = load_tracks(null)  # 44.1 kHz, cached in bench/data/ as bench/monitor.py's
    hours = sum(t.size for t in tracks.values()) / RATE / 3600
    print(f"{len(null)} tracks, {hours:.2f} h of null music", file=sys.stderr)

    report: dict = {
        "fingerprint_version": FINGERPRINT_VERSION,
        "package": PACKAGE,
        "tracks": len(null),
        "hours": round(hours, 2),
        "step_seconds": args.step,
        "catalogue_tracks": len(catalogue),
        "threshold": matcher.threshold,
        "cells": {},
    }
    for seconds in (5, 10):
        for degraded in (False, True):
            label = f"{seconds}s{'_degraded' if degraded else ''}"
            margins: Counter[int] = Counter()
            over = 0
            listed = []
            for name, start, condition, samples in music_windows(
                tracks, sorted(tracks), speech, seconds, args.step, rng, degraded=degraded
            ):
                found = matcher.candidates(samples)
                top = found[0] if found else None
                margin = top.hits - top.second_hits if top else 0
                margins[margin] += 1
                over += bool(top and top.confidence >= matcher.threshold)
                if margin >= _LISTED_MARGIN:
                    listed.append(
                        {
                            "file": name,
                            "start": round(start, 1),
                            "condition": condition,
                            "reached": title[top.track_id],
                            "hits": top.hits,
                            "second_hits": top.second_hits,
                            "margin": margin,
                        }
                    )
            total = sum(margins.values())
            report["cells"][label] = {
                "windows": total,
                "over_threshold": over,
                "largest_margin": max(margins),
                "margin_histogram": {str(m): margins[m] for m in sorted(margins)},
                f"windows_at_margin_{_LISTED_MARGIN}_or_more": listed,
            }
            print(
                f"{label:12s} {total:5d} windows, {over} over the threshold, "
                f"largest margin {max(margins)}",
                file=sys.stderr,
            )
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nNull music: {PACKAGE}, {len(null)} tracks, {hours:.2f} h; catalogue of "
          f"{len(catalogue)} tracks; threshold {matcher.threshold} (margin 6)")  # fmt: skip
    print("| windows | count | over threshold | largest margin | margin 4 | margin 5 | ≥ 6 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, cell in report["cells"].items():
        hist = {int(k): v for k, v in cell["margin_histogram"].items()}
        print(
            f"| {label} | {cell['windows']} | {cell['over_threshold']} | "
            f"{cell['largest_margin']} | {hist.get(4, 0)} | {hist.get(5, 0)} | "
            f"{sum(v for k, v in hist.items() if k >= 6)} |"
        )


if __name__ == "__main__":
    main()
