"""The SMS gateway interface and its backends.

`SMS_BACKEND` picks one: `console` (prints), `file` (appends JSON lines to
SMS_FILE_PATH), `locmem` (keeps messages in `outbox`, for tests). An HTTP
gateway backend joins them when the real gateway is wired in.
"""

from __future__ import annotations

import json
import sys
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.utils.module_loading import import_string


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


BACKENDS = {
    "console": ConsoleSmsBackend,
    "file": FileSmsBackend,
    "locmem": LocmemSmsBackend,
}


def get_backend() -> SmsBackend:
    name = settings.SMS_BACKEND
    cls = BACKENDS.get(name) or import_string(name)
    return cls()
