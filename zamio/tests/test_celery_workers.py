"""Celery workers that match audio compile the engine's kernels before their pool starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import os
import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")
django.setup()
from numba.core.registry import CPUDispatcher

from fingerprinting.engine import Index, Matcher, decode, fingerprint, kernels
from fingerprinting.tests.engine.synth import song
from zamio.celery import app


def compiled():
    return {n: len(f.signatures) for n, f in vars(kernels).items() if isinstance(f, CPUDispatcher)}


def started(*queues):
    worker = app.Worker(
        hostname=f"{queues[0]}@test", queues=list(queues), pool="solo", quiet=True,
        redirect_stdouts=False,
    )
    worker.on_start()  # where Celery sends celeryd_after_setup, before the pool starts


started("payouts", "royalties", "default")
assert not any(compiled().values()), compiled()
started("capture", "fingerprint")
warm = compiled()
assert all(warm.values()), warm

pid = os.fork()  # as the prefork pool starts its processes
if pid == 0:
    index = Index()
    index.add_many(
        (100 + s, fingerprint(decode(song(s, 20.0, 44100), sample_rate=44100))) for s in range(70)
    )
    query = decode(song(3, 20.0, 44100)[5 * 44100 : 15 * 44100], sample_rate=44100)
    found = Matcher(index).match(query)[0].track_id == 103
    os._exit(0 if found and compiled() == warm else 1)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, "the forked process compiled again"
print("ok")
"""


def test_a_matching_worker_compiles_the_kernels_for_its_pool_and_others_do_not():
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
