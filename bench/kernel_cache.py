"""What a process pays to get the engine's kernels ready: compiled, or loaded from disk.

Every process that matches audio runs the engine's numba kernels: a capture or
fingerprint worker (``warm_up`` before its pool forks), a web process on its first clip
upload, each ``identify`` or ``monitor_file`` command. Each variant here runs in a fresh
interpreter that imports the engine and calls ``warm_up`` (which runs a query through a
small index and compacts it), and reports that process's CPU and wall time:

- *uncached*: the kernels' disk cache switched off (what every process paid before it);
- *cold*: an empty cache directory, so the process compiles and writes the files;
- *warm*: the directory the cold run filled, so the process loads them.

The variants alternate, ``--runs`` times each, in a new temporary cache directory
(``NUMBA_CACHE_DIR``) per cold/warm pair; medians are printed and written as JSON.

    python bench/kernel_cache.py [--runs 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "kernel_cache.json"

_CHILD = r"""
import json, resource, sys, time

wall = time.perf_counter()
cpu = time.process_time()
from numba.core.caching import NullCache
from numba.core.registry import CPUDispatcher
from fingerprinting.engine import kernels, warm_up

dispatchers = [f for f in vars(kernels).values() if isinstance(f, CPUDispatcher)]
if sys.argv[1] == "uncached":
    for kernel in dispatchers:
        kernel._cache = NullCache()
imported = time.process_time()
warm_up()
print(json.dumps({
    "import_cpu_s": imported - cpu,
    "warm_up_cpu_s": time.process_time() - imported,
    "cpu_s": time.process_time() - cpu,
    "wall_s": time.perf_counter() - wall,
    "compiled": sum(len(k.stats.cache_misses) for k in dispatchers),
    "loaded": sum(len(k.stats.cache_hits) for k in dispatchers),
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def _run(mode: str, cache_dir: str) -> dict:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": cache_dir,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], env=env, capture_output=True, text=True,
        check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {"uncached": [], "cold": [], "warm": []}
    files_mb = 0.0
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="kernel-cache-") as cache_dir:
            for mode in ("uncached", "cold", "warm"):
                runs[mode].append(_run(mode, cache_dir))
                print(f"run {n + 1} {mode}: {runs[mode][-1]}", file=sys.stderr)
            files_mb = sum(p.stat().st_size for p in Path(cache_dir).rglob("*.nbc")) / 2**20

    fields = ("cpu_s", "warm_up_cpu_s", "import_cpu_s", "wall_s", "max_rss_mb")
    summary = {
        mode: {f: statistics.median(r[f] for r in rows) for f in fields}
        | {"compiled": rows[0]["compiled"], "loaded": rows[0]["loaded"]}
        for mode, rows in runs.items()
    }
    base = summary["uncached"]["cpu_s"]
    print(f"\n{'process':<10} {'CPU s':>7} {'warm_up':>8} {'import':>7} {'wall s':>7} "
          f"{'max RSS MB':>10} {'compiled':>9} {'loaded':>7} {'CPU / uncached':>15}")  # fmt: skip
    for mode, row in summary.items():
        print(
            f"{mode:<10} {row['cpu_s']:>7.2f} {row['warm_up_cpu_s']:>8.2f} "
            f"{row['import_cpu_s']:>7.2f} {row['wall_s']:>7.2f} {row['max_rss_mb']:>10.0f} "
            f"{row['compiled']:>9} {row['loaded']:>7} {row['cpu_s'] / base:>15.3f}"
        )
    print(f"cache files: {files_mb:.1f} MB; medians of {args.runs} runs each")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"runs": runs, "median": summary, "cache_files_mb": files_mb}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
