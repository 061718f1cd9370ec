"""A local payout provider with persisted transfers and deterministic outcomes.

It behaves like the MTN sandbox so the demo's withdrawals go through the same
state machine as production: a repeated reference is the same transfer, and the
outcome depends on the last digit of the number:

    ...9  → FAILED, PAYEE_NOT_FOUND
    ...8  → stays PENDING (the withdrawal later moves to needs review)
    other → SUCCESSFUL
"""

from __future__ import annotations

import uuid

from wallets.models import SandboxTransfer
from wallets.providers.base import (
    PayoutProvider,
    TransferRequest,
    TransferResult,
    TransferStatus,
)

FAIL_PAYEE_NOT_FOUND_DIGIT = "9"
STAY_PENDING_DIGIT = "8"


def _outcome(msisdn: str) -> tuple[str, str]:
    if msisdn.endswith(FAIL_PAYEE_NOT_FOUND_DIGIT):
        return TransferStatus.FAILED, "PAYEE_NOT_FOUND"
    if msisdn.endswith(STAY_PENDING_DIGIT):
        return TransferStatus.PENDING, ""
    return TransferStatus.SUCCESSFUL, ""


def _result(transfer: SandboxTransfer) -> TransferResult:
    return TransferResult(
        status=TransferStatus(transfer.status),
        reason=transfer.reason,
        financial_transaction_id=(
            transfer.financial_transaction_id
            if transfer.status == TransferStatus.SUCCESSFUL
            else ""
        ),
        raw={"referenceId": str(transfer.reference_id), "status": transfer.status},
    )


class SandboxProvider(PayoutProvider):
    code = "sandbox"
    networks = frozenset({"mtn", "telecel", "airteltigo"})

    def transfer(self, request: TransferRequest) -> TransferResult:
        status, reason = _outcome(request.msisdn)
        transfer, created = SandboxTransfer.objects.get_or_create(
            reference_id=request.reference_id,
            defaults={
                "amount": request.amount,
                "currency": request.currency,
                "msisdn": request.msisdn,
                "external_id": request.external_id,
                "status": status,
                "reason": reason,
                "financial_transaction_id": str(uuid.uuid4().int)[:10],
            },
        )
        if created:
            # Like the real API: accepted now, final state visible through the status call.
            return TransferResult(status=TransferStatus.PENDING, accepted=True)
        return _result(transfer)

    def transfer_status(self, reference_id: uuid.UUID) -> TransferResult:
        transfer = SandboxTransfer.objects.filter(reference_id=reference_id).first()
        if transfer is None:
            return TransferResult(status=TransferStatus.NOT_FOUND)
        return _result(transfer)
