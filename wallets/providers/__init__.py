"""Payout providers and the registry that picks one per network.

`momo_mtn` speaks the MTN MoMo Open API (disbursement); `sandbox` is a local,
persisted implementation for the demo. Telecel Cash and AirtelTigo Money join
through an aggregator class registered here under its own code, serving the
networks it declares.
"""

from __future__ import annotations

from django.conf import settings

from wallets.providers.base import (
    PayoutProvider,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    TransferRequest,
    TransferResult,
    TransferStatus,
)
from zamio.errors import ValidationFailed

__all__ = [
    "PayoutProvider",
    "ProviderError",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "TransferRequest",
    "TransferResult",
    "TransferStatus",
    "get_provider",
    "provider_for_network",
]


def _registry() -> dict[str, type[PayoutProvider]]:
    from wallets.providers.momo_mtn import MtnMomoProvider
    from wallets.providers.sandbox import SandboxProvider

    return {MtnMomoProvider.code: MtnMomoProvider, SandboxProvider.code: SandboxProvider}


def get_provider(code: str) -> PayoutProvider:
    """The provider registered under `code` (the one a withdrawal was sent with)."""
    try:
        return _registry()[code]()
    except KeyError:
        raise ValueError(f"Unknown payout provider {code!r}.") from None


def provider_for_network(network: str) -> PayoutProvider:
    """The configured provider, if it pays out to `network`."""
    provider = get_provider(settings.WALLETS_PAYOUT_PROVIDER)
    if network not in provider.networks:
        raise ValidationFailed(
            "Payouts to this mobile money network are not available yet.",
            details={"network": [f"{network!r} is not served by {provider.code}."]},
            code="network_unsupported",
        )
    return provider
