"""Celery workers get ready before their pool starts: those that match audio prepare the
engine's kernels (compiled, or loaded from the kernel cache) and load the catalogue
index, which the pool's processes inherit; every worker freezes what it built out of
the garbage collector's way before the pool forks."""

from __future__ import annotations

import pytest

from fingerprinting.engine import FINGERPRINT_VERSION, decode, fingerprint
from fingerprinting.models import TrackFingerprint
from fingerprinting.tests.engine.synth import song
from tests.processes import process_env, python_ok
from tracks.tests.factories import TrackFactory

# Seeds of the catalogue's songs; the forked process is asked for a clip of the second.
SEEDS = (3, 5, 8)

_SCRIPT = """
import gc
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")
django.setup()
from django.db import connection
from django.test.utils import CaptureQueriesContext
from numba.core.registry import CPUDispatcher

from fingerprinting import catalog_index as shared
from fingerprinting.engine import decode, kernels
from fingerprinting.services import samples_identify
from fingerprinting.tests.engine.entry_kernels import unprepared
from fingerprinting.tests.engine.synth import song
from zamio.celery import app

tracks = {int(seed): int(pk) for seed, pk in (a.split("=") for a in sys.argv[1:])}


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
assert shared._shared is None, "a worker that does not match loaded the catalogue"
frozen = gc.get_freeze_count()  # what the pool's processes' collections will not touch
assert frozen > 100_000 and len(gc.get_objects()) < frozen / 10, (frozen, len(gc.get_objects()))
started("capture", "fingerprint")
warm = compiled()
assert not unprepared(kernels), warm
loaded = shared._shared
assert loaded is not None and sorted(loaded.index.track_ids) == sorted(tracks.values())
assert connection.connection is None, "the worker kept a connection its pool would inherit"
# The sorted arrays and the slot table the pool's processes will share.
arrays = (loaded.index._keys, loaded.index._delta_keys, loaded.index._blocks)
assert arrays[2] is not None, "the slot table was left for each process to build"
assert not any(o is loaded for o in gc.get_objects()), "the index was not frozen with the rest"

pid = os.fork()  # as the prefork pool starts its processes
if pid == 0:
    seed = sorted(tracks)[1]
    query = decode(song(seed, 20.0, 44100)[5 * 44100 : 15 * 44100], sample_rate=44100)
    with CaptureQueriesContext(connection) as queries:
        found = samples_identify(query)
    ok = (
        found
        and found[0].track_id == tracks[seed]
        and shared._shared is loaded  # the inherited index, not a new one
        and all(
            a is b
            for a, b in zip(
                (loaded.index._keys, loaded.index._delta_keys, loaded.index._blocks), arrays
            )
        )
        and not queries.captured_queries  # nothing read from the catalogue again
        and compiled() == warm
    )
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, "the forked process did not use what it inherited"
print("ok")
"""


@pytest.mark.django_db(transaction=True)  # the worker reads the catalogue the test commits
def test_a_matching_worker_prepares_the_kernels_and_the_index_for_its_pool(tmp_path):
    tracks = {}
    for seed in SEEDS:
        fp = fingerprint(decode(song(seed, 20.0, 44100), sample_rate=44100))
        track = TrackFactory(fingerprint_status="ready")
        TrackFingerprint.objects.create(
            track=track,
            version=FINGERPRINT_VERSION,
            data=fp.to_bytes(),
            hash_count=len(fp),
            duration_seconds=fp.duration,
        )
        tracks[seed] = track.pk
    python_ok(_SCRIPT, *(f"{seed}={pk}" for seed, pk in tracks.items()), env=process_env(tmp_path))


_UNREADABLE = """
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")
django.setup()
from fingerprinting import catalog_index as shared
from zamio.celery import app

worker = app.Worker(
    hostname="fingerprint@test", queues=["fingerprint"], pool="solo", quiet=True,
    redirect_stdouts=False,
)
worker.on_start()
assert shared._shared is not None and len(shared._shared.index) == 0
assert shared._shared.generation is None  # so the first match reads the catalogue again
print("ok")
"""


def test_a_matching_worker_starts_when_the_catalogue_cannot_be_read(tmp_path):
    env = process_env(tmp_path)
    env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + "/zamio_no_such_database"
    done = python_ok(_UNREADABLE, env=env)
    assert "fingerprint index not preloaded" in done.stderr
