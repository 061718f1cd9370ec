"""Withdrawal rules and state machine, paid out through the local sandbox provider."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conftest import make_user
from notifications.models import Notification
from users.models import AuditLog
from wallets import selectors, services
from wallets.models import (
    Account,
    FailureReason,
    JournalEntry,
    SandboxTransfer,
    Withdrawal,
    WithdrawalStatus,
)
from wallets.tests.factories import fund, make_payee
from zamio.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed

pytestmark = pytest.mark.django_db

D = Decimal


def _balance(user) -> tuple[Decimal, Decimal]:
    balance = selectors.wallet_balance(user=user)
    return balance.available, balance.pending


def _clearing() -> Decimal:
    return services.platform_account("payout_clearing").display_balance


def _audit_actions(withdrawal) -> list[str]:
    return list(
        AuditLog.objects.filter(target_type="wallets.withdrawal", target_id=str(withdrawal.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_small_withdrawal_is_approved_sent_and_settled(django_capture_on_commit_callbacks):
    payee = make_payee(msisdn="0241234567")
    fund(payee, "150.00")

    with django_capture_on_commit_callbacks(execute=True):
        withdrawal = services.withdrawal_request(user=payee, amount=D("100.00"))

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert (withdrawal.msisdn, withdrawal.network, withdrawal.provider) == (
        "233241234567",
        "mtn",
        "sandbox",
    )
    assert withdrawal.requires_approval is False
    assert withdrawal.provider_transaction_id != ""
    assert _balance(payee) == (D("50.00"), D("0.00"))
    assert selectors.wallet_balance(user=payee).paid_out == D("100.00")
    assert _clearing() == D("0.00")
    assert services.platform_account("provider_settlement:sandbox").display_balance == D("100.00")
    assert SandboxTransfer.objects.get().reference_id == withdrawal.reference_id
    assert _audit_actions(withdrawal) == [
        "withdrawal.request",
        "withdrawal.auto_approve",
        "withdrawal.sending",
        "withdrawal.succeed",
    ]
    assert list(
        Notification.objects.filter(user=payee, kind="withdrawal_status")
        .order_by("id")
        .values_list("title", flat=True)
    ) == ["Withdrawal approved", "Withdrawal on its way", "Withdrawal paid"]


def test_provider_failure_returns_the_money(django_capture_on_commit_callbacks):
    payee = make_payee(msisdn="0241234569")  # the sandbox fails numbers ending in 9
    fund(payee, "80.00")

    with django_capture_on_commit_callbacks(execute=True):
        withdrawal = services.withdrawal_request(user=payee, amount=D("80.00"))

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.FAILED
    assert withdrawal.failure_reason == FailureReason.PAYEE_NOT_FOUND
    assert withdrawal.provider_reason == "PAYEE_NOT_FOUND"
    assert withdrawal.release_entry.reverses_id == withdrawal.hold_entry_id
    assert withdrawal.settlement_entry_id is None
    assert _balance(payee) == (D("80.00"), D("0.00"))
    assert _clearing() == D("0.00")
    assert Notification.objects.filter(user=payee, title="Withdrawal failed").count() == 1


def test_large_withdrawal_waits_for_finance_and_holds_the_money(
    django_capture_on_commit_callbacks,
):
    payee = make_payee()
    finance = make_user("admin", staff_role="finance")
    fund(payee, "5000.00")

    withdrawal = services.withdrawal_request(user=payee, amount=D("1000.01"))
    assert (withdrawal.status, withdrawal.requires_approval) == (WithdrawalStatus.REQUESTED, True)
    assert _balance(payee) == (D("3999.99"), D("1000.01"))
    assert _clearing() == D("1000.01")
    assert Notification.objects.filter(user=finance, title="Withdrawal awaiting approval").exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.withdrawal_approve(actor=finance, withdrawal_id=withdrawal.pk)
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert withdrawal.approved_by == finance
    assert _balance(payee) == (D("3999.99"), D("0.00"))
    assert _audit_actions(withdrawal)[:2] == ["withdrawal.request", "withdrawal.approve"]


def test_at_the_threshold_no_approval_is_needed():
    payee = make_payee()
    fund(payee, "1000.00")
    withdrawal = services.withdrawal_request(user=payee, amount=D("1000.00"))
    assert (withdrawal.status, withdrawal.requires_approval) == (WithdrawalStatus.APPROVED, False)


def test_rejection_releases_the_hold():
    payee = make_payee()
    finance = make_user("admin", staff_role="finance")
    fund(payee, "2000.00")
    withdrawal = services.withdrawal_request(user=payee, amount=D("1500.00"))

    services.withdrawal_reject(actor=finance, withdrawal_id=withdrawal.pk, reason="Check ID")

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.rejection_reason) == (
        WithdrawalStatus.REJECTED,
        "Check ID",
    )
    assert _balance(payee) == (D("2000.00"), D("0.00"))
    assert _clearing() == D("0.00")
    with pytest.raises(InvalidTransition):
        services.withdrawal_approve(actor=finance, withdrawal_id=withdrawal.pk)
    assert _audit_actions(withdrawal) == ["withdrawal.request", "withdrawal.reject"]


def test_only_finance_decides():
    payee = make_payee()
    fund(payee, "2000.00")
    withdrawal = services.withdrawal_request(user=payee, amount=D("1500.00"))
    for outsider in (make_user("admin", staff_role="support"), payee):
        with pytest.raises(Forbidden):
            services.withdrawal_approve(actor=outsider, withdrawal_id=withdrawal.pk)
        with pytest.raises(Forbidden):
            services.withdrawal_reject(actor=outsider, withdrawal_id=withdrawal.pk, reason="x")
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REQUESTED
    assert _audit_actions(withdrawal) == ["withdrawal.request"]


def test_payee_can_cancel_while_awaiting_approval_only():
    payee = make_payee()
    fund(payee, "3000.00")
    pending = services.withdrawal_request(user=payee, amount=D("1200.00"))
    services.withdrawal_cancel(user=payee, withdrawal_id=pending.pk)
    pending.refresh_from_db()
    assert pending.status == WithdrawalStatus.CANCELLED
    assert _balance(payee) == (D("3000.00"), D("0.00"))

    approved = services.withdrawal_request(user=payee, amount=D("20.00"))
    with pytest.raises(InvalidTransition):
        services.withdrawal_cancel(user=payee, withdrawal_id=approved.pk)


@pytest.mark.parametrize(
    ("amount", "field_message"),
    [
        ("9.99", "The minimum withdrawal is GHS 10.00."),
        ("100.01", "Your available balance is GHS 100.00."),
    ],
)
def test_amount_limits_are_refused_and_change_nothing(amount, field_message):
    payee = make_payee()
    fund(payee, "100.00")
    with pytest.raises(ValidationFailed) as refused:
        services.withdrawal_request(user=payee, amount=D(amount))
    assert refused.value.details == {"amount": [field_message]}
    assert Withdrawal.objects.count() == 0
    assert _balance(payee) == (D("100.00"), D("0.00"))


def test_more_than_two_decimals_is_refused():
    payee = make_payee()
    fund(payee, "100.00")
    with pytest.raises(ValidationFailed):
        services.withdrawal_request(user=payee, amount="10.005")
    assert Withdrawal.objects.count() == 0


def test_kyc_must_be_approved():
    payee = make_payee(kyc="submitted")
    fund(payee, "100.00")
    with pytest.raises(Forbidden) as refused:
        services.withdrawal_request(user=payee, amount=D("50.00"))
    assert refused.value.code == "kyc_not_approved"
    assert refused.value.details == {"kyc_status": "submitted"}
    assert Withdrawal.objects.count() == 0


def test_a_payout_number_is_required():
    payee = make_payee(msisdn="")
    fund(payee, "100.00")
    with pytest.raises(ValidationFailed) as refused:
        services.withdrawal_request(user=payee, amount=D("50.00"))
    assert refused.value.code == "payout_details_missing"


def test_stations_and_staff_cannot_withdraw():
    for user in (make_user("station"), make_user("admin", staff_role="finance")):
        with pytest.raises(Forbidden):
            services.withdrawal_request(user=user, amount=D("50.00"))


def test_a_new_payout_number_blocks_withdrawals_for_the_cooling_off(settings):
    settings.WALLETS_PAYOUT_COOLING_OFF_HOURS = 24
    payee = make_payee()
    fund(payee, "100.00")
    with pytest.raises(Conflict) as refused:
        services.withdrawal_request(user=payee, amount=D("50.00"))
    assert refused.value.code == "payout_cooling_off"
    available_from = refused.value.details["available_from"]
    assert timezone.now() + timedelta(hours=23, minutes=59) < timezone.datetime.fromisoformat(
        available_from
    )
    assert Withdrawal.objects.count() == 0
    assert _balance(payee) == (D("100.00"), D("0.00"))


def test_network_without_a_provider_is_refused(settings):
    settings.WALLETS_PAYOUT_PROVIDER = "momo_mtn"
    payee = make_payee(msisdn="0201234567", network="telecel")
    fund(payee, "100.00")
    with pytest.raises(ValidationFailed) as refused:
        services.withdrawal_request(user=payee, amount=D("50.00"))
    assert refused.value.code == "network_unsupported"
    assert Withdrawal.objects.count() == 0


def test_request_key_makes_a_double_tap_one_withdrawal():
    payee = make_payee()
    fund(payee, "5000.00")
    first = services.withdrawal_request(user=payee, amount=D("2000.00"), request_key="tap-1")
    again = services.withdrawal_request(user=payee, amount=D("2000.00"), request_key="tap-1")
    assert again.pk == first.pk
    assert _balance(payee) == (D("3000.00"), D("2000.00"))
    with pytest.raises(Conflict):
        services.withdrawal_request(user=payee, amount=D("10.00"), request_key="tap-1")


def test_pending_sandbox_transfer_moves_to_review_and_finance_resolves_it(
    django_capture_on_commit_callbacks,
):
    payee = make_payee(msisdn="0241234568")  # the sandbox leaves numbers ending in 8 pending
    finance = make_user("admin", staff_role="finance")
    fund(payee, "60.00")
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal = services.withdrawal_request(user=payee, amount=D("60.00"))
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.provider_status) == (WithdrawalStatus.SENDING, "PENDING")

    report = services.withdrawals_poll_stuck()
    assert (report.checked, report.to_review) == (1, 0)  # not old enough yet

    Withdrawal.objects.filter(pk=withdrawal.pk).update(
        sent_at=timezone.now() - timedelta(minutes=61)
    )
    report = services.withdrawals_poll_stuck()
    assert (report.checked, report.to_review) == (1, 1)
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.NEEDS_REVIEW
    assert "after 60 minutes" in withdrawal.review_note
    assert _balance(payee) == (D("0.00"), D("60.00"))

    with pytest.raises(ValidationFailed):
        services.withdrawal_resolve(
            actor=finance, withdrawal_id=withdrawal.pk, outcome="failed", note=""
        )
    services.withdrawal_resolve(
        actor=finance,
        withdrawal_id=withdrawal.pk,
        outcome="failed",
        note="MTN support: transfer expired",
    )
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.failure_reason) == (
        WithdrawalStatus.FAILED,
        FailureReason.MANUAL,
    )
    assert _balance(payee) == (D("60.00"), D("0.00"))
    assert _audit_actions(withdrawal)[-2:] == ["withdrawal.needs_review", "withdrawal.fail"]


def test_sweeper_requeues_an_approved_withdrawal_whose_task_was_lost(
    django_capture_on_commit_callbacks,
):
    payee = make_payee()
    fund(payee, "40.00")
    # Not executing on-commit callbacks: the send task never reached the broker.
    withdrawal = services.withdrawal_request(user=payee, amount=D("40.00"))
    assert withdrawal.status == WithdrawalStatus.APPROVED
    Withdrawal.objects.filter(pk=withdrawal.pk).update(
        approved_at=timezone.now() - timedelta(minutes=11)
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = services.withdrawals_poll_stuck()
    assert report.resent == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert SandboxTransfer.objects.count() == 1


def test_reconciliation_is_clean_after_normal_activity(django_capture_on_commit_callbacks):
    payee = make_payee()
    failing = make_payee(msisdn="0551234569")
    fund(payee, "500.00")
    fund(failing, "50.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.withdrawal_request(user=payee, amount=D("100.00"))
        services.withdrawal_request(user=failing, amount=D("50.00"))
    services.withdrawal_request(user=payee, amount=D("20.00"))  # approved, in clearing

    run = services.ledger_reconcile()
    assert run.discrepancies == []
    assert (run.withdrawals_checked, run.entries_checked) == (3, 2 + 3 + 1 + 1)
    assert run.accounts_checked == Account.objects.count()


def test_reconciliation_reports_every_kind_of_difference(django_capture_on_commit_callbacks):
    finance = make_user("admin", staff_role="finance")
    payee = make_payee()
    fund(payee, "500.00")
    with django_capture_on_commit_callbacks(execute=True):
        paid = services.withdrawal_request(user=payee, amount=D("100.00"))
    # The provider later reverses the transfer; someone also edits a cached balance.
    SandboxTransfer.objects.filter(reference_id=paid.reference_id).update(
        status="FAILED", reason="TRANSACTION_CANCELED"
    )
    wallet = services.account_for_user(user_id=payee.pk)
    Account.objects.filter(pk=wallet.pk).update(balance=D("-999.00"))

    run = services.ledger_reconcile()

    assert sorted(d["kind"] for d in run.discrepancies) == [
        "account_balance",
        "withdrawal_provider",
    ]
    by_kind = {d["kind"]: d for d in run.discrepancies}
    assert by_kind["account_balance"] == {
        "kind": "account_balance",
        "account": wallet.code,
        "cached": "-999.00",
        "postings": "-400.00",
    }
    assert by_kind["withdrawal_provider"]["problem"] == "paid in the ledger, provider says FAILED"
    assert Notification.objects.filter(
        user=finance, title="Ledger reconciliation found differences"
    ).exists()
    assert JournalEntry.objects.count() == 3  # reconciliation only reports
