"""The MTN MoMo connector against a real HTTP peer on 127.0.0.1 (wallets.tests.mtn_server).

Every test ends by checking the provider's own counter: at most one transfer per
withdrawal, whatever failed on the way.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from conftest import make_user
from notifications.models import Notification
from wallets import services
from wallets.models import (
    CallbackOutcome,
    FailureReason,
    JournalEntry,
    PayoutCallback,
    Withdrawal,
    WithdrawalStatus,
)
from wallets.providers import (
    ProviderTimeout,
    ProviderUnavailable,
    TransferStatus,
    get_provider,
)
from wallets.tasks import send_withdrawal
from wallets.tests.factories import fund, make_payee

pytestmark = pytest.mark.django_db

D = Decimal
CALLBACK_PATH = "/api/v1/payouts/callbacks/momo_mtn/"


def _approved_withdrawal(amount: str = "50.00", msisdn: str = "0241234567") -> Withdrawal:
    """An auto-approved withdrawal whose send task has not run yet (on-commit not executed)."""
    payee = make_payee(msisdn=msisdn)
    fund(payee, "500.00")
    withdrawal = services.withdrawal_request(user=payee, amount=D(amount))
    assert withdrawal.status == WithdrawalStatus.APPROVED
    return withdrawal


def _settlements(withdrawal) -> int:
    return JournalEntry.objects.filter(idempotency_key=f"withdrawal:{withdrawal.pk}:settle").count()


def _releases(withdrawal) -> int:
    return JournalEntry.objects.filter(
        idempotency_key=f"withdrawal:{withdrawal.pk}:release"
    ).count()


def _transfer_posts(mtn) -> list[dict]:
    return [
        headers
        for method, path, headers in mtn.state.requests
        if method == "POST" and path == "/disbursement/v1_0/transfer"
    ]


def test_transfer_speaks_the_real_api_with_the_saved_reference(mtn):
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)

    services.withdrawal_send(withdrawal_id=withdrawal.pk)

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert (
        withdrawal.provider_transaction_id
        == (mtn.state.transfers[reference]["financialTransactionId"])
    )
    token_call = next(h for m, p, h in mtn.state.requests if p == "/disbursement/token/")
    assert token_call["Authorization"].startswith("Basic ")
    assert token_call["Ocp-Apim-Subscription-Key"] == "test-subscription-key"
    (post,) = _transfer_posts(mtn)
    assert post["X-Reference-Id"] == reference
    assert post["X-Target-Environment"] == "sandbox"
    assert post["X-Callback-Url"] == "https://zamio.example/api/v1/payouts/callbacks/momo_mtn/"
    assert post["Authorization"].startswith("Bearer ")
    transfer = mtn.state.transfers[reference]
    assert (transfer["amount"], transfer["currency"], transfer["payee"]) == (
        "50.00",
        "GHS",
        {"partyIdType": "MSISDN", "partyId": "233241234567"},
    )
    assert transfer["externalId"] == reference
    assert mtn.state.created[reference] == 1
    assert _settlements(withdrawal) == 1


def test_the_token_is_cached_between_calls(mtn):
    first = _approved_withdrawal()
    second = _approved_withdrawal(msisdn="0241234560")
    services.withdrawal_send(withdrawal_id=first.pk)
    services.withdrawal_send(withdrawal_id=second.pk)
    assert mtn.state.token_requests == 1
    assert Withdrawal.objects.filter(status=WithdrawalStatus.SUCCEEDED).count() == 2


def test_token_expiring_mid_batch_is_refreshed_once(mtn):
    mtn.state.pending_polls = 1  # each transfer answers PENDING once after the POST
    first = _approved_withdrawal()
    second = _approved_withdrawal(msisdn="0241234560")
    services.withdrawal_send(withdrawal_id=first.pk)
    services.withdrawal_send(withdrawal_id=second.pk)
    assert set(Withdrawal.objects.values_list("status", flat=True)) == {WithdrawalStatus.SENDING}
    assert mtn.state.token_requests == 1
    # The token dies right after the sweeper's first status call.
    mtn.state.expire_tokens_after_calls = mtn.state.authorised_calls + 1

    report = services.withdrawals_poll_stuck()

    assert (report.checked, report.settled, report.errors) == (2, 2, 0)
    assert mtn.state.token_requests == 2
    for withdrawal in (first, second):
        withdrawal.refresh_from_db()
        assert withdrawal.status == WithdrawalStatus.SUCCEEDED
        assert mtn.state.created[str(withdrawal.reference_id)] == 1
        assert _settlements(withdrawal) == 1


def test_a_refused_token_request_is_a_provider_outage(mtn, settings):
    settings.MOMO_API_KEY = "wrong"
    withdrawal = _approved_withdrawal()
    with pytest.raises(ProviderUnavailable, match="token request answered 401"):
        services.withdrawal_send(withdrawal_id=withdrawal.pk)
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SENDING
    assert mtn.state.created == {}


def test_timeout_after_the_post_is_resolved_by_polling_the_same_reference(mtn):
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    mtn.fail_next("transfer", delay=0.8, after_processing=True)  # created, answer lost

    services.withdrawal_send(withdrawal_id=withdrawal.pk)

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert mtn.state.posts[reference] == 1
    assert mtn.state.gets[reference] == 1
    assert mtn.state.created[reference] == 1
    assert _settlements(withdrawal) == 1


def test_timeout_before_the_provider_saw_it_is_retried_with_the_same_reference(mtn):
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    mtn.fail_next("transfer", delay=0.8)  # the request never got processed

    with pytest.raises(ProviderTimeout, match="not at the provider yet"):
        services.withdrawal_send(withdrawal_id=withdrawal.pk)
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SENDING
    assert mtn.state.created[reference] == 0
    assert _settlements(withdrawal) == 0

    services.withdrawal_send(withdrawal_id=withdrawal.pk)  # the task's retry

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.send_attempts) == (WithdrawalStatus.SUCCEEDED, 2)
    assert {h["X-Reference-Id"] for h in _transfer_posts(mtn)} == {reference}
    assert mtn.state.posts[reference] == 2
    assert mtn.state.created[reference] == 1
    assert _settlements(withdrawal) == 1


def test_a_500_is_retried_with_the_same_reference(mtn):
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    mtn.fail_next("transfer", status=500)

    with pytest.raises(ProviderUnavailable):
        services.withdrawal_send(withdrawal_id=withdrawal.pk)
    services.withdrawal_send(withdrawal_id=withdrawal.pk)

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert (mtn.state.posts[reference], mtn.state.created[reference]) == (2, 1)


def test_a_500_after_the_transfer_was_made_ends_in_409_and_one_transfer(mtn):
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    mtn.fail_next("transfer", status=500, after_processing=True)

    with pytest.raises(ProviderUnavailable):
        services.withdrawal_send(withdrawal_id=withdrawal.pk)
    assert mtn.state.created[reference] == 1
    services.withdrawal_send(withdrawal_id=withdrawal.pk)  # POST → 409 → GET

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert (mtn.state.posts[reference], mtn.state.created[reference]) == (2, 1)
    assert _settlements(withdrawal) == 1


def test_the_task_retries_until_the_provider_answers(mtn):
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    mtn.fail_next("transfer", status=503, times=2)

    # Each failed run asks Celery for a retry (with backoff); the broker would then run it again.
    for _ in range(2):
        with pytest.raises(Retry):
            send_withdrawal.apply(kwargs={"withdrawal_id": withdrawal.pk}, throw=True)
    send_withdrawal.apply(kwargs={"withdrawal_id": withdrawal.pk}, throw=True)

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.send_attempts) == (WithdrawalStatus.SUCCEEDED, 3)
    assert (mtn.state.posts[reference], mtn.state.created[reference]) == (3, 1)


def test_worker_dying_between_the_hold_and_the_provider_call(mtn):
    """The hold and the move to sending are committed, then the worker dies (here: the
    token call blows up, so the transfer is never sent). Re-running the task pays once."""
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    mtn.fail_next("token", status=500)

    with pytest.raises(ProviderUnavailable):
        services.withdrawal_send(withdrawal_id=withdrawal.pk)
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SENDING
    assert withdrawal.hold_entry_id is not None
    assert mtn.state.posts[reference] == 0

    send_withdrawal.apply(kwargs={"withdrawal_id": withdrawal.pk})
    send_withdrawal.apply(kwargs={"withdrawal_id": withdrawal.pk})  # a duplicate delivery

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert (mtn.state.posts[reference], mtn.state.created[reference]) == (1, 1)
    assert _settlements(withdrawal) == 1
    assert _releases(withdrawal) == 0
    assert services.platform_account("provider_settlement:momo_mtn").display_balance == D("50.00")


def test_worker_dying_after_the_post_landed_is_resolved_by_409(mtn):
    """The POST reached MTN but the worker died before recording anything."""
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    sending = services.withdrawal_mark_sending(withdrawal_id=withdrawal.pk)
    get_provider("momo_mtn").transfer(services._transfer_request(sending))  # then: crash
    assert mtn.state.created[reference] == 1

    send_withdrawal.apply(kwargs={"withdrawal_id": withdrawal.pk})

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert (mtn.state.posts[reference], mtn.state.created[reference]) == (2, 1)
    assert _settlements(withdrawal) == 1


@pytest.mark.parametrize(
    ("provider_reason", "failure_reason", "finance_alerted"),
    [
        ("PAYEE_NOT_FOUND", FailureReason.PAYEE_NOT_FOUND, False),
        ("NOT_ENOUGH_FUNDS", FailureReason.PROVIDER_INSUFFICIENT_FUNDS, True),
        ("PAYER_LIMIT_REACHED", FailureReason.PROVIDER_LIMIT, True),
        ("TRANSACTION_CANCELED", FailureReason.EXPIRED, False),
        ("SOMETHING_NEW", FailureReason.OTHER, False),
    ],
)
def test_failed_reasons_map_to_clear_states_and_return_the_money(
    mtn, provider_reason, failure_reason, finance_alerted
):
    finance = make_user("admin", staff_role="finance")
    mtn.set_outcome("233241234567", "FAILED", provider_reason)
    withdrawal = _approved_withdrawal()

    services.withdrawal_send(withdrawal_id=withdrawal.pk)

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.failure_reason, withdrawal.provider_reason) == (
        WithdrawalStatus.FAILED,
        failure_reason,
        provider_reason,
    )
    assert _releases(withdrawal) == 1
    assert _settlements(withdrawal) == 0
    assert services.platform_account("payout_clearing").display_balance == D("0.00")
    assert (
        Notification.objects.filter(
            user=finance, title="Payout failed on the platform side"
        ).exists()
        is finance_alerted
    )
    assert mtn.state.created[str(withdrawal.reference_id)] == 1


def test_a_4xx_refusal_fails_the_withdrawal_without_a_transfer(mtn):
    withdrawal = _approved_withdrawal()
    mtn.fail_next("transfer", status=400)

    services.withdrawal_send(withdrawal_id=withdrawal.pk)

    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.failure_reason, withdrawal.provider_reason) == (
        WithdrawalStatus.FAILED,
        FailureReason.PROVIDER_REJECTED,
        "INTERNAL_PROCESSING_ERROR",
    )
    assert mtn.state.created == {}
    assert _releases(withdrawal) == 1


# --- Callbacks -------------------------------------------------------------------------
def _deliver(api_client, body: dict):
    return api_client.put(CALLBACK_PATH, body, format="json")


def test_a_callback_is_confirmed_by_get_before_acting_on_delayed_status(mtn, api_client):
    mtn.state.pending_polls = 2
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    services.withdrawal_send(withdrawal_id=withdrawal.pk)  # POST, then GET → PENDING
    ((url, body),) = mtn.state.callbacks
    assert body["status"] == "SUCCESSFUL"

    response = _deliver(api_client, body)

    assert (response.status_code, response.json()) == (200, {"received": True})
    withdrawal.refresh_from_db()
    # MTN itself still says PENDING, so the callback's claim is not acted on.
    assert (withdrawal.status, withdrawal.provider_status) == (WithdrawalStatus.SENDING, "PENDING")
    assert _settlements(withdrawal) == 0

    services.withdrawals_poll_stuck()

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert mtn.state.gets[reference] == 3
    assert mtn.state.created[reference] == 1


def test_duplicate_callbacks_settle_once(mtn, api_client):
    mtn.state.pending_polls = 1
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    services.withdrawal_send(withdrawal_id=withdrawal.pk)
    ((url, body),) = mtn.state.callbacks

    assert _deliver(api_client, body).status_code == 200
    assert _deliver(api_client, body).status_code == 200

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert list(PayoutCallback.objects.order_by("id").values_list("outcome", flat=True)) == [
        CallbackOutcome.QUEUED,
        CallbackOutcome.ALREADY_FINAL,
    ]
    assert _settlements(withdrawal) == 1
    assert mtn.state.gets[reference] == 2  # one after the POST, one for the first callback
    assert mtn.state.created[reference] == 1


def test_failed_after_successful_never_changes_a_paid_withdrawal(mtn, api_client):
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    services.withdrawal_send(withdrawal_id=withdrawal.pk)
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED

    response = _deliver(
        api_client, {"externalId": reference, "status": "FAILED", "reason": "PAYEE_NOT_FOUND"}
    )

    assert response.status_code == 200
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert _releases(withdrawal) == 0
    assert PayoutCallback.objects.get().outcome == CallbackOutcome.ALREADY_FINAL
    assert mtn.state.created[reference] == 1


def test_a_failed_claim_is_overruled_by_what_the_provider_says(mtn, api_client):
    mtn.state.pending_polls = 1
    withdrawal = _approved_withdrawal()
    reference = str(withdrawal.reference_id)
    services.withdrawal_send(withdrawal_id=withdrawal.pk)

    _deliver(api_client, {"externalId": reference, "status": "FAILED", "reason": "EXPIRED"})

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED
    assert (_settlements(withdrawal), _releases(withdrawal)) == (1, 0)
    assert mtn.state.created[reference] == 1


def test_spoofed_callbacks_for_unknown_references_are_logged_and_ignored(mtn, api_client, caplog):
    withdrawal = _approved_withdrawal()
    services.withdrawal_send(withdrawal_id=withdrawal.pk)
    gets_before = sum(mtn.state.gets.values())
    forged = str(uuid.uuid4())

    unknown = _deliver(api_client, {"externalId": forged, "status": "SUCCESSFUL"})
    malformed = api_client.post(CALLBACK_PATH, {"status": "SUCCESSFUL"}, format="json")

    assert (unknown.status_code, malformed.status_code) == (200, 200)
    assert list(PayoutCallback.objects.order_by("id").values_list("outcome", "reference_id")) == [
        (CallbackOutcome.UNKNOWN_REFERENCE, forged),
        (CallbackOutcome.MALFORMED, ""),
    ]
    assert sum(mtn.state.gets.values()) == gets_before  # nothing was even looked up
    assert forged not in mtn.state.created
    assert "unknown_reference" in caplog.text
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.SUCCEEDED


def test_callback_for_another_provider_reference_is_unknown(mtn, api_client, settings):
    settings.WALLETS_PAYOUT_PROVIDER = "sandbox"
    sandbox_withdrawal = _approved_withdrawal()
    response = _deliver(api_client, {"externalId": str(sandbox_withdrawal.reference_id)})
    assert response.status_code == 200
    assert PayoutCallback.objects.get().outcome == CallbackOutcome.UNKNOWN_REFERENCE
    sandbox_withdrawal.refresh_from_db()
    assert sandbox_withdrawal.status == WithdrawalStatus.APPROVED


def test_unknown_provider_in_the_callback_url_is_404(api_client):
    response = api_client.put("/api/v1/payouts/callbacks/paypal/", {}, format="json")
    assert response.status_code == 404
    assert PayoutCallback.objects.count() == 0


def test_reconciliation_asks_mtn_and_finds_nothing_wrong(mtn):
    withdrawal = _approved_withdrawal()
    services.withdrawal_send(withdrawal_id=withdrawal.pk)
    run = services.ledger_reconcile()
    assert run.discrepancies == []
    assert mtn.state.gets[str(withdrawal.reference_id)] == 2


def test_provider_status_lookup_reports_not_found(mtn):
    result = get_provider("momo_mtn").transfer_status(uuid.uuid4())
    assert result.status == TransferStatus.NOT_FOUND


def test_stuck_transfer_goes_to_review_then_settles_when_mtn_finally_answers(mtn):
    finance = make_user("admin", staff_role="finance")
    mtn.state.pending_polls = 2
    withdrawal = _approved_withdrawal()
    services.withdrawal_send(withdrawal_id=withdrawal.pk)  # GET 1: PENDING
    Withdrawal.objects.filter(pk=withdrawal.pk).update(
        sent_at=timezone.now() - timedelta(minutes=61)
    )

    first = services.withdrawals_poll_stuck()  # GET 2: PENDING → needs review
    withdrawal.refresh_from_db()
    assert (first.checked, first.to_review, withdrawal.status) == (
        1,
        1,
        WithdrawalStatus.NEEDS_REVIEW,
    )
    assert withdrawal.review_note == "Not confirmed by momo_mtn after 60 minutes (status PENDING)."
    assert Notification.objects.filter(user=finance, title="Withdrawal needs review").exists()

    second = services.withdrawals_poll_stuck()  # GET 3: SUCCESSFUL
    withdrawal.refresh_from_db()
    assert (second.checked, second.settled, withdrawal.status) == (
        1,
        1,
        WithdrawalStatus.SUCCEEDED,
    )
    assert _settlements(withdrawal) == 1
    assert mtn.state.created[str(withdrawal.reference_id)] == 1
