from __future__ import annotations

from decimal import Decimal

import pytest

from wallets.tests import mtn_server
from wallets.tests.mtn_server import FakeMtnServer


@pytest.fixture(autouse=True)
def _wallet_settings(settings):
    """The default payout rules (eager Celery and locmem SMS come from the root fixture)."""
    settings.WALLETS_PAYOUT_PROVIDER = "sandbox"
    settings.WALLETS_MIN_WITHDRAWAL = Decimal("10.00")
    settings.WALLETS_APPROVAL_THRESHOLD = Decimal("1000.00")
    # Payout numbers are set moments before each test's withdrawal; the cooling-off
    # test turns this back on.
    settings.WALLETS_PAYOUT_COOLING_OFF_HOURS = 0
    settings.WALLETS_PAYOUT_REVIEW_AFTER_MINUTES = 60
    settings.WALLETS_PAYOUT_RESEND_AFTER_MINUTES = 10


@pytest.fixture
def mtn(settings):
    """A running fake MTN MoMo server, with the momo_mtn provider pointed at it."""
    server = FakeMtnServer().start()
    settings.WALLETS_PAYOUT_PROVIDER = "momo_mtn"
    settings.MOMO_BASE_URL = server.url
    settings.MOMO_SUBSCRIPTION_KEY = mtn_server.SUBSCRIPTION_KEY
    settings.MOMO_API_USER = mtn_server.API_USER
    settings.MOMO_API_KEY = mtn_server.API_KEY
    settings.MOMO_TARGET_ENVIRONMENT = mtn_server.TARGET_ENVIRONMENT
    settings.MOMO_CALLBACK_URL = "https://zamio.example/api/v1/payouts/callbacks/momo_mtn/"
    settings.MOMO_CURRENCY = "GHS"
    settings.MOMO_CONNECT_TIMEOUT_SECONDS = 1
    settings.MOMO_TIMEOUT_SECONDS = 0.5  # scripted timeouts sleep 0.8 s
    yield server
    server.stop()
