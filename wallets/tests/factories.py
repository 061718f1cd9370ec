"""Factories and set-up helpers for wallets tests.

Payees get KYC and a payout number through the artists services (KYC reviewed by
support, the number confirmed with the SMS code), never by writing those tables.
"""

from __future__ import annotations

import re
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from artists import services as artist_services
from artists.services import KycFile
from conftest import make_user
from notifications import sms
from users.models import OtpPurpose
from users.services import otp_request
from wallets import services
from wallets.models import Account, NormalSide

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class WalletAccountFactory(factory.django.DjangoModelFactory):
    """A bare payee wallet (use `fund` to put money in it through the ledger)."""

    class Meta:
        model = Account

    user = factory.LazyFunction(lambda: make_user("artist"))
    code = factory.LazyAttribute(lambda o: f"user:{o.user.pk}:wallet")
    kind = "wallet"
    name = factory.LazyAttribute(lambda o: f"Wallet of user {o.user.pk}")
    normal_side = NormalSide.CREDIT
    may_go_negative = False


def _sms_code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)


def make_payee(
    *,
    role: str = "artist",
    msisdn: str = "0241234567",
    network: str = "mtn",
    kyc: str = "approved",
    phone: str = "+233201111111",
):
    """An artist/publisher with KYC in state `kyc` ("approved", "submitted", "none") and a
    payout number set through the OTP flow."""
    user = make_user(role, phone=phone)
    if kyc != "none":
        submission = artist_services.kyc_submit(
            user=user,
            id_type="passport",
            id_number="G1234567",
            documents=[
                KycFile(
                    kind="id_front",
                    file=SimpleUploadedFile("id.pdf", PDF_BYTES, content_type="application/pdf"),
                )
            ],
        )
        if kyc == "approved":
            support = make_user("admin", staff_role="support")
            artist_services.kyc_approve(actor=support, submission=submission)
    if msisdn:
        # Runs the SMS on commit in ordinary tests; in transaction=True tests it is sent at once.
        with TestCase.captureOnCommitCallbacks(execute=True):
            otp_request(user=user, purpose=OtpPurpose.PAYOUT_DETAILS)
        artist_services.payout_details_set(
            user=user, msisdn=msisdn, network=network, otp_code=_sms_code()
        )
    return user


def fund(user, amount: str, *, key: str | None = None):
    """Credits the payee's wallet from the royalty pool, as the royalties app does."""
    amount = Decimal(amount)
    wallet = services.account_for_user(user_id=user.pk)
    return services.ledger_post(
        idempotency_key=key or f"test-royalty:{user.pk}:{wallet.postings.count()}:{amount}",
        memo="Royalties",
        postings=[
            services.Posting.debit(services.platform_account("royalty_pool"), amount),
            services.Posting.credit(wallet, amount),
        ],
        reference_type="royalty_period",
        reference_id="1",
    )
