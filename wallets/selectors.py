"""Reads of wallets, postings, withdrawals and reconciliation runs, scoped to the requester."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from users.models import Role, StaffRole, User
from wallets.models import (
    HELD_STATUSES,
    Account,
    AccountKind,
    Posting,
    ReconciliationRun,
    Withdrawal,
    WithdrawalStatus,
)
from zamio.errors import NotFound

ZERO = Decimal("0.00")
PAYEE_ROLES = (Role.ARTIST, Role.PUBLISHER)
WITHDRAWAL_STAFF = (StaffRole.FINANCE, StaffRole.SUPPORT, StaffRole.SUPERADMIN)
FINANCE_STAFF = (StaffRole.FINANCE, StaffRole.SUPERADMIN)


@dataclass(frozen=True)
class WalletBalance:
    currency: str
    available: Decimal  # can be withdrawn now
    pending: Decimal  # held by withdrawals in flight (requested … sending, needs review)
    paid_out: Decimal  # withdrawals paid, all time


def wallet_account_of(*, user: User) -> Account | None:
    """The payee's own wallet account (None until money first arrives)."""
    return Account.objects.filter(user=user, kind=AccountKind.WALLET).first()


def wallet_balance(*, user: User) -> WalletBalance:
    account = wallet_account_of(user=user)
    totals = Withdrawal.objects.filter(user=user).aggregate(
        pending=Coalesce(Sum("amount", filter=_status_in(HELD_STATUSES)), ZERO),
        paid_out=Coalesce(Sum("amount", filter=_status_in({WithdrawalStatus.SUCCEEDED})), ZERO),
    )
    return WalletBalance(
        currency=account.currency if account else settings.CURRENCY,
        available=account.display_balance if account else ZERO,
        pending=totals["pending"],
        paid_out=totals["paid_out"],
    )


def _status_in(statuses) -> Q:
    return Q(status__in=list(statuses))


def wallet_postings(*, user: User) -> QuerySet[Posting]:
    """The payee's own wallet postings, newest first, with their journal entries."""
    return (
        Posting.objects.filter(account__user=user, account__kind=AccountKind.WALLET)
        .select_related("entry", "account")
        .order_by("-id")
    )


@dataclass(frozen=True)
class Statement:
    currency: str
    opening_balance: Decimal
    closing_balance: Decimal
    postings: QuerySet[Posting]


def wallet_statement(
    *, user: User, start: datetime | None = None, end: datetime | None = None
) -> Statement:
    """Postings between `start` (inclusive) and `end` (exclusive), oldest first, with the
    wallet balance before and after them, as the payee sees it (credits positive)."""
    account = wallet_account_of(user=user)
    postings = wallet_postings(user=user).order_by("id")
    if start is not None:
        postings = postings.filter(created_at__gte=start)
    if end is not None:
        postings = postings.filter(created_at__lt=end)
    if account is None:
        return Statement(settings.CURRENCY, ZERO, ZERO, postings.none())
    before = Posting.objects.filter(account=account)
    if start is not None:
        before = before.filter(created_at__lt=start)
    else:
        before = before.none()
    last_before = before.order_by("-id").values_list("balance_after", flat=True).first()
    # Wallets are credit-normal: the payee's balance is the negated signed balance
    # (adding ZERO turns a "-0.00" into "0.00").
    opening = -(last_before or ZERO) + ZERO
    last_in = postings.order_by("-id").values_list("balance_after", flat=True).first()
    closing = -last_in + ZERO if last_in is not None else opening
    return Statement(account.currency, opening, closing, postings)


def withdrawals_visible_to(*, user: User) -> QuerySet[Withdrawal]:
    """Finance, support and superadmins see every withdrawal; a payee only its own."""
    qs = Withdrawal.objects.select_related("user", "approved_by", "rejected_by")
    if user.role == Role.ADMIN and user.staff_role in WITHDRAWAL_STAFF:
        return qs.all()
    if user.role in PAYEE_ROLES:
        return qs.filter(user=user)
    return qs.none()


def withdrawal_get(*, user: User, withdrawal_id: int) -> Withdrawal:
    found = withdrawals_visible_to(user=user).filter(pk=withdrawal_id).first()
    if found is None:
        raise NotFound("No such withdrawal.")
    return found


def reconciliation_runs_visible_to(*, user: User) -> QuerySet[ReconciliationRun]:
    if user.role == Role.ADMIN and user.staff_role in FINANCE_STAFF:
        return ReconciliationRun.objects.all()
    return ReconciliationRun.objects.none()
