"""The Celery application. Tasks live in each app's tasks.py; the schedule in zamio.beat."""

import gc
import os

from celery import Celery
from celery.signals import celeryd_after_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")

app = Celery("zamio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _load_schedule(sender, **kwargs):
    from zamio.beat import BEAT_SCHEDULE

    sender.conf.beat_schedule = BEAT_SCHEDULE


app.on_after_configure.connect(_load_schedule)


# Queues whose tasks match audio against the catalogue (see CELERY_TASK_ROUTES).
MATCHING_QUEUES = frozenset({"fingerprint"})


def warm_up_matching(sender=None, instance=None, **kwargs) -> None:
    """A worker that consumes a matching queue gets ready before its pool starts: it
    prepares the engine's kernels (8-20 s of CPU to compile, about 0.5 s to load them
    from the kernel cache once a process has compiled them) and loads the catalogue
    index, so no capture task's first window waits for either. The pool's processes
    are forked from it and inherit both: one copy of the index's arrays, shared
    copy-on-write, instead of one built by each process."""
    amqp = instance.app.amqp
    if set(amqp.queues.consume_from or amqp.queues) & MATCHING_QUEUES:
        from fingerprinting.catalog_index import catalog_index_preload
        from fingerprinting.engine import warm_up

        warm_up()
        catalog_index_preload()


def freeze_before_fork(sender=None, instance=None, **kwargs) -> None:
    """Everything the worker has built by now (Django, the task modules, for a matching
    worker the engine and the index) leaves the garbage collector's generations before the
    pool forks. A pool process's collections would otherwise write to the header of every
    object it inherited, copying the pages that hold them: a forked process of a worker
    kept 89-90 MB to itself after a collection, 12-14 MB with the objects frozen."""
    gc.collect()  # what is garbage already is not frozen with the rest
    gc.freeze()


# In this order: the matching worker's index is built before the objects are frozen.
celeryd_after_setup.connect(warm_up_matching)
celeryd_after_setup.connect(freeze_before_fork)
