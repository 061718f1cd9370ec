"""Celery entry points of the capture side (routed to the "capture" queue by
CELERY_TASK_ROUTES). The capture-and-detect
task itself is detections.capture_and_detect; these schedule it and keep health tidy."""

from __future__ import annotations

from celery import shared_task

from stream_capture import services


@shared_task(name="stream_capture.schedule_samples", time_limit=50)
def schedule_samples() -> int:
    # Safe twice: due times are advanced under row locks in the transaction that queues
    # the captures, so a second run in the same minute finds nothing due.
    return len(services.captures_schedule())


@shared_task(
    name="stream_capture.check_link",
    time_limit=services.CHECK_SECONDS + 60,
)
def check_link(*, link_id: int) -> bool | None:
    # Safe twice: a second check only adds one more health attempt for the link.
    return services.link_check(link_id=link_id)


@shared_task(name="stream_capture.prune_attempts", time_limit=600)
def prune_attempts() -> int:
    # Safe twice: it deletes rows past a cutoff; a rerun finds fewer or none.
    return services.attempts_prune()
