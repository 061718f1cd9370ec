"""Outgoing messages. Anyone may call these; they call no other app.

`notify` is the one entry point for telling a user something: it stores the
in-app notification and queues one Delivery per enabled channel on commit. The
delivery task (`notifications.deliver`) calls `delivery_attempt`, which records
every try and says when to retry.
"""

from __future__ import annotations

import logging
import random
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from notifications.channels import user_broadcast, user_broadcast_on_commit
from notifications.messages import (
    email_render,
    notification_email,
    notification_payload,
    notification_sms,
)
from notifications.models import (
    SECURITY_KINDS,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationPriority,
)
from notifications.selectors import ChannelChoice, channel_choices_for
from notifications.sms import SmsGatewayError
from users.models import User
from zamio.errors import ValidationFailed

logger = logging.getLogger(__name__)


# --- Plain messages (no in-app row) ---------------------------------------------------
def email_send(*, to: str, subject: str, text: str, html: str | None = None) -> None:
    """Queues an email for delivery once the current transaction commits."""
    from notifications.tasks import send_email

    transaction.on_commit(lambda: send_email.delay(to=to, subject=subject, text=text, html=html))


def email_templated_send(
    *, to: str, kind: str, subject: str, context: dict, to_name: str = ""
) -> None:
    """Renders a kind's HTML + text templates and queues the email on commit; stores nothing.

    For messages that carry secrets (verification and reset links): no in-app row
    keeps them, and they have no unsubscribe link.
    """
    if kind not in NotificationKind.values:
        raise ValidationFailed(f"Unknown notification kind {kind!r}.")
    rendered = email_render(
        kind=kind, subject=subject, to_name=to_name or to, context=context, user_id=None
    )
    email_send(to=to, subject=rendered.subject, text=rendered.text, html=rendered.html)


def sms_send(*, to: str, body: str) -> None:
    """Queues an SMS through the configured gateway once the current transaction commits."""
    from notifications.tasks import send_sms

    transaction.on_commit(lambda: send_sms.delay(to=to, body=body))


def sms_deliver(*, to: str, body: str) -> str:
    """Sends an SMS now through the configured backend; returns the gateway's id."""
    from notifications.sms import SmsMessage, get_backend

    return get_backend().send(SmsMessage(to=to, body=body, sender=settings.SMS_SENDER_ID))


# --- Preferences ----------------------------------------------------------------------
@transaction.atomic
def preferences_update(*, user: User, changes: list[dict]) -> dict[str, ChannelChoice]:
    """Stores the user's channel choices per kind (partial: unnamed channels keep their value)."""
    current = channel_choices_for(user=user)
    errors: dict[str, list[str]] = {}
    for change in changes:
        kind = change.get("kind")
        if kind not in current:
            errors[str(kind)] = ["Unknown notification kind."]
        elif current[kind].locked and any(
            change.get(ch) is False and getattr(current[kind], ch) for ch in Channel.values
        ):
            errors[kind] = ["Security messages cannot be turned off."]
    if errors:
        raise ValidationFailed("Some preferences cannot be changed.", details=errors)
    for change in changes:
        kind = change["kind"]
        if current[kind].locked:
            continue
        values = {ch: change.get(ch, getattr(current[kind], ch)) for ch in Channel.values}
        NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults=values)
    return channel_choices_for(user=user)


