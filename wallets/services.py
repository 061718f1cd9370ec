"""Every write to the ledger and to withdrawals.

Ledger (for other apps, e.g. royalties):

    ledger_post(*, idempotency_key, memo, postings, reference_type="", reference_id="",
                actor=None) -> JournalEntry
    ledger_reverse(*, entry, idempotency_key, memo, actor=None) -> JournalEntry
    account_for_user(*, user_id, kind=AccountKind.WALLET) -> Account
    account_for_station(*, station_id, kind=AccountKind.STATION_RECEIVABLE) -> Account
    platform_account(code) -> Account     # "revenue", "cmo_fee", "royalty_pool",
                                          # "unclaimed_royalties", "payout_clearing",
                                          # "provider_settlement:<provider code>"
    Posting.debit(account, amount) / Posting.credit(account, amount)

A royalty accrual debits the station receivable (or the royalty pool) and credits
payee wallets and the CMO fee; the postings of one entry must sum to zero.

Withdrawals: requested → approved → sending → succeeded | failed | needs_review, with
rejected/cancelled from requested. The amount is held in payout clearing from the
request on; a settlement moves it to the provider's settlement account, a release
returns it to the wallet. Both are keyed by the withdrawal, so neither can happen twice.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from artists.selectors import payout_destination_for
from notifications.models import NotificationKind, NotificationPriority
from notifications.services import notify
from users.models import Role, StaffRole, User
from users.services import audit_record
from wallets.models import (
    HELD_STATUSES,
    Account,
    AccountKind,
    CallbackOutcome,
    FailureReason,
    JournalEntry,
    NormalSide,
    PayoutCallback,
    ReconciliationRun,
    Withdrawal,
    WithdrawalStatus,
)
from wallets.models import Posting as PostingRow
from wallets.providers import (
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    TransferRequest,
    TransferResult,
    TransferStatus,
    get_provider,
    provider_for_network,
)
from zamio.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)

logger = logging.getLogger("wallets")

CENT = Decimal("0.01")


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


# --- Accounts ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _AccountSpec:
    kind: str
    name: str
    normal_side: str
    may_go_negative: bool


PLATFORM_ACCOUNTS: dict[str, _AccountSpec] = {
    "revenue": _AccountSpec(AccountKind.PLATFORM_REVENUE, "Platform revenue", "credit", True),
    "cmo_fee": _AccountSpec(AccountKind.CMO_FEE, "CMO fee", "credit", True),
    "royalty_pool": _AccountSpec(AccountKind.ROYALTY_POOL, "Royalty pool", "debit", True),
    "unclaimed_royalties": _AccountSpec(
        AccountKind.UNCLAIMED_ROYALTIES, "Unclaimed royalties", "credit", False
    ),
    # Holds of withdrawals in flight; it can never release more than was held.
    "payout_clearing": _AccountSpec(
        AccountKind.PAYOUT_CLEARING, "Payout clearing", "credit", False
    ),
}


def platform_account(code: str) -> Account:
    """The platform account `code` (see PLATFORM_ACCOUNTS or "provider_settlement:<provider>")."""
    code = code.removeprefix("platform:")
    if code.startswith("provider_settlement:"):
        provider = code.split(":", 1)[1]
        spec = _AccountSpec(
            AccountKind.PROVIDER_SETTLEMENT, f"Provider settlement ({provider})", "credit", True
        )
    else:
        try:
            spec = PLATFORM_ACCOUNTS[code]
        except KeyError:
            raise ValueError(f"Unknown platform account {code!r}.") from None
    return _account(
        f"platform:{code}",
        kind=spec.kind,
        name=spec.name,
        normal_side=spec.normal_side,
        may_go_negative=spec.may_go_negative,
    )


def _account(
    code: str, *, kind: str, name: str, normal_side: str, may_go_negative: bool, **owner: int
) -> Account:
    """The account with `code`, created on first use with these properties."""
    account, _ = Account.objects.get_or_create(
        code=code,
        defaults={
            "kind": kind,
            "name": name,
            "normal_side": normal_side,
            "may_go_negative": may_go_negative,
            "currency": settings.CURRENCY,
            **owner,
        },
    )
    return account


def account_for_user(*, user_id: int, kind: str = AccountKind.WALLET) -> Account:
    """The user's account of `kind` (a payee wallet), created on first use."""
    if kind != AccountKind.WALLET:
        raise ValueError(f"Users hold only wallet accounts, not {kind!r}.")
    return _account(
        f"user:{user_id}:wallet",
        kind=kind,
        name=f"Wallet of user {user_id}",
        normal_side=NormalSide.CREDIT,
        may_go_negative=False,
        user_id=user_id,
    )


def account_for_station(*, station_id: int, kind: str = AccountKind.STATION_RECEIVABLE) -> Account:
    """The station's receivable ("station:<id>:receivable"), created on first use."""
    if kind != AccountKind.STATION_RECEIVABLE:
        raise ValueError(f"Stations hold only receivable accounts, not {kind!r}.")
    # A prepaying station (or a credit note) leaves the receivable below zero.
    return _account(
        f"station:{station_id}:receivable",
        kind=kind,
        name=f"Receivable from station {station_id}",
        normal_side=NormalSide.DEBIT,
        may_go_negative=True,
        station_id=station_id,
    )


# --- Ledger ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Posting:
    """One line of a journal entry: positive amount = debit, negative = credit."""

    account: Account
    amount: Decimal

    @classmethod
    def debit(cls, account: Account, amount: Decimal) -> Posting:
        return cls(account=account, amount=Decimal(amount))

    @classmethod
    def credit(cls, account: Account, amount: Decimal) -> Posting:
        return cls(account=account, amount=-Decimal(amount))


