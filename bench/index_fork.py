"""What a matching worker's pool processes inherit: the catalogue index loaded in the
parent, sorted there or left for each process's first lookup to sort.

A Celery worker on the fingerprint queue loads the index before its pool forks
(`catalog_index_preload`); the refresh sorts what it added (`Index.flush`). This builds
an index of synthetic tracks (random hashes at v3's density), forks processes as a
prefork pool does, and reports per process the CPU of its first lookup and the memory
it does not share with the others (`/proc/<pid>/smaps_rollup`), with the parent's index
sorted before the fork and without.

    python bench/index_fork.py [--tracks 2000] [--processes 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fingerprinting.engine import Index, warm_up  # noqa: E402
from fingerprinting.engine.fingerprint import Fingerprint  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "index_fork.json"
ENTRIES_PER_SECOND = 34.9  # v3's stored entries per second of audio (bench/README.md)
FRAMES_PER_SECOND = 31.25  # the spec's hop: 256 samples at 8 kHz
SECONDS = 240.0  # a four-minute song


def _memory_mb(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, *rest = line.split()
        if key in ("Pss:", "Private_Dirty:", "Shared_Dirty:"):
            found[key[:-1].lower()] = int(rest[0]) // 1024
    return found


def _index(tracks: int, rng: np.random.Generator) -> Index:
    index = Index()
    entries = int(ENTRIES_PER_SECOND * SECONDS)
    for track_id in range(1, tracks + 1):
        offsets = np.sort(rng.integers(0, int(SECONDS * FRAMES_PER_SECOND), entries))
        hashes = rng.integers(0, 2**32, entries, dtype=np.uint64).astype(np.uint32)
        index.add(track_id, Fingerprint(hashes, offsets.astype(np.uint32), SECONDS))
    return index


def _forked(index: Index, processes: int, probe: np.ndarray) -> list[dict]:
    """Forks `processes` children that each run one lookup and wait; returns, per child,
    the CPU seconds of that lookup and its memory once all have run."""
    children = []
    for _ in range(processes):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            started = time.process_time()
            index.candidates(probe, np.zeros(probe.size))  # what the matcher runs
            os.write(write, f"{time.process_time() - started:.3f}\n".encode())
            time.sleep(60)  # until the parent has read its memory
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    found = []
    for pid, read in children:
        with os.fdopen(read) as pipe:
            cpu = float(pipe.readline())
        found.append({"first_lookup_cpu_s": cpu, **_memory_mb(pid)})
    for pid, _ in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    warm_up()
    results = {"tracks": args.tracks, "audio_hours": round(args.tracks * SECONDS / 3600, 1)}
    for case, sort_first in (("sorted in the parent", True), ("sorted by each process", False)):
        rng = np.random.default_rng(7)
        index = _index(args.tracks, rng)
        if sort_first:
            index.flush()
        probe = rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32)
        children = _forked(index, args.processes, probe)
        results[case] = {
            "first_lookup_cpu_s": statistics.median(c["first_lookup_cpu_s"] for c in children),
            "private_mb": statistics.median(c["private_dirty"] for c in children),
            "pss_mb": statistics.median(c["pss"] for c in children),
        }
        del index
    print(f"{args.tracks} tracks ({results['audio_hours']} h), {args.processes} processes")
    print("| index in the parent | first lookup, CPU | private memory | PSS |")
    print("|---|---:|---:|---:|")
    for case in ("sorted in the parent", "sorted by each process"):
        r = results[case]
        print(
            f"| {case} | {r['first_lookup_cpu_s']:.2f} s | {r['private_mb']} MB | "
            f"{r['pss_mb']} MB |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