@transaction.atomic
def preference_email_unsubscribe(*, user_id: int, kind: str) -> ChannelChoice:
    """Turns off email for one kind (the link in every email); security kinds stay on."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or kind not in NotificationKind.values:
        raise ValidationFailed("This unsubscribe link is not valid.", code="token_invalid")
    if kind in SECURITY_KINDS:
        raise ValidationFailed("Security messages cannot be turned off.", code="security_message")
    return preferences_update(user=user, changes=[{"kind": kind, "email": False}])[kind]


# --- Notify ---------------------------------------------------------------------------
def notify(
    *,
    user: User,
    kind: str,
    title: str,
    body: str,
    link: str = "",
    priority: str = NotificationPriority.NORMAL,
    context: dict | None = None,
) -> Notification:
    """Stores an in-app notification and queues its email/SMS/live deliveries on commit."""
    if kind not in NotificationKind.values:
        raise ValidationFailed(f"Unknown notification kind {kind!r}.", details={"kind": [kind]})
    if priority not in NotificationPriority.values:
        raise ValidationFailed(f"Unknown priority {priority!r}.", details={"priority": [priority]})
    with transaction.atomic():
        notification = Notification.objects.create(
            user=user,
            kind=kind,
            priority=priority,
            title=title[:200],
            body=body,
            link=link,
            context=context or {},
        )
        choice = channel_choices_for(user=user)[kind]
        for channel in choice.enabled():
            delivery = Delivery.objects.create(
                notification=notification,
                channel=channel,
                **_recipient(user=user, channel=channel),
            )
            if delivery.status == DeliveryStatus.PENDING:
                _deliver_on_commit(delivery_id=delivery.pk)
    return notification


def _recipient(*, user: User, channel: str) -> dict:
    if channel == Channel.EMAIL:
        address = user.email
    elif channel == Channel.SMS:
        address = user.phone
    else:
        address = f"user:{user.pk}"
    if not address:
        return {"recipient": "", "status": DeliveryStatus.SKIPPED, "last_error": "No address."}
    return {"recipient": address}


# --- Delivery ---------------------------------------------------------------------------
def _deliver_on_commit(*, delivery_id: int) -> None:
    from notifications.tasks import deliver

    transaction.on_commit(lambda: deliver.delay(delivery_id=delivery_id))


class DeliveryError(Exception):
    def __init__(self, message: str, *, recoverable: bool, status_code: int | None = None):
        super().__init__(message)
        self.recoverable = recoverable
        self.status_code = status_code


@dataclass(frozen=True)
class AttemptResult:
    status: str  # the delivery's status after this call
    retry_in: int | None = None  # seconds until the next try, when one is due


def retry_delay(attempt: int) -> int:
    """Exponential backoff with jitter, capped below the broker's visibility timeout."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0)
    capped = min(base, settings.NOTIFICATIONS_RETRY_MAX_SECONDS)
    return max(1, int(capped * random.uniform(0.8, 1.0)))  # noqa: S311 (jitter, not secrets)


