"""The double-entry ledger: balanced, idempotent, append-only, no overdrafts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from conftest import make_user
from wallets import services
from wallets.models import Account, JournalEntry, Posting
from wallets.services import InsufficientFunds
from wallets.tests.factories import WalletAccountFactory, fund
from zamio.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db

D = Decimal


def _royalty(wallet: Account, amount: str, key: str = "royalty:1"):
    return services.ledger_post(
        idempotency_key=key,
        memo="Royalty",
        postings=[
            services.Posting.debit(services.account_for_station(station_id=7), D(amount)),
            services.Posting.credit(wallet, D(amount) * D("0.9")),
            services.Posting.credit(services.platform_account("cmo_fee"), D(amount) * D("0.1")),
        ],
        reference_type="royalty_line",
        reference_id="42",
    )


def test_ledger_post_writes_balanced_postings_and_cached_balances():
    wallet = WalletAccountFactory()
    entry = _royalty(wallet, "100.00")

    rows = sorted(entry.postings.values_list("account__code", "amount"))
    assert rows == [
        ("platform:cmo_fee", D("-10.00")),
        ("station:7:receivable", D("100.00")),
        (wallet.code, D("-90.00")),
    ]
    wallet.refresh_from_db()
    assert wallet.balance == D("-90.00")
    assert wallet.display_balance == D("90.00")
    station = Account.objects.get(code="station:7:receivable")
    assert station.display_balance == D("100.00")
    assert entry.reference_type == "royalty_line" and entry.reference_id == "42"


def test_ledger_post_records_the_running_balance_on_each_posting():
    wallet = WalletAccountFactory()
    fund(wallet.user, "30.00", key="a")
    fund(wallet.user, "12.50", key="b")
    assert list(wallet.postings.order_by("id").values_list("balance_after", flat=True)) == [
        D("-30.00"),
        D("-42.50"),
    ]


def test_same_idempotency_key_returns_the_first_entry_and_posts_nothing():
    wallet = WalletAccountFactory()
    first = _royalty(wallet, "100.00")
    again = _royalty(wallet, "100.00")

    assert again.pk == first.pk
    assert JournalEntry.objects.count() == 1
    assert Posting.objects.count() == 3
    wallet.refresh_from_db()
    assert wallet.display_balance == D("90.00")


def test_same_key_with_different_postings_is_refused():
    wallet = WalletAccountFactory()
    _royalty(wallet, "100.00")
    with pytest.raises(Conflict) as refused:
        _royalty(wallet, "50.00")
    assert refused.value.code == "idempotency_key_reused"
    assert Posting.objects.count() == 3


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        (("10.00", "-9.99"), "sum to zero"),
        (("10.001", "-10.001"), "two decimal places"),
        (("0", "0"), "cannot be zero"),
        (("10.00",), "at least two postings"),
    ],
)
def test_unbalanced_or_malformed_entries_are_refused(amounts, message):
    wallet = WalletAccountFactory()
    pool = services.platform_account("royalty_pool")
    postings = [
        services.Posting(account=account, amount=D(amount))
        for account, amount in zip([pool, wallet], amounts, strict=False)
    ]
    with pytest.raises(ValidationFailed) as refused:
        services.ledger_post(idempotency_key="bad", memo="x", postings=postings)
    assert message in refused.value.message
    assert JournalEntry.objects.count() == 0
    assert Posting.objects.count() == 0


def test_a_wallet_cannot_be_overdrawn_and_a_refused_entry_writes_nothing():
    wallet = WalletAccountFactory()
    fund(wallet.user, "20.00", key="in")
    with pytest.raises(InsufficientFunds) as refused:
        services.ledger_post(
            idempotency_key="out",
            memo="too much",
            postings=[
                services.Posting.debit(wallet, D("20.01")),
                services.Posting.credit(services.platform_account("revenue"), D("20.01")),
            ],
        )
    assert refused.value.details == {"account": wallet.code, "available": "20.00"}
    assert JournalEntry.objects.filter(idempotency_key="out").count() == 0
    wallet.refresh_from_db()
    assert wallet.display_balance == D("20.00")


def test_the_database_refuses_an_overdraft_even_past_the_service():
    wallet = WalletAccountFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=wallet.pk).update(balance=D("0.01"))


def test_the_database_refuses_a_second_entry_with_the_same_key():
    JournalEntry.objects.create(idempotency_key="k", memo="one")
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.create(idempotency_key="k", memo="two")


def test_reversal_is_a_new_mirror_entry_and_only_happens_once():
    wallet = WalletAccountFactory()
    entry = _royalty(wallet, "100.00")
    reversal = services.ledger_reverse(entry=entry, idempotency_key="royalty:1:undo", memo="Undo")

    assert reversal.reverses_id == entry.pk
    assert sorted(reversal.postings.values_list("amount", flat=True)) == [
        D("-100.00"),
        D("10.00"),
        D("90.00"),
    ]
    wallet.refresh_from_db()
    assert wallet.display_balance == D("0.00")
    assert entry.postings.count() == 3  # the original is untouched
    assert services.ledger_reverse(entry=entry, idempotency_key="royalty:1:undo", memo="x") == (
        reversal
    )
    with pytest.raises(Conflict) as twice:
        services.ledger_reverse(entry=entry, idempotency_key="royalty:1:undo-again", memo="x")
    assert twice.value.code == "already_reversed"


def test_reversing_money_already_withdrawn_is_refused():
    wallet = WalletAccountFactory()
    entry = fund(wallet.user, "50.00", key="in")
    services.ledger_post(
        idempotency_key="spent",
        memo="spent",
        postings=[
            services.Posting.debit(wallet, D("40.00")),
            services.Posting.credit(services.platform_account("payout_clearing"), D("40.00")),
        ],
    )
    with pytest.raises(InsufficientFunds):
        services.ledger_reverse(entry=entry, idempotency_key="in:undo", memo="Undo")
    assert not JournalEntry.objects.filter(idempotency_key="in:undo").exists()


def test_account_accessors_are_stable_and_typed():
    user = make_user("publisher")
    assert services.account_for_user(user_id=user.pk).code == f"user:{user.pk}:wallet"
    assert services.account_for_user(user_id=user.pk) == services.account_for_user(user_id=user.pk)
    station = services.account_for_station(station_id=12)
    assert (station.code, station.normal_side, station.may_go_negative) == (
        "station:12:receivable",
        "debit",
        True,
    )
    assert services.platform_account("platform:unclaimed_royalties").code == (
        "platform:unclaimed_royalties"
    )
    assert services.platform_account("provider_settlement:momo_mtn").kind == ("provider_settlement")
    with pytest.raises(ValueError, match="Unknown platform account"):
        services.platform_account("bonus")
