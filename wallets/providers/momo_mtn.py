"""MTN MoMo Open API, disbursement product.

    POST /disbursement/token/                       Basic auth + subscription key → bearer token
    POST /disbursement/v1_0/transfer                X-Reference-Id (our UUID), 202 accepted,
                                                    409 when the reference already exists
    GET  /disbursement/v1_0/transfer/{referenceId}  PENDING / SUCCESSFUL / FAILED (+ reason)

The reference is the withdrawal's own `reference_id`, saved before the first call,
so a retry after a timeout, a 5xx or a dead worker can never create a second transfer.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid

import requests
from django.conf import settings
from django.core.cache import cache

from wallets.providers.base import (
    PayoutProvider,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    TransferRequest,
    TransferResult,
    TransferStatus,
)

logger = logging.getLogger("wallets.momo_mtn")

TOKEN_PATH = "/disbursement/token/"  # noqa: S105 (a URL path, not a secret)
TRANSFER_PATH = "/disbursement/v1_0/transfer"
# A token is dropped from the cache this long before MTN says it expires.
TOKEN_EXPIRY_MARGIN_SECONDS = 60


class _TokenExpired(Exception):
    pass


def _reason_of(body: dict) -> str:
    reason = body.get("reason") or ""
    if isinstance(reason, dict):  # some API versions send {"code": ..., "message": ...}
        reason = reason.get("code") or ""
    return str(reason)


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class MtnMomoProvider(PayoutProvider):
    code = "momo_mtn"
    networks = frozenset({"mtn"})

    def __init__(self) -> None:
        self.base_url = settings.MOMO_BASE_URL.rstrip("/")
        self.subscription_key = settings.MOMO_SUBSCRIPTION_KEY
        self.api_user = settings.MOMO_API_USER
        self.api_key = settings.MOMO_API_KEY
        self.target_environment = settings.MOMO_TARGET_ENVIRONMENT
        self.callback_url = settings.MOMO_CALLBACK_URL
        self.currency = settings.MOMO_CURRENCY
        self.timeout = (settings.MOMO_CONNECT_TIMEOUT_SECONDS, settings.MOMO_TIMEOUT_SECONDS)

    # --- token -----------------------------------------------------------------
    @property
    def _token_cache_key(self) -> str:
        digest = hashlib.sha256(f"{self.base_url}|{self.api_user}".encode()).hexdigest()[:16]
        return f"wallets:momo_mtn:token:{digest}"

    def _token(self) -> str:
        token = cache.get(self._token_cache_key)
        if token:
            return token
        basic = base64.b64encode(f"{self.api_user}:{self.api_key}".encode()).decode()
        response = self._send(
            "POST",
            TOKEN_PATH,
            headers={
                "Authorization": f"Basic {basic}",
                "Ocp-Apim-Subscription-Key": self.subscription_key,
            },
        )
        body = _json(response)
        if response.status_code != 200 or not body.get("access_token"):
            logger.error("MTN MoMo token request refused: %s %s", response.status_code, body)
            raise ProviderUnavailable(f"MTN MoMo token request answered {response.status_code}.")
        expires_in = int(body.get("expires_in") or 3600)
        cache.set(
            self._token_cache_key,
            body["access_token"],
            timeout=max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, 1),
        )
        return body["access_token"]

    # --- HTTP --------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return requests.request(
                method, self.base_url + path, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.ConnectTimeout as exc:
            raise ProviderUnavailable(f"MTN MoMo unreachable: {exc}") from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            # The request may have been received: only a status lookup can tell.
            raise ProviderTimeout(f"MTN MoMo did not answer: {exc}") from exc

    def _authorised(self, method: str, path: str, *, headers: dict, **kwargs) -> requests.Response:
        """Sends with the bearer token; on 401 fetches a new token and tries exactly once more."""
        for attempt in (1, 2):
            response = self._send(
                method,
                path,
                headers={
                    **headers,
                    "Authorization": f"Bearer {self._token()}",
                    "Ocp-Apim-Subscription-Key": self.subscription_key,
                    "X-Target-Environment": self.target_environment,
                },
                **kwargs,
            )
            if response.status_code != 401 or attempt == 2:
                return response
            logger.info("MTN MoMo token expired mid-batch; fetching a new one")
            cache.delete(self._token_cache_key)
        return response  # pragma: no cover - the loop always returns

    # --- interface ---------------------------------------------------------------------
    def transfer(self, request: TransferRequest) -> TransferResult:
        headers = {"X-Reference-Id": str(request.reference_id), "Content-Type": "application/json"}
        if self.callback_url:
            headers["X-Callback-Url"] = self.callback_url
        response = self._authorised(
            "POST",
            TRANSFER_PATH,
            headers=headers,
            json={
                "amount": f"{request.amount:.2f}",
                "currency": self.currency,
                "externalId": request.external_id,
                "payee": {"partyIdType": "MSISDN", "partyId": request.msisdn},
                "payerMessage": request.payer_message[:160],
                "payeeNote": request.payee_note[:160],
            },
        )
        status = response.status_code
        if status == 202:
            return TransferResult(status=TransferStatus.PENDING, accepted=True)
        if status == 409:
            # The reference exists: an earlier attempt got through. Its status is the answer.
            logger.info("MTN MoMo transfer %s already exists", request.reference_id)
            return self.transfer_status(request.reference_id)
        body = _json(response)
        if status >= 500 or status in (401, 403):
            # 401 after a fresh token, or 403, is our configuration, not the payee's transfer:
            # nothing was created, so it is retried and ends in review rather than failing.
            raise ProviderUnavailable(f"MTN MoMo transfer answered {status}: {body}")
        raise ProviderRejected(
            f"MTN MoMo refused the transfer ({status}): {body.get('message', '')}",
            reason=str(body.get("code") or f"HTTP_{status}"),
        )

    def transfer_status(self, reference_id: uuid.UUID) -> TransferResult:
        response = self._authorised("GET", f"{TRANSFER_PATH}/{reference_id}", headers={})
        status = response.status_code
        body = _json(response)
        if status == 404:
            return TransferResult(status=TransferStatus.NOT_FOUND, raw=body)
        if status != 200:
            raise ProviderUnavailable(f"MTN MoMo status lookup answered {status}: {body}")
        try:
            transfer_status = TransferStatus(str(body.get("status", "")).upper())
        except ValueError:
            raise ProviderUnavailable(f"MTN MoMo sent an unknown status: {body}") from None
        return TransferResult(
            status=transfer_status,
            reason=_reason_of(body),
            financial_transaction_id=str(body.get("financialTransactionId") or ""),
            raw=body,
        )