def delivery_attempt(*, delivery_id: int) -> AttemptResult | None:
    """Claims a delivery, sends it once, records the attempt; None if there is nothing to do.

    Safe to run twice: a delivery is claimed under a row lock, only from an open
    status (or a 'sending' claim older than the stale window, left by a crashed
    worker), so a sent or failed delivery is never sent again.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.NOTIFICATIONS_STALE_SECONDS)
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .filter(pk=delivery_id)
            .filter(
                Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
                | Q(status=DeliveryStatus.SENDING, updated_at__lt=stale_before)
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.status = DeliveryStatus.SENDING
        delivery.next_attempt_at = None
        delivery.save(update_fields=["attempts", "status", "next_attempt_at", "updated_at"])
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery, number=delivery.attempts, started_at=now
        )
    # The network call happens outside any transaction: no row lock is held while we wait.
    notification = Notification.objects.select_related("user").get(pk=delivery.notification_id)
    try:
        provider_id = _send(delivery=delivery, notification=notification)
    except DeliveryError as exc:
        return _attempt_failed(delivery=delivery, attempt=attempt, error=exc)
    with transaction.atomic():
        finished = timezone.now()
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(finished_at=finished, succeeded=True)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENT,
            sent_at=finished,
            provider_message_id=provider_id[:200],
            last_error="",
            updated_at=finished,
        )
    return AttemptResult(status=DeliveryStatus.SENT)


def _attempt_failed(*, delivery: Delivery, attempt: DeliveryAttempt, error: DeliveryError):
    finished = timezone.now()
    final = not error.recoverable or delivery.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS
    retry_in = None if final else retry_delay(delivery.attempts)
    logger.warning(
        "Delivery %s (%s) attempt %s failed: %s",
        delivery.pk,
        delivery.channel,
        delivery.attempts,
        error,
    )
    with transaction.atomic():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=finished, error=str(error)[:2000], status_code=error.status_code
        )
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING,
            next_attempt_at=None if final else finished + timedelta(seconds=retry_in),
            last_error=str(error)[:2000],
            updated_at=finished,
        )
    return AttemptResult(
        status=DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING, retry_in=retry_in
    )


# SMTP answers that no retry can fix (a refused address, a rejected message).
_PERMANENT_SMTP = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)


def _send(*, delivery: Delivery, notification: Notification) -> str:
    """Sends one delivery on its channel; returns the provider's id or raises DeliveryError."""
    if delivery.channel == Channel.EMAIL:
        rendered = notification_email(notification)
        message_id = make_msgid(domain=DNS_NAME)
        message = EmailMultiAlternatives(
            rendered.subject,
            rendered.text,
            settings.DEFAULT_FROM_EMAIL,
            [delivery.recipient],
            headers={**rendered.headers, "Message-ID": message_id},
        )
        message.attach_alternative(rendered.html, "text/html")
        try:
            message.send()
        except _PERMANENT_SMTP as exc:
            raise DeliveryError(f"Mail server refused: {exc}", recoverable=False) from exc
        except OSError as exc:  # smtplib.SMTPException and network errors are OSErrors
            raise DeliveryError(f"Mail server error: {exc}", recoverable=True) from exc
        return message_id
    if delivery.channel == Channel.SMS:
        try:
            return sms_deliver(to=delivery.recipient, body=notification_sms(notification))
        except SmsGatewayError as exc:
            raise DeliveryError(
                str(exc), recoverable=exc.recoverable, status_code=exc.status_code
            ) from exc
        except OSError as exc:
            raise DeliveryError(f"SMS backend error: {exc}", recoverable=True) from exc
    try:
        user_broadcast(user_id=notification.user_id, payload=notification_payload(notification))
    except (OSError, RedisError) as exc:
        raise DeliveryError(f"Channel layer error: {exc}", recoverable=True) from exc
    return f"ws-{notification.pk}"


@transaction.atomic
def delivery_retry(*, delivery: Delivery) -> Delivery:
    """Re-opens a failed delivery for one more attempt (a support action) and queues it."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status != DeliveryStatus.FAILED:
        raise ValidationFailed("Only a failed delivery can be retried.", code="not_failed")
    delivery.status = DeliveryStatus.PENDING
    delivery.save(update_fields=["status", "updated_at"])
    _deliver_on_commit(delivery_id=delivery.pk)
    return delivery


def deliveries_requeue_stuck() -> int:
    """Re-queues deliveries whose task was lost (broker restart, worker crash); returns how many."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.NOTIFICATIONS_STALE_SECONDS)
    ids = list(
        Delivery.objects.filter(
            Q(status=DeliveryStatus.PENDING, updated_at__lt=stale_before)
            | Q(status=DeliveryStatus.SENDING, updated_at__lt=stale_before)
            | Q(
                status=DeliveryStatus.RETRYING,
                next_attempt_at__lt=now - timedelta(seconds=settings.NOTIFICATIONS_STALE_SECONDS),
            )
        ).values_list("pk", flat=True)[:1000]
    )
    with transaction.atomic():
        for delivery_id in ids:
            _deliver_on_commit(delivery_id=delivery_id)
    return len(ids)


# --- Reading ----------------------------------------------------------------------------
def _unread_broadcast(*, user: User) -> None:
    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    user_broadcast_on_commit(user_id=user.pk, payload={"type": "unread_count", "unread": unread})


@transaction.atomic
def notification_mark_read(*, notification: Notification) -> Notification:
    """Marks one notification read (idempotent) and pushes the new unread count live."""
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
        _unread_broadcast(user=notification.user)
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user: User) -> int:
    """Marks every unread notification of the user read; returns how many changed."""
    changed = Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if changed:
        _unread_broadcast(user=user)
    return changed


def notifications_purge_old() -> int:
    """Deletes read notifications older than the retention period; returns how many."""
    cutoff = timezone.now() - timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS)
    deleted, _ = Notification.objects.filter(read_at__isnull=False, created_at__lt=cutoff).delete()
    return deleted
