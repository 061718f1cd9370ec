"""Double-entry ledger, withdrawals and payout bookkeeping.

Sign convention: a posting's `amount` is positive for a debit and negative for a
credit, so the postings of every journal entry sum to zero. An account's cached
`balance` is the signed sum of its postings; `Account.display_balance` flips it
for credit-normal accounts (wallets, clearing, revenue) so that money owed to a
payee reads as a positive number.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from zamio.models import TimeStampedModel

MONEY = {"max_digits": 14, "decimal_places": 2}


class AccountKind(models.TextChoices):
    WALLET = "wallet", "Payee wallet"
    STATION_RECEIVABLE = "station_receivable", "Station receivable"
    ROYALTY_POOL = "royalty_pool", "Royalty pool"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    CMO_FEE = "cmo_fee", "CMO fee"
    PAYOUT_CLEARING = "payout_clearing", "Payout clearing"
    PROVIDER_SETTLEMENT = "provider_settlement", "Provider settlement"
    UNCLAIMED_ROYALTIES = "unclaimed_royalties", "Unclaimed royalties"


class NormalSide(models.TextChoices):
    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


class Account(models.Model):
    """One ledger account. Owned by a user (wallet), a station (by id) or the platform."""

    code = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    name = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    # Stations are keyed by id, not by foreign key: wallets sits above stations in the
    # import order only through this code, so the stations app can evolve on its own.
    station_id = models.BigIntegerField(null=True, blank=True)
    normal_side = models.CharField(max_length=6, choices=NormalSide.choices)
    may_go_negative = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, default="GHS")
    # Signed sum of postings (debit positive), updated under a row lock in the same
    # transaction as the postings; wallets.ledger_reconcile checks it daily.
    balance = models.DecimalField(**MONEY, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=Q(user__isnull=False),
                name="wallets_account_one_kind_per_user",
            ),
            models.UniqueConstraint(
                fields=["station_id", "kind"],
                condition=Q(station_id__isnull=False),
                name="wallets_account_one_kind_per_station",
            ),
            # The database itself refuses an overdraft on accounts that may not go below zero.
            models.CheckConstraint(
                condition=Q(may_go_negative=True)
                | (Q(normal_side="credit") & Q(balance__lte=0))
                | (Q(normal_side="debit") & Q(balance__gte=0)),
                name="wallets_account_no_overdraft",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def display_balance(self) -> Decimal:
        signed = -self.balance if self.normal_side == NormalSide.CREDIT else self.balance
        return signed + Decimal("0.00")  # never "-0.00"


class JournalEntry(models.Model):
    """One balanced transaction. Append-only: a correction is a new entry that `reverses` it."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    memo = models.CharField(max_length=255)
    reference_type = models.CharField(max_length=64, blank=True)
    reference_id = models.CharField(max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["reference_type", "reference_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.memo}"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.DecimalField(**MONEY)
    # The account's signed balance right after this posting, written under the account's
    # row lock: statements show a running balance without summing the whole history.
    balance_after = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallets_posting_nonzero"),
        ]
        indexes = [models.Index(fields=["account", "id"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount}"


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested (awaiting approval)"
    APPROVED = "approved", "Approved"
    SENDING = "sending", "Sending to provider"
    SUCCEEDED = "succeeded", "Paid"
    FAILED = "failed", "Failed (funds returned)"
    NEEDS_REVIEW = "needs_review", "Needs review"
    REJECTED = "rejected", "Rejected (funds returned)"
    CANCELLED = "cancelled", "Cancelled (funds returned)"


TERMINAL_STATUSES = frozenset(
    {
        WithdrawalStatus.SUCCEEDED,
        WithdrawalStatus.FAILED,
        WithdrawalStatus.REJECTED,
        WithdrawalStatus.CANCELLED,
    }
)
# States in which the amount sits in payout clearing.
HELD_STATUSES = frozenset(
    {
        WithdrawalStatus.REQUESTED,
        WithdrawalStatus.APPROVED,
        WithdrawalStatus.SENDING,
        WithdrawalStatus.NEEDS_REVIEW,
    }
)


class FailureReason(models.TextChoices):
    PAYEE_NOT_FOUND = "payee_not_found", "The number has no mobile money wallet"
    PAYEE_NOT_ALLOWED = "payee_not_allowed", "The wallet cannot receive this payment"
    PROVIDER_INSUFFICIENT_FUNDS = "provider_insufficient_funds", "Payout float exhausted"
    PROVIDER_LIMIT = "provider_limit", "Provider limit reached"
    PROVIDER_REJECTED = "provider_rejected", "The provider refused the request"
    PROVIDER_ERROR = "provider_error", "The provider could not complete the transfer"
    EXPIRED = "expired", "The transfer expired or was cancelled"
    MANUAL = "manual", "Marked failed by finance"
    OTHER = "other", "Other provider failure"


class Withdrawal(TimeStampedModel):
    """A payee's request to move money from its wallet to mobile money."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals"
    )
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="GHS")
    msisdn = models.CharField(max_length=20)
    network = models.CharField(max_length=20)
    provider = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED
    )
    # The provider's idempotency key (MTN X-Reference-Id): generated with the row,
    # before any call, and reused on every retry.
    reference_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Optional client key (Idempotency-Key header) so a double-tapped request creates one row.
    request_key = models.CharField(max_length=100, blank=True)
    requires_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rejection_reason = models.CharField(max_length=500, blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    provider_status = models.CharField(max_length=20, blank=True)
    provider_reason = models.CharField(max_length=100, blank=True)
    provider_transaction_id = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=32, choices=FailureReason.choices, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    hold_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settlement_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    release_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallets_withdrawal_positive"),
            models.UniqueConstraint(
                fields=["user", "request_key"],
                condition=~Q(request_key=""),
                name="wallets_withdrawal_unique_request_key",
            ),
            # Money leaves clearing exactly one way: paid out or returned, never both.
            models.CheckConstraint(
                condition=Q(settlement_entry__isnull=True) | Q(release_entry__isnull=True),
                name="wallets_withdrawal_settled_or_released",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "sent_at"]),
            models.Index(fields=["user", "status"]),
        ]

    def __str__(self) -> str:
        return f"Withdrawal #{self.pk} {self.amount} {self.currency} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class CallbackOutcome(models.TextChoices):
    QUEUED = "queued", "Status check queued"
    UNKNOWN_REFERENCE = "unknown_reference", "Unknown reference (ignored)"
    ALREADY_FINAL = "already_final", "Withdrawal already final (ignored)"
    MALFORMED = "malformed", "No reference in the callback (ignored)"


class PayoutCallback(models.Model):
    """Every callback a provider (or anyone) sent us, kept for forensics. Never trusted."""

    provider = models.CharField(max_length=32)
    reference_id = models.CharField(max_length=64, blank=True, db_index=True)
    withdrawal = models.ForeignKey(
        Withdrawal, null=True, blank=True, on_delete=models.SET_NULL, related_name="callbacks"
    )
    claimed_status = models.CharField(max_length=20, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=CallbackOutcome.choices)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider} callback {self.reference_id or '-'} ({self.outcome})"


class SandboxTransfer(models.Model):
    """A transfer held by the local sandbox provider, so the demo pays out like production."""

    reference_id = models.UUIDField(unique=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    msisdn = models.CharField(max_length=20)
    external_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20)
    reason = models.CharField(max_length=64, blank=True)
    financial_transaction_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.reference_id} {self.status}"


class ReconciliationRun(models.Model):
    """One run of wallets.ledger_reconcile and every difference it found."""

    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    accounts_checked = models.PositiveIntegerField(default=0)
    entries_checked = models.PositiveIntegerField(default=0)
    withdrawals_checked = models.PositiveIntegerField(default=0)
    discrepancies = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Reconciliation {self.started_at:%Y-%m-%d %H:%M} ({len(self.discrepancies)})"

    @property
    def is_clean(self) -> bool:
        return not self.discrepancies