def _money(value: Any, *, field: str = "amount") -> Decimal:
    """A Decimal with at most two places; anything else is refused, never rounded."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Not an amount.", details={field: ["A valid number."]}) from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise ValidationFailed(
            "Amounts have at most two decimal places.",
            details={field: ["At most two decimal places."]},
        )
    return amount.quantize(CENT)


def _validate_postings(postings: Sequence[Posting]) -> list[Posting]:
    if len(postings) < 2:
        raise ValidationFailed("A journal entry needs at least two postings.")
    cleaned = []
    for posting in postings:
        if posting.account.pk is None:
            raise ValidationFailed("Postings must name saved accounts.")
        amount = _money(posting.amount)
        if amount == 0:
            raise ValidationFailed("A posting cannot be zero.")
        cleaned.append(Posting(account=posting.account, amount=amount))
    total = sum((p.amount for p in cleaned), Decimal("0"))
    if total != 0:
        raise ValidationFailed(
            "The postings of a journal entry must sum to zero.", details={"total": str(total)}
        )
    if len({p.account.currency for p in cleaned}) != 1:
        raise ValidationFailed("All postings of an entry must be in one currency.")
    return cleaned


def _same_postings(entry: JournalEntry, postings: Sequence[Posting]) -> bool:
    stored = sorted((p.account_id, p.amount) for p in entry.postings.all())
    asked = sorted((p.account.pk, p.amount) for p in postings)
    return stored == asked


def _existing_entry(idempotency_key: str, postings: Sequence[Posting]) -> JournalEntry:
    entry = JournalEntry.objects.prefetch_related("postings").get(idempotency_key=idempotency_key)
    if not _same_postings(entry, postings):
        raise Conflict(
            "This idempotency key was already used for a different entry.",
            details={"idempotency_key": idempotency_key, "entry_id": entry.pk},
            code="idempotency_key_reused",
        )
    return entry


def ledger_post(
    *,
    idempotency_key: str,
    memo: str,
    postings: Sequence[Posting],
    reference_type: str = "",
    reference_id: str | int = "",
    actor: User | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Writes one balanced entry and updates the cached balances; idempotent by key.

    A second call with the same key returns the existing entry and posts nothing
    (and raises Conflict if its postings differ). Raises InsufficientFunds when an
    account that may not go negative (wallets, clearing) would.
    """
    idempotency_key = (idempotency_key or "").strip()
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationFailed("An idempotency key of 1 to 200 characters is required.")
    cleaned = _validate_postings(postings)
    with transaction.atomic():
        if JournalEntry.objects.filter(idempotency_key=idempotency_key).exists():
            return _existing_entry(idempotency_key, cleaned)
        # Locks in id order: two entries touching the same accounts queue, never deadlock.
        account_ids = sorted({p.account.pk for p in cleaned})
        locked = {
            a.pk: a
            for a in Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk")
        }
        deltas: dict[int, Decimal] = defaultdict(Decimal)
        for posting in cleaned:
            deltas[posting.account.pk] += posting.amount
        for account_id, delta in deltas.items():
            account = locked[account_id]
            after = account.balance + delta
            overdrawn = (account.normal_side == NormalSide.CREDIT and after > 0) or (
                account.normal_side == NormalSide.DEBIT and after < 0
            )
            if overdrawn and not account.may_go_negative:
                raise InsufficientFunds(
                    "Not enough funds in the account.",
                    details={
                        "account": account.code,
                        "available": str(account.display_balance),
                    },
                )
        try:
            with transaction.atomic():
                entry = JournalEntry.objects.create(
                    idempotency_key=idempotency_key,
                    memo=memo[:255],
                    reference_type=reference_type,
                    reference_id=str(reference_id),
                    reverses=reverses,
                    created_by=actor if actor is not None and actor.pk else None,
                )
        except IntegrityError:
            # A concurrent call with the same key committed first: its entry is the answer.
            return _existing_entry(idempotency_key, cleaned)
        running = {pk: locked[pk].balance for pk in account_ids}
        rows = []
        for posting in cleaned:
            running[posting.account.pk] += posting.amount
            rows.append(
                PostingRow(
                    entry=entry,
                    account_id=posting.account.pk,
                    amount=posting.amount,
                    balance_after=running[posting.account.pk],
                )
            )
        PostingRow.objects.bulk_create(rows)
        for account_id, delta in deltas.items():
            Account.objects.filter(pk=account_id).update(balance=F("balance") + delta)
    return entry


def ledger_reverse(
    *, entry: JournalEntry, idempotency_key: str, memo: str, actor: User | None = None
) -> JournalEntry:
    """Posts the mirror image of `entry` (the only way to correct one); idempotent by key."""
    existing = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _existing_entry(
            idempotency_key,
            [Posting(account=p.account, amount=-p.amount) for p in entry.postings.all()],
        )
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise Conflict("This entry has already been reversed.", code="already_reversed")
    postings = [
        Posting(account=p.account, amount=-p.amount)
        for p in entry.postings.select_related("account").order_by("pk")
    ]
    return ledger_post(
        idempotency_key=idempotency_key,
        memo=memo,
        postings=postings,
        reference_type=entry.reference_type,
        reference_id=entry.reference_id,
        actor=actor,
        reverses=entry,
    )


# --- Notifications -----------------------------------------------------------------------
STATUS_MESSAGES = {
    WithdrawalStatus.REQUESTED: (
        "Withdrawal awaiting approval",
        "We received your withdrawal of {amount}. A finance officer will review it shortly.",
    ),
    WithdrawalStatus.APPROVED: (
        "Withdrawal approved",
        "Your withdrawal of {amount} to {destination} is approved and will be sent shortly.",
    ),
    WithdrawalStatus.SENDING: (
        "Withdrawal on its way",
        "We sent your withdrawal of {amount} to {destination}.",
    ),
    WithdrawalStatus.SUCCEEDED: (
        "Withdrawal paid",
        "{amount} was paid to {destination}.",
    ),
    WithdrawalStatus.FAILED: (
        "Withdrawal failed",
        "Your withdrawal of {amount} to {destination} failed ({reason}). "
        "The money is back in your wallet.",
    ),
    WithdrawalStatus.NEEDS_REVIEW: (
        "Withdrawal delayed",
        "Your withdrawal of {amount} is taking longer than usual; our finance team is "
        "checking it with the provider. The money stays reserved for you.",
    ),
    WithdrawalStatus.REJECTED: (
        "Withdrawal not approved",
        "Your withdrawal of {amount} was not approved: {reason}. The money is back in your wallet.",
    ),
    WithdrawalStatus.CANCELLED: (
        "Withdrawal cancelled",
        "You cancelled your withdrawal of {amount}. The money is back in your wallet.",
    ),
}


