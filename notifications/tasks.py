"""Delivery tasks.

`deliver` works on a Delivery row and is safe to run twice (the row is claimed under
a lock from an open status). `send_email`/`send_sms` carry plain messages with no
row: re-running one re-sends it, so they retry only on errors raised before the
gateway accepted the message.
"""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from notifications import services
from notifications.sms import SmsGatewayError


class _RecoverableSmsError(Exception):
    pass


@shared_task(
    name="notifications.send_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def send_email(*, to: str, subject: str, text: str, html: str | None = None) -> None:
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@shared_task(
    name="notifications.send_sms",
    autoretry_for=(OSError, _RecoverableSmsError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def send_sms(*, to: str, body: str) -> str:
    try:
        return services.sms_deliver(to=to, body=body)
    except SmsGatewayError as exc:
        if exc.recoverable:
            raise _RecoverableSmsError(str(exc)) from exc
        raise


@shared_task(name="notifications.deliver", soft_time_limit=80, time_limit=90)
def deliver(*, delivery_id: int) -> str | None:
    result = services.delivery_attempt(delivery_id=delivery_id)
    if result is None:
        return None
    if result.retry_in is not None:
        # The next try is a new message with a countdown; the attempt count lives on the
        # Delivery row (NOTIFICATIONS_MAX_ATTEMPTS), so Celery's own retry counter is not used.
        deliver.apply_async(kwargs={"delivery_id": delivery_id}, countdown=result.retry_in)
    return result.status


@shared_task(
    name="notifications.requeue_stuck_deliveries",
    soft_time_limit=110,
    time_limit=120,
)
def requeue_stuck_deliveries() -> int:
    # Re-queuing is harmless: `deliver` claims each row once.
    return services.deliveries_requeue_stuck()


@shared_task(
    name="notifications.purge_old_notifications",
    soft_time_limit=540,
    time_limit=600,
)
def purge_old_notifications() -> int:
    return services.notifications_purge_old()
