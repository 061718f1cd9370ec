"""Concurrent withdrawals on real PostgreSQL: real threads, one connection each."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum

from wallets import selectors, services
from wallets.models import JournalEntry, Posting, Withdrawal, WithdrawalStatus
from wallets.tests.factories import fund, make_payee
from zamio.errors import ValidationFailed

THREADS = 50


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_withdrawals_never_overspend(settings):
    # Every request waits for approval, so the race is purely about the hold.
    settings.WALLETS_APPROVAL_THRESHOLD = Decimal("0.00")
    payee = make_payee()
    balance, amount = Decimal("95.00"), Decimal("10.00")  # room for exactly 9
    fund(payee, str(balance))

    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait(timeout=30)
            services.withdrawal_request(user=payee, amount=amount)
            result = "ok"
        except ValidationFailed as exc:
            result = exc.code
        except Exception as exc:  # noqa: BLE001 - reported below, the test must see it
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(set(outcomes)) == ["insufficient_funds", "ok"]
    assert outcomes.count("ok") == int(balance // amount) == 9
    assert outcomes.count("insufficient_funds") == THREADS - 9
    assert Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED).count() == 9

    wallet = services.account_for_user(user_id=payee.pk)
    assert wallet.display_balance == Decimal("5.00")
    # Never negative at any point: every running balance of the wallet stayed ≤ 0 (credit side).
    assert not wallet.postings.filter(balance_after__gt=0).exists()
    assert wallet.postings.aggregate(total=Sum("amount"))["total"] == wallet.balance
    # Every entry balances, and each has at least two postings.
    assert not (
        JournalEntry.objects.annotate(total=Sum("postings__amount"), lines=Count("postings"))
        .exclude(total=0, lines__gte=2)
        .exists()
    )
    assert JournalEntry.objects.count() == 1 + 9
    assert Posting.objects.aggregate(total=Sum("amount"))["total"] == 0
    balance_now = selectors.wallet_balance(user=payee)
    assert (balance_now.available, balance_now.pending) == (Decimal("5.00"), Decimal("90.00"))
    assert services.ledger_reconcile().discrepancies == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_postings_with_one_idempotency_key_post_once():
    payee = make_payee()
    barrier = threading.Barrier(10)
    entry_ids: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        try:
            barrier.wait(timeout=30)
            entry = fund(payee, "25.00", key="royalty-period-7:line-1")
            with lock:
                entry_ids.append(entry.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(entry_ids) == 10
    assert len(set(entry_ids)) == 1
    assert services.account_for_user(user_id=payee.pk).display_balance == Decimal("25.00")
