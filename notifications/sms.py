"""The SMS gateway interface and its backends.

`SMS_BACKEND` picks one: `console` (prints), `file` (appends JSON lines to
SMS_FILE_PATH), `locmem` (keeps messages in `outbox`, for tests), `http` (the
Arkesel v2 HTTP API at SMS_GATEWAY_URL with the key SMS_GATEWAY_KEY), or the
dotted path of another SmsBackend class.
"""

from __future__ import annotations

import json
import sys
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class SmsGatewayError(Exception):
    """The gateway refused or failed a message. `recoverable` says whether a retry can help."""

    def __init__(self, message: str, *, recoverable: bool, status_code: int | None = None):
        super().__init__(message)
        self.recoverable = recoverable
        self.status_code = status_code


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    sender: str
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class SmsBackend(ABC):
    @abstractmethod
    def send(self, message: SmsMessage) -> str:
        """Sends one message; returns the gateway's message id. Raises on failure."""


class ConsoleSmsBackend(SmsBackend):
    def send(self, message: SmsMessage) -> str:
        sys.stdout.write(f"[SMS to {message.to} from {message.sender}] {message.body}\n")
        sys.stdout.flush()
        return f"console-{message.sent_at}"


_file_lock = threading.Lock()


class FileSmsBackend(SmsBackend):
    def send(self, message: SmsMessage) -> str:
        path = settings.SMS_FILE_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock, open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(message)) + "\n")
        return f"file-{message.sent_at}"


outbox: list[SmsMessage] = []


class LocmemSmsBackend(SmsBackend):
    def send(self, message: SmsMessage) -> str:
        outbox.append(message)
        return f"locmem-{len(outbox)}"


def international_number(phone: str) -> str:
    """Digits in international form without '+': Ghana's local 0XXXXXXXXX becomes 233XXXXXXXXX."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("00"):
        digits = digits[2:]
    elif len(digits) == 10 and digits.startswith("0"):
        digits = settings.SMS_DEFAULT_COUNTRY_CODE + digits[1:]
    return digits


class ArkeselSmsBackend(SmsBackend):
    """Arkesel SMS API v2: `POST {SMS_GATEWAY_URL}/api/v2/sms/send` with an `api-key` header.

    Body `{"sender", "message", "recipients": [...]}`; a success answers
    `{"status": "success", "data": [{"recipient", "id"}]}`. 5xx, 429 and network
    errors are worth retrying; other 4xx (bad key, no balance, bad number) are not.
    """

    path = "/api/v2/sms/send"

    def __init__(self) -> None:
        if not settings.SMS_GATEWAY_URL or not settings.SMS_GATEWAY_KEY:
            raise ImproperlyConfigured(
                "SMS_BACKEND=http needs SMS_GATEWAY_URL and SMS_GATEWAY_KEY."
            )
        self.url = settings.SMS_GATEWAY_URL.rstrip("/") + self.path
        self.key = settings.SMS_GATEWAY_KEY

    def send(self, message: SmsMessage) -> str:
        recipient = international_number(message.to)
        try:
            response = requests.post(
                self.url,
                json={"sender": message.sender, "message": message.body, "recipients": [recipient]},
                headers={"api-key": self.key, "Accept": "application/json"},
                timeout=settings.SMS_GATEWAY_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise SmsGatewayError(f"Gateway unreachable: {exc}", recoverable=True) from exc
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if status >= 500 or status == 429:
            raise SmsGatewayError(
                f"Gateway error {status}: {payload.get('message') or response.text[:200]}",
                recoverable=True,
                status_code=status,
            )
        if status >= 400 or payload.get("status") != "success":
            raise SmsGatewayError(
                f"Gateway refused the message ({status}): "
                f"{payload.get('message') or response.text[:200]}",
                recoverable=False,
                status_code=status,
            )
        for item in payload.get("data") or []:
            if isinstance(item, dict) and item.get("id"):
                return str(item["id"])
        return f"arkesel-{recipient}-{message.sent_at}"


BACKENDS = {
    "console": ConsoleSmsBackend,
    "file": FileSmsBackend,
    "locmem": LocmemSmsBackend,
    "http": ArkeselSmsBackend,
}


def get_backend() -> SmsBackend:
    name = settings.SMS_BACKEND
    cls = BACKENDS.get(name) or import_string(name)
    return cls()
