"""Celery entry points of the catalogue."""

from celery import shared_task

from tracks import services


# Under the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT, 1 h) with time to spare:
# an acks-late task still running when it passes is handed to a second worker.
@shared_task(name="tracks.run_import", time_limit=3000, soft_time_limit=2700)
def run_import(*, import_id: int) -> None:
    # Safe to run twice: the run claims the import (pending → running) in one UPDATE, and
    # a resumed run starts after the last row it reported, whose track already exists.
    services.track_import_run(import_id=import_id)


@shared_task(name="tracks.requeue_stale_imports", time_limit=60)
def requeue_stale_imports() -> int:
    # Safe to run twice: it only moves imports untouched for 30 minutes back to pending.
    return services.track_import_requeue_stale()