def _masked(msisdn: str) -> str:
    return f"…{msisdn[-4:]}" if msisdn else ""


def _notify_status(withdrawal: Withdrawal, *, reason: str = "") -> None:
    title, template = STATUS_MESSAGES[withdrawal.status]
    amount = f"{withdrawal.currency} {withdrawal.amount:,.2f}"
    body = template.format(
        amount=amount,
        destination=f"{withdrawal.network.upper()} {_masked(withdrawal.msisdn)}",
        reason=reason or "no reason given",
    )
    notify(
        user=withdrawal.user,
        kind=NotificationKind.WITHDRAWAL_STATUS,
        title=title,
        body=body,
        link=f"/wallet/withdrawals/{withdrawal.pk}",
        priority=(
            NotificationPriority.HIGH
            if withdrawal.status in (WithdrawalStatus.FAILED, WithdrawalStatus.REJECTED)
            else NotificationPriority.NORMAL
        ),
        context={
            "status": withdrawal.get_status_display(),
            "amount": amount,
            "reference": str(withdrawal.reference_id),
        },
    )


def _finance_staff() -> list[User]:
    return list(
        User.objects.filter(
            role=Role.ADMIN,
            staff_role__in=[StaffRole.FINANCE, StaffRole.SUPERADMIN],
            is_active=True,
        ).order_by("pk")
    )


def _notify_finance(*, title: str, body: str, link: str = "") -> None:
    for staff in _finance_staff():
        notify(
            user=staff,
            kind=NotificationKind.WITHDRAWAL_STATUS,
            title=title,
            body=body,
            link=link,
            priority=NotificationPriority.HIGH,
        )


# --- Withdrawals -------------------------------------------------------------------------
def _snapshot(withdrawal: Withdrawal) -> dict[str, Any]:
    return {
        "status": withdrawal.status,
        "amount": str(withdrawal.amount),
        "provider_status": withdrawal.provider_status,
        "failure_reason": withdrawal.failure_reason,
    }


def _locked(withdrawal_id: int) -> Withdrawal:
    found = (
        Withdrawal.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=withdrawal_id)
        .first()
    )
    if found is None:
        raise NotFound("No such withdrawal.")
    return found


def _send_on_commit(withdrawal_id: int) -> None:
    from wallets.tasks import send_withdrawal

    # robust: a broker outage must not undo or fail the approval that already
    # committed; withdrawals_poll_stuck re-queues approved withdrawals that never left.
    transaction.on_commit(
        lambda: send_withdrawal.apply_async(kwargs={"withdrawal_id": withdrawal_id}),
        robust=True,
    )


def _hold_release(withdrawal: Withdrawal, *, memo: str, actor: User | None) -> JournalEntry:
    entry = ledger_reverse(
        entry=withdrawal.hold_entry,
        idempotency_key=f"withdrawal:{withdrawal.pk}:release",
        memo=memo,
        actor=actor,
    )
    withdrawal.release_entry = entry
    return entry


def _settle(withdrawal: Withdrawal, *, actor: User | None) -> JournalEntry:
    amount = withdrawal.amount
    entry = ledger_post(
        idempotency_key=f"withdrawal:{withdrawal.pk}:settle",
        memo=f"Withdrawal #{withdrawal.pk} paid via {withdrawal.provider}",
        postings=[
            Posting.debit(platform_account("payout_clearing"), amount),
            Posting.credit(platform_account(f"provider_settlement:{withdrawal.provider}"), amount),
        ],
        reference_type="withdrawal",
        reference_id=withdrawal.pk,
        actor=actor,
    )
    withdrawal.settlement_entry = entry
    return entry


