"""What a Celery worker's forked pool processes keep to themselves, with the objects the
worker built before the fork frozen out of the garbage collector's way, and without.

A prefork worker imports Django and every task module (a matching worker also the engine)
and then forks its pool. Each pool process shares those pages copy-on-write until it
writes to them, and a garbage collection writes to the header of every object it
visits. This loads what a matching worker loads (Django, the URLconf, the Celery app,
the engine's compiled kernels), forks processes that each make cyclic garbage as tasks
do and run a full collection, and reports their private memory and PSS
(`/proc/<pid>/smaps_rollup`) with `gc.freeze()` before the fork (what
`zamio.celery.freeze_before_fork` does) and without. Each variant runs in a fresh
interpreter.

    python bench/worker_fork.py [--processes 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "worker_fork.json"

_CHILD = r"""
import gc, json, os, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
import zamio.celery
from fingerprinting.engine import warm_up
warm_up()
gc.collect()
if {freeze}:
    gc.freeze()


def memory(pid):
    found = {{}}
    for line in open(f"/proc/{{pid}}/smaps_rollup"):
        key, *rest = line.split()
        if key in ("Pss:", "Private_Dirty:"):
            found[key[:-1].lower()] = int(rest[0]) // 1024
    return found


children = []
for _ in range({processes}):
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        for _ in range(200):  # tasks' garbage: containers in reference cycles
            junk = [[{{"a": j, "b": [j]}} for j in range(500)] for _ in range(5)]
            for item in junk:
                item.append(item)
            del junk
        gc.collect()
        os.write(ready_w, b"x")
        time.sleep(60)
        os._exit(0)
    os.close(ready_w)
    os.read(ready_r, 1)
    children.append(pid)
print(json.dumps({{
    "objects_before_fork": len(gc.get_objects()) + gc.get_freeze_count(),
    "frozen": gc.get_freeze_count(),
    "parent": memory(os.getpid()),
    "children": [memory(pid) for pid in children],
}}))
for pid in children:
    os.kill(pid, 9)
"""


def _run(freeze: bool, processes: int) -> dict:
    script = _CHILD.format(root=str(ROOT), freeze=freeze, processes=processes)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    results = {}
    for name, freeze in (("not frozen", False), ("frozen before the fork", True)):
        started = time.perf_counter()
        results[name] = _run(freeze, args.processes)
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
    print(
        "| objects built before the fork | objects frozen | process | private dirty MB | PSS MB |"
    )
    print("|---|---:|---|---:|---:|")
    for name, found in results.items():
        rows = [("parent", found["parent"])] + [
            (f"child {i + 1}", child) for i, child in enumerate(found["children"])
        ]
        for label, memory in rows:
            print(
                f"| {name}: {found['objects_before_fork']:,} | {found['frozen']:,} | {label} | "
                f"{memory['private_dirty']} | {memory['pss']} |"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"processes": args.processes, "results": results}, indent=2))


if __name__ == "__main__":
    main()
