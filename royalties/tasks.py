"""Celery entry points of royalties: thin wrappers around services, safe to run twice."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.db import OperationalError

from royalties import services


@shared_task(name="royalties.calculate_plays", soft_time_limit=1700, time_limit=1800)
def calculate_plays() -> dict:
    # Safe to run twice or concurrently: each batch locks its plays (SKIP LOCKED) and
    # only pending plays are read, so a play is priced once; the unique constraint on
    # its regular royalty row backs that up.
    report = services.plays_calculate()
    return {
        "calculated": report.calculated,
        "adjusted": report.adjusted,
        "unpriced": len(report.unpriced),
    }


@shared_task(
    name="royalties.recalculate_play",
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    max_retries=5,
    soft_time_limit=120,
    time_limit=150,
)
def recalculate_play(*, play_id: int) -> str | None:
    # Safe to run twice: re-pricing converges on the play's current state (open-period
    # rows are replaced; an adjustment only books a non-zero difference).
    from detections.models import PlayLog

    if not PlayLog.objects.filter(pk=play_id).exists():
        return None
    row = services.play_recalculate(play_id=play_id)
    return row.kind if row else "unchanged"


# Under the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT, 1 h) with time to spare:
# an acks-late task still running when it passes is handed to a second worker.
@shared_task(name="royalties.recalculate_since", soft_time_limit=2700, time_limit=3000)
def recalculate_since(*, since: str) -> int:
    # Safe to run twice: see recalculate_play.
    return services.plays_recalculate_since(since=datetime.fromisoformat(since))


@shared_task(name="royalties.close_period", soft_time_limit=2700, time_limit=3000)
def close_period(*, period_id: int, actor_id: int | None = None) -> str | None:
    # Safe to run twice: a closed period is returned unchanged and a half-done close
    # resumes; every ledger entry of a close has a fixed idempotency key.
    from royalties.models import RoyaltyPeriod
    from users.models import User

    if not RoyaltyPeriod.objects.filter(pk=period_id).exists():
        return None
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return services.period_close(period_id=period_id, actor=actor).status


@shared_task(name="royalties.close_due_periods", soft_time_limit=2700, time_limit=3000)
def close_due_periods() -> list[int]:
    # Safe to run twice: closed periods are skipped (see close_period).
    return services.periods_close_due()


@shared_task(name="royalties.notify_period_closed", time_limit=900)
def notify_period_closed(*, period_id: int) -> int:
    # Safe to run twice: the period's notified_at is set in the same transaction.
    return services.period_notify_closed(period_id=period_id)


@shared_task(name="royalties.mark_overdue_invoices", time_limit=600)
def mark_overdue_invoices() -> int:
    # Safe to run twice: only issued invoices move, each under its row lock.
    return services.invoices_mark_overdue()


@shared_task(name="royalties.generate_report", soft_time_limit=1700, time_limit=1800)
def generate_report(*, report_id: int) -> str | None:
    # Safe to run twice: a report that is already ready is left alone.
    report = services.report_generate(report_id=report_id)
    return report.status if report else None