def withdrawal_request(*, user: User, amount: Decimal | str, request_key: str = "") -> Withdrawal:
    """Holds `amount` of the payee's wallet in payout clearing and records the withdrawal.

    Audited and notified; at or below the approval threshold it is approved at once
    and the send task is queued on commit. A repeated `request_key` returns the first row.
    """
    if user.role not in (Role.ARTIST, Role.PUBLISHER):
        raise Forbidden("Only artist and publisher accounts withdraw royalties.")
    amount = _money(amount)
    request_key = (request_key or "").strip()[:100]
    if request_key:
        previous = Withdrawal.objects.filter(user=user, request_key=request_key).first()
        if previous is not None:
            return _same_request(previous, amount)
    minimum = settings.WALLETS_MIN_WITHDRAWAL
    if amount < minimum:
        raise ValidationFailed(
            "The amount is below the minimum withdrawal.",
            details={"amount": [f"The minimum withdrawal is {settings.CURRENCY} {minimum:.2f}."]},
        )
    destination = payout_destination_for(user=user)
    if destination is None:
        raise ValidationFailed(
            "Add your mobile money number before withdrawing.",
            code="payout_details_missing",
        )
    if not destination.kyc_approved:
        raise Forbidden(
            "Your identity check (KYC) must be approved before you can withdraw.",
            code="kyc_not_approved",
            details={"kyc_status": destination.kyc_status},
        )
    cooling_off_until = destination.changed_at + timedelta(
        hours=settings.WALLETS_PAYOUT_COOLING_OFF_HOURS
    )
    if timezone.now() < cooling_off_until:
        raise Conflict(
            "Your payout number changed recently; withdrawals open again after the "
            "cooling-off period.",
            code="payout_cooling_off",
            details={"available_from": cooling_off_until.isoformat()},
        )
    provider = provider_for_network(destination.network)

    with transaction.atomic():
        wallet = account_for_user(user_id=user.pk)
        clearing = platform_account("payout_clearing")
        # The wallet row lock serialises every withdrawal of this payee: the balance
        # read below cannot be spent twice by concurrent requests. Both accounts are
        # locked in id order, as ledger_post does, so a concurrent release cannot deadlock.
        locked = {
            a.pk: a
            for a in Account.objects.select_for_update()
            .filter(pk__in=[wallet.pk, clearing.pk])
            .order_by("pk")
        }
        wallet, clearing = locked[wallet.pk], locked[clearing.pk]
        if request_key:
            previous = Withdrawal.objects.filter(user=user, request_key=request_key).first()
            if previous is not None:
                return _same_request(previous, amount)
        available = wallet.display_balance
        if amount > available:
            raise ValidationFailed(
                "The amount is more than your available balance.",
                code="insufficient_funds",
                details={
                    "amount": [f"Your available balance is {wallet.currency} {available:.2f}."]
                },
            )
        withdrawal = Withdrawal.objects.create(
            user=user,
            amount=amount,
            currency=wallet.currency,
            msisdn=destination.msisdn,
            network=destination.network,
            provider=provider.code,
            request_key=request_key,
            requires_approval=amount > settings.WALLETS_APPROVAL_THRESHOLD,
        )
        withdrawal.hold_entry = ledger_post(
            idempotency_key=f"withdrawal:{withdrawal.pk}:hold",
            memo=f"Withdrawal #{withdrawal.pk} to {withdrawal.network.upper()} "
            f"{_masked(withdrawal.msisdn)}",
            postings=[
                Posting.debit(wallet, amount),
                Posting.credit(clearing, amount),
            ],
            reference_type="withdrawal",
            reference_id=withdrawal.pk,
            actor=user,
        )
        withdrawal.save(update_fields=["hold_entry", "updated_at"])
        audit_record(
            actor=user,
            action="withdrawal.request",
            target=withdrawal,
            after={**_snapshot(withdrawal), "msisdn": _masked(withdrawal.msisdn)},
        )
        if withdrawal.requires_approval:
            _notify_status(withdrawal)
            _notify_finance(
                title="Withdrawal awaiting approval",
                body=f"Withdrawal #{withdrawal.pk} of {withdrawal.currency} "
                f"{withdrawal.amount:,.2f} by {user.email} needs approval.",
                link=f"/finance/withdrawals/{withdrawal.pk}",
            )
        else:
            _approve(withdrawal, actor=None)
    return withdrawal


def _same_request(previous: Withdrawal, amount: Decimal) -> Withdrawal:
    if previous.amount != amount:
        raise Conflict(
            "This request key was already used for a different amount.",
            code="request_key_reused",
            details={"withdrawal_id": previous.pk},
        )
    return previous


def _approve(withdrawal: Withdrawal, *, actor: User | None) -> None:
    before = _snapshot(withdrawal)
    withdrawal.status = WithdrawalStatus.APPROVED
    withdrawal.approved_by = actor
    withdrawal.approved_at = timezone.now()
    withdrawal.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    audit_record(
        actor=actor,
        action="withdrawal.approve" if actor else "withdrawal.auto_approve",
        target=withdrawal,
        before=before,
        after=_snapshot(withdrawal),
    )
    _notify_status(withdrawal)
    _send_on_commit(withdrawal.pk)


def _require_finance(actor: User) -> None:
    if not (
        actor.role == Role.ADMIN
        and actor.staff_role in (StaffRole.FINANCE, StaffRole.SUPERADMIN)
        and actor.is_active
    ):
        raise Forbidden("Only finance staff decide withdrawals.")


@transaction.atomic
def withdrawal_approve(*, actor: User, withdrawal_id: int) -> Withdrawal:
    """Finance approves a requested withdrawal; audited, notified, send task queued on commit."""
    _require_finance(actor)
    withdrawal = _locked(withdrawal_id)
    if withdrawal.status != WithdrawalStatus.REQUESTED:
        raise InvalidTransition(f"This withdrawal is {withdrawal.status}, not awaiting approval.")
    _approve(withdrawal, actor=actor)
    return withdrawal


