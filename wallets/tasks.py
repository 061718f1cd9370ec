"""Celery entry points for payouts. Each takes ids, re-reads rows and calls one service."""

from __future__ import annotations

import logging
from dataclasses import asdict

from celery import shared_task

from wallets import services
from wallets.providers import ProviderError

logger = logging.getLogger("wallets")


@shared_task(
    name="wallets.send_withdrawal",
    autoretry_for=(ProviderError,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=6,
    soft_time_limit=150,
    time_limit=180,
)
def send_withdrawal(*, withdrawal_id: int) -> str | None:
    # Safe to run twice: only approved/sending withdrawals are sent, the provider
    # reference was saved with the row (a repeat POST is the same transfer), and the
    # settlement/release entries have idempotency keys. ProviderError means the outcome
    # is unknown: retried with backoff, and the sweeper takes over after the last retry.
    withdrawal = services.withdrawal_send(withdrawal_id=withdrawal_id)
    return withdrawal.status if withdrawal else None


@shared_task(
    name="wallets.refresh_withdrawal",
    autoretry_for=(ProviderError,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=4,
    soft_time_limit=100,
    time_limit=120,
)
def refresh_withdrawal(*, withdrawal_id: int) -> str | None:
    # Safe to run twice: it only reads the provider's status and applies it through
    # services that do nothing to a withdrawal that is already final.
    withdrawal = services.withdrawal_refresh(withdrawal_id=withdrawal_id)
    return withdrawal.status if withdrawal else None


@shared_task(name="wallets.poll_stuck_withdrawals", soft_time_limit=840, time_limit=900)
def poll_stuck_withdrawals() -> dict:
    # Safe to run twice (or overlapping): every step is a status-checked service.
    report = services.withdrawals_poll_stuck()
    return asdict(report)


@shared_task(name="wallets.reconcile_ledger", soft_time_limit=1700, time_limit=1800)
def reconcile_ledger() -> int:
    # Read-only apart from the run it stores: a second run just reports again.
    run = services.ledger_reconcile()
    return run.pk
