"""Outgoing messages. Anyone may call these; they call no other app."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction


def email_send(*, to: str, subject: str, text: str, html: str | None = None) -> None:
    """Queues an email for delivery once the current transaction commits."""
    from notifications.tasks import send_email

    transaction.on_commit(lambda: send_email.delay(to=to, subject=subject, text=text, html=html))


def sms_send(*, to: str, body: str) -> None:
    """Queues an SMS through the configured gateway once the current transaction commits."""
    from notifications.tasks import send_sms

    transaction.on_commit(lambda: send_sms.delay(to=to, body=body))


def sms_deliver(*, to: str, body: str) -> str:
    """Sends an SMS now through the configured backend; returns the gateway's id."""
    from notifications.sms import SmsMessage, get_backend

    return get_backend().send(SmsMessage(to=to, body=body, sender=settings.SMS_SENDER_ID))