@transaction.atomic
def withdrawal_reject(*, actor: User, withdrawal_id: int, reason: str) -> Withdrawal:
    """Finance rejects a requested withdrawal; the hold returns to the wallet; audited, notified."""
    _require_finance(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give the reason for rejecting.", details={"reason": ["Required."]})
    withdrawal = _locked(withdrawal_id)
    if withdrawal.status != WithdrawalStatus.REQUESTED:
        raise InvalidTransition(f"This withdrawal is {withdrawal.status}, not awaiting approval.")
    before = _snapshot(withdrawal)
    _hold_release(withdrawal, memo=f"Withdrawal #{withdrawal.pk} rejected", actor=actor)
    withdrawal.status = WithdrawalStatus.REJECTED
    withdrawal.rejected_by = actor
    withdrawal.rejection_reason = reason[:500]
    withdrawal.completed_at = timezone.now()
    withdrawal.save()
    audit_record(
        actor=actor,
        action="withdrawal.reject",
        target=withdrawal,
        before=before,
        after={**_snapshot(withdrawal), "reason": reason},
    )
    _notify_status(withdrawal, reason=reason)
    return withdrawal


@transaction.atomic
def withdrawal_cancel(*, user: User, withdrawal_id: int) -> Withdrawal:
    """The payee withdraws its own request while it awaits approval; the hold is released."""
    withdrawal = _locked(withdrawal_id)
    if withdrawal.user_id != user.pk:
        raise NotFound("No such withdrawal.")
    if withdrawal.status != WithdrawalStatus.REQUESTED:
        raise InvalidTransition(
            f"This withdrawal is {withdrawal.status}; it can no longer be cancelled."
        )
    before = _snapshot(withdrawal)
    _hold_release(withdrawal, memo=f"Withdrawal #{withdrawal.pk} cancelled", actor=user)
    withdrawal.status = WithdrawalStatus.CANCELLED
    withdrawal.completed_at = timezone.now()
    withdrawal.save()
    audit_record(
        actor=user,
        action="withdrawal.cancel",
        target=withdrawal,
        before=before,
        after=_snapshot(withdrawal),
    )
    _notify_status(withdrawal)
    return withdrawal


@transaction.atomic
def withdrawal_mark_sending(*, withdrawal_id: int) -> Withdrawal | None:
    """Moves an approved withdrawal to sending (committed before any provider call); audited.

    Returns the withdrawal if a provider call is due (approved or already sending),
    None if the row is gone or in any other state.
    """
    withdrawal = Withdrawal.objects.select_for_update().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        return None
    if withdrawal.status == WithdrawalStatus.APPROVED:
        before = _snapshot(withdrawal)
        withdrawal.status = WithdrawalStatus.SENDING
        withdrawal.sent_at = timezone.now()
        audit_record(
            actor=None,
            action="withdrawal.sending",
            target=withdrawal,
            before=before,
            after=_snapshot(withdrawal),
        )
        _notify_status(withdrawal)
    elif withdrawal.status != WithdrawalStatus.SENDING:
        return None
    withdrawal.send_attempts = F("send_attempts") + 1
    withdrawal.save()
    withdrawal.refresh_from_db()
    return withdrawal


def _transfer_request(withdrawal: Withdrawal) -> TransferRequest:
    return TransferRequest(
        reference_id=withdrawal.reference_id,
        amount=withdrawal.amount,
        currency=withdrawal.currency,
        msisdn=withdrawal.msisdn,
        network=withdrawal.network,
        external_id=str(withdrawal.reference_id),
        payer_message=f"ZamIO withdrawal #{withdrawal.pk}",
    )


def withdrawal_send(*, withdrawal_id: int) -> Withdrawal | None:
    """Sends an approved (or interrupted) withdrawal to its provider and applies the answer.

    Safe to run any number of times: the provider reference was saved with the row,
    so a repeat POST is the same transfer (409 at MTN) and the settlement/release
    entries are keyed by the withdrawal. Raises ProviderError when the outcome is
    unknown and the call should be retried later.
    """
    withdrawal = withdrawal_mark_sending(withdrawal_id=withdrawal_id)
    if withdrawal is None:
        return None
    provider = get_provider(withdrawal.provider)
    try:
        result = provider.transfer(_transfer_request(withdrawal))
    except ProviderTimeout:
        # The POST may have landed: ask for the same reference before anything else.
        logger.warning("Transfer for withdrawal %s timed out; polling", withdrawal.pk)
        result = provider.transfer_status(withdrawal.reference_id)
        if result.status == TransferStatus.NOT_FOUND:
            raise ProviderTimeout(
                f"Transfer {withdrawal.reference_id} not at the provider yet; retry later."
            ) from None
    except ProviderRejected as exc:
        return withdrawal_mark_failed(
            withdrawal_id=withdrawal.pk,
            reason=FailureReason.PROVIDER_REJECTED,
            provider_reason=exc.reason,
        )
    if result.status == TransferStatus.PENDING and not result.accepted:
        return _record_check(withdrawal.pk, result)
    if result.status == TransferStatus.PENDING:
        # Accepted: the provider usually knows the outcome within a second.
        result = provider.transfer_status(withdrawal.reference_id)
    return withdrawal_apply_result(withdrawal_id=withdrawal.pk, result=result)


def withdrawal_apply_result(*, withdrawal_id: int, result: TransferResult) -> Withdrawal:
    """Applies a provider answer that WE fetched: final → succeeded/failed, else records it."""
    if result.status == TransferStatus.SUCCESSFUL:
        return withdrawal_mark_succeeded(
            withdrawal_id=withdrawal_id,
            provider_transaction_id=result.financial_transaction_id,
        )
    if result.status == TransferStatus.FAILED:
        return withdrawal_mark_failed(
            withdrawal_id=withdrawal_id,
            reason=failure_reason_for(result.reason),
            provider_reason=result.reason,
        )
    return _record_check(withdrawal_id, result)


def _record_check(withdrawal_id: int, result: TransferResult) -> Withdrawal:
    Withdrawal.objects.filter(pk=withdrawal_id).update(
        provider_status=str(result.status), last_checked_at=timezone.now()
    )
    return Withdrawal.objects.select_related("user").get(pk=withdrawal_id)


# MTN MoMo FAILED reasons → what they mean for us. Every FAILED transfer is final at
# the provider (no money moved), so all of them release the hold.
PROVIDER_FAILURE_REASONS: dict[str, str] = {
    "PAYEE_NOT_FOUND": FailureReason.PAYEE_NOT_FOUND,
    "PAYEE_NOT_ALLOWED_TO_RECEIVE": FailureReason.PAYEE_NOT_ALLOWED,
    "NOT_ALLOWED": FailureReason.PAYEE_NOT_ALLOWED,
    "NOT_ENOUGH_FUNDS": FailureReason.PROVIDER_INSUFFICIENT_FUNDS,
    "PAYER_LIMIT_REACHED": FailureReason.PROVIDER_LIMIT,
    "PAYER_NOT_FOUND": FailureReason.PROVIDER_ERROR,
    "INTERNAL_PROCESSING_ERROR": FailureReason.PROVIDER_ERROR,
    "SERVICE_UNAVAILABLE": FailureReason.PROVIDER_ERROR,
    "COULD_NOT_PERFORM_TRANSACTION": FailureReason.PROVIDER_ERROR,
    "EXPIRED": FailureReason.EXPIRED,
    "TRANSACTION_CANCELED": FailureReason.EXPIRED,
    "APPROVAL_REJECTED": FailureReason.EXPIRED,
    "PAYMENT_NOT_APPROVED": FailureReason.EXPIRED,
}
# Failures that are the platform's problem, not the payee's: finance is alerted.
PLATFORM_FAILURES = frozenset(
    {
        FailureReason.PROVIDER_INSUFFICIENT_FUNDS,
        FailureReason.PROVIDER_LIMIT,
        FailureReason.PROVIDER_ERROR,
        FailureReason.PROVIDER_REJECTED,
    }
)


def failure_reason_for(provider_reason: str) -> str:
    return PROVIDER_FAILURE_REASONS.get((provider_reason or "").upper(), FailureReason.OTHER)


@transaction.atomic
def withdrawal_mark_succeeded(
    *,
    withdrawal_id: int,
    provider_transaction_id: str = "",
    actor: User | None = None,
    note: str = "",
) -> Withdrawal:
    """Settles the held amount to the provider account; audited, notified. No-op when final."""
    withdrawal = _locked(withdrawal_id)
    if withdrawal.is_terminal:
        if withdrawal.status != WithdrawalStatus.SUCCEEDED:
            logger.error(
                "Provider reports withdrawal %s paid, but it is %s; reconciliation will flag it",
                withdrawal.pk,
                withdrawal.status,
            )
        return withdrawal
    if withdrawal.status not in (WithdrawalStatus.SENDING, WithdrawalStatus.NEEDS_REVIEW):
        raise InvalidTransition(f"A {withdrawal.status} withdrawal cannot be marked paid.")
    before = _snapshot(withdrawal)
    _settle(withdrawal, actor=actor)
    withdrawal.status = WithdrawalStatus.SUCCEEDED
    withdrawal.provider_status = TransferStatus.SUCCESSFUL
    withdrawal.provider_transaction_id = provider_transaction_id[:100]
    withdrawal.completed_at = timezone.now()
    withdrawal.last_checked_at = timezone.now()
    if note:
        withdrawal.review_note = note[:500]
    withdrawal.save()
    audit_record(
        actor=actor,
        action="withdrawal.succeed",
        target=withdrawal,
        before=before,
        after={**_snapshot(withdrawal), "note": note},
    )
    _notify_status(withdrawal)
    return withdrawal


@transaction.atomic
def withdrawal_mark_failed(
    *,
    withdrawal_id: int,
    reason: str,
    provider_reason: str = "",
    actor: User | None = None,
    note: str = "",
) -> Withdrawal:
    """Returns the held amount to the wallet; audited, notified (finance too when it is
    the platform's fault). No-op when the withdrawal is already final."""
    withdrawal = _locked(withdrawal_id)
    if withdrawal.is_terminal:
        if withdrawal.status != WithdrawalStatus.FAILED:
            logger.error(
                "Provider reports withdrawal %s failed, but it is %s; reconciliation will flag it",
                withdrawal.pk,
                withdrawal.status,
            )
        return withdrawal
    if withdrawal.status not in (
        WithdrawalStatus.APPROVED,
        WithdrawalStatus.SENDING,
        WithdrawalStatus.NEEDS_REVIEW,
    ):
        raise InvalidTransition(f"A {withdrawal.status} withdrawal cannot be marked failed.")
    before = _snapshot(withdrawal)
    _hold_release(withdrawal, memo=f"Withdrawal #{withdrawal.pk} failed: {reason}", actor=actor)
    withdrawal.status = WithdrawalStatus.FAILED
    withdrawal.failure_reason = reason
    withdrawal.provider_reason = provider_reason[:100]
    if provider_reason or actor is None:
        withdrawal.provider_status = TransferStatus.FAILED
    withdrawal.completed_at = timezone.now()
    withdrawal.last_checked_at = timezone.now()
    if note:
        withdrawal.review_note = note[:500]
    withdrawal.save()
    audit_record(
        actor=actor,
        action="withdrawal.fail",
        target=withdrawal,
        before=before,
        after={**_snapshot(withdrawal), "provider_reason": provider_reason, "note": note},
    )
    _notify_status(withdrawal, reason=FailureReason(reason).label)
    if reason in PLATFORM_FAILURES:
        _notify_finance(
            title="Payout failed on the platform side",
            body=f"Withdrawal #{withdrawal.pk} failed at {withdrawal.provider}: "
            f"{provider_reason or reason}. Check the payout account.",
            link=f"/finance/withdrawals/{withdrawal.pk}",
        )
    return withdrawal


@transaction.atomic
def withdrawal_mark_needs_review(*, withdrawal_id: int, note: str) -> Withdrawal:
    """Flags a sending withdrawal whose outcome is unconfirmed; audited; payee and finance told."""
    withdrawal = _locked(withdrawal_id)
    if withdrawal.status == WithdrawalStatus.NEEDS_REVIEW or withdrawal.is_terminal:
        return withdrawal
    if withdrawal.status != WithdrawalStatus.SENDING:
        raise InvalidTransition(f"A {withdrawal.status} withdrawal cannot need review.")
    before = _snapshot(withdrawal)
    withdrawal.status = WithdrawalStatus.NEEDS_REVIEW
    withdrawal.review_note = note[:500]
    withdrawal.save()
    audit_record(
        actor=None,
        action="withdrawal.needs_review",
        target=withdrawal,
        before=before,
        after={**_snapshot(withdrawal), "note": note},
    )
    _notify_status(withdrawal)
    _notify_finance(
        title="Withdrawal needs review",
        body=f"Withdrawal #{withdrawal.pk} ({withdrawal.currency} {withdrawal.amount:,.2f}): "
        f"{note}",
        link=f"/finance/withdrawals/{withdrawal.pk}",
    )
    return withdrawal


def withdrawal_refresh(*, withdrawal_id: int) -> Withdrawal | None:
    """Asks the provider for the transfer's status and applies it.

    A sending withdrawal the provider has never heard of is sent again with the
    same reference. Raises ProviderError when the provider cannot be asked.
    """
    withdrawal = Withdrawal.objects.filter(pk=withdrawal_id).first()
    if withdrawal is None or withdrawal.status not in (
        WithdrawalStatus.SENDING,
        WithdrawalStatus.NEEDS_REVIEW,
    ):
        return withdrawal
    result = get_provider(withdrawal.provider).transfer_status(withdrawal.reference_id)
    if result.status == TransferStatus.NOT_FOUND and withdrawal.status == WithdrawalStatus.SENDING:
        return withdrawal_send(withdrawal_id=withdrawal.pk)
    return withdrawal_apply_result(withdrawal_id=withdrawal.pk, result=result)


class ProviderUnreachable(DomainError):
    status_code = 503
    code = "provider_unavailable"


def withdrawal_recheck(*, actor: User, withdrawal_id: int) -> Withdrawal:
    """Finance asks the provider about a withdrawal now and applies its answer."""
    _require_finance(actor)
    if not Withdrawal.objects.filter(pk=withdrawal_id).exists():
        raise NotFound("No such withdrawal.")
    try:
        withdrawal = withdrawal_refresh(withdrawal_id=withdrawal_id)
    except ProviderError as exc:
        raise ProviderUnreachable(
            "The payout provider could not be asked; try again shortly.",
            details={"provider_error": str(exc)[:200]},
        ) from None
    return Withdrawal.objects.select_related("user").get(pk=withdrawal.pk)


def withdrawal_resolve(*, actor: User, withdrawal_id: int, outcome: str, note: str) -> Withdrawal:
    """Finance settles a withdrawal in review by hand (after checking with the provider)."""
    _require_finance(actor)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(
            "Say how the outcome was confirmed.", details={"note": ["Required."]}
        )
    withdrawal = Withdrawal.objects.filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound("No such withdrawal.")
    if withdrawal.status != WithdrawalStatus.NEEDS_REVIEW:
        raise InvalidTransition(
            f"Only withdrawals in review are resolved by hand, not {withdrawal.status}."
        )
    if outcome == WithdrawalStatus.SUCCEEDED:
        return withdrawal_mark_succeeded(withdrawal_id=withdrawal.pk, actor=actor, note=note)
    if outcome == WithdrawalStatus.FAILED:
        return withdrawal_mark_failed(
            withdrawal_id=withdrawal.pk, reason=FailureReason.MANUAL, actor=actor, note=note
        )
    raise ValidationFailed("Unknown outcome.", details={"outcome": ["succeeded or failed."]})


# --- Callbacks ---------------------------------------------------------------------------
MAX_STORED_CALLBACK_BYTES = 8192


def payout_callback_handle(
    *, provider: str, payload: dict, remote_ip: str | None = None
) -> PayoutCallback:
    """Records a provider callback and, for a live withdrawal, queues a status check on commit.

    The callback's claims are never applied: the queued check asks the provider
    itself (GET by reference). Unknown references and final withdrawals are logged
    and ignored, so replays and out-of-order callbacks change nothing.
    """
    if not isinstance(payload, dict):
        payload = {}
    raw_reference = str(payload.get("referenceId") or payload.get("externalId") or "")
    claimed = str(payload.get("status") or "")[:20]
    stored = payload
    if len(json.dumps(payload, default=str)) > MAX_STORED_CALLBACK_BYTES:
        stored = {"truncated": True}
    try:
        reference = uuid.UUID(raw_reference)
    except ValueError:
        reference = None
    withdrawal = (
        Withdrawal.objects.filter(reference_id=reference, provider=provider).first()
        if reference
        else None
    )
    if reference is None:
        outcome = CallbackOutcome.MALFORMED
    elif withdrawal is None:
        outcome = CallbackOutcome.UNKNOWN_REFERENCE
    elif withdrawal.is_terminal:
        outcome = CallbackOutcome.ALREADY_FINAL
    else:
        outcome = CallbackOutcome.QUEUED
    if outcome != CallbackOutcome.QUEUED:
        logger.warning(
            "Ignored %s payout callback (%s) for reference %r from %s",
            provider,
            outcome,
            raw_reference[:64],
            remote_ip,
        )
    with transaction.atomic():
        callback = PayoutCallback.objects.create(
            provider=provider,
            reference_id=raw_reference[:64],
            withdrawal=withdrawal,
            claimed_status=claimed,
            payload=stored,
            remote_ip=remote_ip,
            outcome=outcome,
        )
        if outcome == CallbackOutcome.QUEUED:
            from wallets.tasks import refresh_withdrawal

            withdrawal_id = withdrawal.pk
            transaction.on_commit(
                lambda: refresh_withdrawal.apply_async(kwargs={"withdrawal_id": withdrawal_id}),
                robust=True,
            )
    return callback


# --- Sweeper and reconciliation ----------------------------------------------------------
# Each check is one provider call (at most MOMO_TIMEOUT_SECONDS): the batch fits the task limit.
SWEEP_BATCH = 25


@dataclass
class SweepReport:
    resent: int = 0
    checked: int = 0
    settled: int = 0
    to_review: int = 0
    errors: int = 0


def withdrawals_poll_stuck() -> SweepReport:
    """Re-queues approved withdrawals that never left, polls those in sending, and moves
    the ones still unconfirmed after WALLETS_PAYOUT_REVIEW_AFTER_MINUTES to needs review."""
    now = timezone.now()
    report = SweepReport()
    resend_before = now - timedelta(minutes=settings.WALLETS_PAYOUT_RESEND_AFTER_MINUTES)
    stale_approved = Withdrawal.objects.filter(
        status=WithdrawalStatus.APPROVED, approved_at__lt=resend_before
    ).values_list("pk", flat=True)[:SWEEP_BATCH]
    for withdrawal_id in stale_approved:
        _send_on_commit(withdrawal_id)
        report.resent += 1

    review_before = now - timedelta(minutes=settings.WALLETS_PAYOUT_REVIEW_AFTER_MINUTES)
    # Withdrawals in review are polled too: the provider may settle them on its own.
    sending = Withdrawal.objects.filter(
        status__in=[WithdrawalStatus.SENDING, WithdrawalStatus.NEEDS_REVIEW]
    ).order_by(F("last_checked_at").asc(nulls_first=True), "pk")[:SWEEP_BATCH]
    for withdrawal in sending:
        report.checked += 1
        problem = ""
        try:
            refreshed = withdrawal_refresh(withdrawal_id=withdrawal.pk)
        except ProviderError as exc:
            logger.warning("Could not check withdrawal %s: %s", withdrawal.pk, exc)
            report.errors += 1
            refreshed, problem = withdrawal, f"provider could not be asked ({exc})"
        if refreshed is None:
            continue
        if refreshed.is_terminal:
            report.settled += 1
        elif (
            refreshed.status == WithdrawalStatus.SENDING
            and withdrawal.sent_at is not None
            and withdrawal.sent_at < review_before
        ):
            minutes = settings.WALLETS_PAYOUT_REVIEW_AFTER_MINUTES
            withdrawal_mark_needs_review(
                withdrawal_id=withdrawal.pk,
                note=f"Not confirmed by {withdrawal.provider} after {minutes} minutes"
                + (f"; {problem}" if problem else f" (status {refreshed.provider_status})."),
            )
            report.to_review += 1
    return report


def _expected_ledger_problems(withdrawal: Withdrawal) -> list[str]:
    problems = []
    if withdrawal.hold_entry_id is None:
        problems.append("no hold entry")
    if withdrawal.status == WithdrawalStatus.SUCCEEDED:
        if withdrawal.settlement_entry_id is None:
            problems.append("paid but not settled in the ledger")
    elif withdrawal.status in (
        WithdrawalStatus.FAILED,
        WithdrawalStatus.REJECTED,
        WithdrawalStatus.CANCELLED,
    ):
        if withdrawal.release_entry_id is None:
            problems.append(f"{withdrawal.status} but the hold was not released")
    elif withdrawal.settlement_entry_id or withdrawal.release_entry_id:
        problems.append(f"{withdrawal.status} but already settled or released")
    return problems


def _provider_problem(withdrawal: Withdrawal, result: TransferResult) -> str:
    status = result.status
    if withdrawal.status == WithdrawalStatus.SUCCEEDED and status != TransferStatus.SUCCESSFUL:
        return f"paid in the ledger, provider says {status}"
    if withdrawal.status == WithdrawalStatus.FAILED and status in (
        TransferStatus.SUCCESSFUL,
        TransferStatus.PENDING,
    ):
        return f"refunded in the ledger, provider says {status}"
    if withdrawal.status in (WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED) and (
        status != TransferStatus.NOT_FOUND
    ):
        return f"{withdrawal.status} but the provider has the transfer ({status})"
    if withdrawal.status in (WithdrawalStatus.SENDING, WithdrawalStatus.NEEDS_REVIEW) and (
        result.is_final
    ):
        return f"still {withdrawal.status} here, provider says {status}"
    return ""


def ledger_reconcile() -> ReconciliationRun:
    """Checks cached balances, entry balance, withdrawal ↔ ledger and provider ↔ ledger;
    stores a ReconciliationRun and alerts finance about any difference."""
    run = ReconciliationRun.objects.create()
    found: list[dict[str, Any]] = []

    accounts = Account.objects.annotate(
        total=Coalesce(Sum("postings__amount"), Decimal("0"))
    ).order_by("pk")
    for account in accounts:
        run.accounts_checked += 1
        if account.total != account.balance:
            found.append(
                {
                    "kind": "account_balance",
                    "account": account.code,
                    "cached": str(account.balance),
                    "postings": str(account.total),
                }
            )
    entries = JournalEntry.objects.annotate(total=Coalesce(Sum("postings__amount"), Decimal("0")))
    run.entries_checked = entries.count()
    for entry in entries.exclude(total=0).order_by("pk"):
        found.append({"kind": "unbalanced_entry", "entry": entry.pk, "total": str(entry.total)})

    held = Withdrawal.objects.filter(status__in=HELD_STATUSES).aggregate(
        total=Coalesce(Sum("amount"), Decimal("0"))
    )["total"]
    clearing = Account.objects.filter(code="platform:payout_clearing").first()
    clearing_balance = clearing.display_balance if clearing else Decimal("0.00")
    if clearing_balance != held:
        found.append(
            {"kind": "clearing_balance", "clearing": str(clearing_balance), "held": str(held)}
        )

    since = timezone.now() - timedelta(days=settings.WALLETS_RECONCILE_LOOKBACK_DAYS)
    recent = Withdrawal.objects.filter(
        Q(updated_at__gte=since) | Q(status__in=HELD_STATUSES)
    ).order_by("pk")
    for withdrawal in recent:
        run.withdrawals_checked += 1
        for problem in _expected_ledger_problems(withdrawal):
            found.append(
                {"kind": "withdrawal_ledger", "withdrawal": withdrawal.pk, "problem": problem}
            )
        if withdrawal.status in (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED):
            continue
        try:
            result = get_provider(withdrawal.provider).transfer_status(withdrawal.reference_id)
        except ProviderError as exc:
            found.append(
                {
                    "kind": "provider_unreachable",
                    "withdrawal": withdrawal.pk,
                    "problem": str(exc)[:200],
                }
            )
            continue
        problem = _provider_problem(withdrawal, result)
        if problem:
            found.append(
                {
                    "kind": "withdrawal_provider",
                    "withdrawal": withdrawal.pk,
                    "status": withdrawal.status,
                    "provider_status": str(result.status),
                    "problem": problem,
                }
            )

    run.discrepancies = found
    run.finished_at = timezone.now()
    with transaction.atomic():
        run.save()
        if found:
            logger.error("Ledger reconciliation found %d difference(s)", len(found))
            _notify_finance(
                title="Ledger reconciliation found differences",
                body=f"{len(found)} difference(s) between the ledger, withdrawals and the "
                f"payout provider. See reconciliation run #{run.pk}.",
                link=f"/finance/reconciliation/{run.pk}",
            )
    return run
