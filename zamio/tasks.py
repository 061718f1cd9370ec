"""Queueing a task of another app by its stable name, once the current transaction commits.

Apps low in the import order (tracks, stations) start work owned by apps above
them (fingerprinting, detections) this way, without importing them: the task name
is the seam, and one grep for it finds both ends.
"""

from __future__ import annotations

from django.db import transaction

from zamio.celery import app


def enqueue_on_commit(task_name: str, /, **kwargs) -> None:
    """Queues `task_name(**kwargs)` after commit; nothing is queued on rollback."""

    def _send() -> None:
        if task_name not in app.tasks:
            # Celery discovers the apps' tasks.py lazily (when a worker boots); a web
            # process that never imported the owning app's tasks imports them now.
            app.loader.import_default_modules()
        app.tasks[task_name].apply_async(kwargs=kwargs)  # NotRegistered = a wiring bug

    transaction.on_commit(_send)
