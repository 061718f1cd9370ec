"""The one interface every payout provider implements, and its result and error types.

A provider moves money to a mobile-money wallet identified by a reference the
caller generated and saved beforehand; the provider treats a repeated reference
as the same transfer, which is what makes every retry safe.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class TransferStatus(StrEnum):
    PENDING = "PENDING"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    NOT_FOUND = "NOT_FOUND"  # the provider has no transfer with this reference


@dataclass(frozen=True)
class TransferRequest:
    reference_id: uuid.UUID
    amount: Decimal
    currency: str
    msisdn: str
    network: str
    external_id: str
    payer_message: str = "ZamIO royalty payout"
    payee_note: str = "ZamIO royalties"


@dataclass(frozen=True)
class TransferResult:
    status: TransferStatus
    reason: str = ""
    accepted: bool = False  # a new transfer the provider just took on (HTTP 202)
    financial_transaction_id: str = ""
    raw: dict = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.status in (TransferStatus.SUCCESSFUL, TransferStatus.FAILED)


class ProviderError(Exception):
    """A provider call did not give a definite answer."""


class ProviderTimeout(ProviderError):
    """The request may have reached the provider: resolve it by asking for the reference."""


class ProviderUnavailable(ProviderError):
    """The provider answered 5xx or could not be reached: retry later with the same reference."""


class ProviderRejected(ProviderError):
    """The provider refused the request outright (4xx): the transfer was not created."""

    def __init__(self, message: str, *, reason: str = ""):
        super().__init__(message)
        self.reason = reason


class PayoutProvider(ABC):
    code: str = ""
    networks: frozenset[str] = frozenset()

    @abstractmethod
    def transfer(self, request: TransferRequest) -> TransferResult:
        """Asks for a transfer. Accepted → PENDING; an existing reference → its current status.

        Raises ProviderTimeout, ProviderUnavailable or ProviderRejected.
        """

    @abstractmethod
    def transfer_status(self, reference_id: uuid.UUID) -> TransferResult:
        """The provider's current view of the transfer (NOT_FOUND if it never arrived).

        Raises ProviderTimeout or ProviderUnavailable.
        """
