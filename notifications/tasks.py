"""Delivery tasks. Re-running one re-sends the message: gateways de-duplicate nothing,
so these are retried only on errors raised before the gateway accepted it."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from notifications.services import sms_deliver


@shared_task(
    name="notifications.send_email",
    queue="default",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    time_limit=60,
)
def send_email(*, to: str, subject: str, text: str, html: str | None = None) -> None:
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@shared_task(
    name="notifications.send_sms",
    queue="default",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    time_limit=60,
)
def send_sms(*, to: str, body: str) -> str:
    return sms_deliver(to=to, body=body)
