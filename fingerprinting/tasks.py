from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from fingerprinting import services
from tracks.models import FingerprintStatus, Track


@shared_task(
    name="fingerprinting.fingerprint_track",
    acks_late=True,
    time_limit=900,
    soft_time_limit=870,
)
def fingerprint_track(*, track_id: int) -> int | None:
    # Safe twice: the service skips a track already fingerprinted from the same bytes,
    # and the (track, version) unique constraint stops a second row.
    row = services.fingerprint_track(track_id=track_id)
    return row.pk if row else None


@shared_task(name="fingerprinting.requeue_stuck", time_limit=120)
def requeue_stuck(*, older_than_minutes: int = 30) -> int:
    """Re-queues tracks left pending or processing (a worker died mid-task)."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    stuck = list(
        Track.objects.filter(
            fingerprint_status__in=[FingerprintStatus.PENDING, FingerprintStatus.PROCESSING],
            updated_at__lt=cutoff,
        )
        .exclude(audio="")
        .values_list("pk", flat=True)[:500]
    )
    for track_id in stuck:
        fingerprint_track.apply_async(kwargs={"track_id": track_id})
    return len(stuck)
