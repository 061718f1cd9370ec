"""notify(): the in-app row, delivery per channel, preferences, retries and rollbacks."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from notifications import sms
from notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    NotificationKind,
)
from notifications.services import (
    deliveries_requeue_stuck,
    delivery_attempt,
    delivery_retry,
    notify,
    preferences_update,
    retry_delay,
)
from notifications.tests.factories import NotificationPreferenceFactory

pytestmark = pytest.mark.django_db


def _notify(user, kind=NotificationKind.WITHDRAWAL_STATUS, **extra):
    values = {
        "title": "Withdrawal paid",
        "body": "GHS 120.00 went to your MTN MoMo wallet.",
        "link": "/wallet/withdrawals/7",
        "context": {"amount": "120.00", "status": "paid", "reference": "WD-7"},
    }
    values.update(extra)
    return notify(user=user, kind=kind, **values)


def _deliveries(notification):
    return {d.channel: d for d in Delivery.objects.filter(notification=notification).order_by("id")}


def test_notify_stores_the_row_and_delivers_email_sms_and_live_after_commit(
    user_factory, django_capture_on_commit_callbacks
):
    user = user_factory("artist", phone="0241234567", full_name="Ama Mensah")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = _notify(user)
        assert mail.outbox == [] and sms.outbox == []  # nothing leaves before commit
    for callback in callbacks:
        callback()

    notification.refresh_from_db()
    assert (notification.kind, notification.title, notification.read_at) == (
        "withdrawal_status",
        "Withdrawal paid",
        None,
    )
    assert notification.context == {"amount": "120.00", "status": "paid", "reference": "WD-7"}
    deliveries = _deliveries(notification)
    assert set(deliveries) == {"email", "sms", "websocket"}
    assert {d.status for d in deliveries.values()} == {"sent"}
    assert all(d.attempts == 1 for d in deliveries.values())
    assert DeliveryAttempt.objects.filter(delivery__notification=notification).count() == 3

    [email] = mail.outbox
    assert email.to == [user.email]
    assert email.subject == "Withdrawal paid"
    assert "Hello Ama Mensah," in email.body
    assert "Amount: 120.00" in email.body
    assert "View the withdrawal: http://127.0.0.1:8000/wallet/withdrawals/7" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "<h1" in html and "GHS 120.00 went to your MTN MoMo wallet." in html
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/api/v1/notifications/unsubscribe/?token=" in email.extra_headers["List-Unsubscribe"]
    assert deliveries["email"].provider_message_id == email.extra_headers["Message-ID"]

    [text] = sms.outbox
    assert text.to == "0241234567"
    assert text.body == (
        "ZamIO: Withdrawal paid. GHS 120.00 went to your MTN MoMo wallet. "
        "http://127.0.0.1:8000/wallet/withdrawals/7"
    )


def test_no_notification_or_delivery_survives_a_rolled_back_transaction(
    user_factory, django_capture_on_commit_callbacks
):
    user = user_factory("artist", phone="0241234567")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _notify(user)
        raise RuntimeError("the withdrawal failed after all")

    assert callbacks == []
    assert Notification.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert mail.outbox == [] and sms.outbox == []


def test_each_kind_renders_html_and_text_email(user_factory, django_capture_on_commit_callbacks):
    user = user_factory("artist")
    kinds = [k for k in NotificationKind.values if k not in ("otp", "daily_airplay_digest")]
    # Turn on email everywhere so every template is exercised through notify itself.
    preferences_update(user=user, changes=[{"kind": "daily_airplay_digest", "email": True}])

    with django_capture_on_commit_callbacks(execute=True):
        for kind in [*kinds, "daily_airplay_digest"]:
            notify(
                user=user,
                kind=kind,
                title=f"Title {kind}",
                body=f"Body {kind}",
                context={"rows": [{"track_title": "Odo", "station_name": "Joy FM", "plays": 4}]},
            )

    assert len(mail.outbox) == len(kinds) + 1
    for message, kind in zip(mail.outbox, [*kinds, "daily_airplay_digest"], strict=True):
        assert message.subject == f"Title {kind}"
        assert f"Body {kind}" in message.body
        assert f"Body {kind}" in message.alternatives[0][0]
    digest = mail.outbox[-1]
    assert "- Odo on Joy FM: 4" in digest.body
    assert ">Odo</td>" in digest.alternatives[0][0]
    assert ">Joy FM</td>" in digest.alternatives[0][0]


def test_email_opt_out_keeps_other_channels(user_factory, django_capture_on_commit_callbacks):
    user = user_factory("station", phone="+233201112233")
    NotificationPreferenceFactory(
        user=user, kind=NotificationKind.STATION_STREAM_DOWN, email=False, sms=True, websocket=True
    )

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(
            user, kind=NotificationKind.STATION_STREAM_DOWN, title="Joy FM is off air", body="x"
        )

    assert set(_deliveries(notification)) == {"sms", "websocket"}
    assert mail.outbox == []
    assert [m.to for m in sms.outbox] == ["+233201112233"]


def test_all_channels_off_still_keeps_the_in_app_notification(
    user_factory, django_capture_on_commit_callbacks
):
    user = user_factory("artist", phone="0241234567")
    preferences_update(
        user=user,
        changes=[{"kind": "track_approved", "email": False, "sms": False, "websocket": False}],
    )

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user, kind=NotificationKind.TRACK_APPROVED)

    assert Notification.objects.filter(pk=notification.pk).exists()
    assert _deliveries(notification) == {}
    assert mail.outbox == [] and sms.outbox == []


def test_daily_digest_is_opt_in(user_factory, django_capture_on_commit_callbacks):
    silent, subscriber = user_factory("artist"), user_factory("artist")
    preferences_update(user=subscriber, changes=[{"kind": "daily_airplay_digest", "email": True}])

    with django_capture_on_commit_callbacks(execute=True):
        for user in (silent, subscriber):
            _notify(user, kind=NotificationKind.DAILY_AIRPLAY_DIGEST, title="Your plays")

    assert [m.to for m in mail.outbox] == [[subscriber.email]]


def test_security_messages_ignore_stored_opt_outs(user_factory, django_capture_on_commit_callbacks):
    user = user_factory("artist", phone="0241234567")
    # A row written behind the API's back (admin, script) still cannot silence security mail.
    NotificationPreferenceFactory(
        user=user, kind=NotificationKind.PAYOUT_DETAILS_CHANGED, email=False, sms=False
    )

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(
            user, kind=NotificationKind.PAYOUT_DETAILS_CHANGED, title="Payout number changed"
        )

    assert set(_deliveries(notification)) == {"email", "sms", "websocket"}
    assert len(mail.outbox) == 1 and len(sms.outbox) == 1
    assert "unsubscribe" not in mail.outbox[0].body.lower()
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


def test_sms_without_a_phone_number_is_recorded_as_skipped(
    user_factory, django_capture_on_commit_callbacks
):
    user = user_factory("artist", phone="")

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user)

    deliveries = _deliveries(notification)
    assert deliveries["sms"].status == DeliveryStatus.SKIPPED
    assert deliveries["sms"].attempts == 0
    assert deliveries["email"].status == DeliveryStatus.SENT
    assert sms.outbox == []


def test_sms_goes_through_the_http_gateway(
    user_factory, arkesel, django_capture_on_commit_callbacks
):
    user = user_factory("artist", phone="024 123 4567")

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user)

    [request] = arkesel.requests
    assert request["path"] == "/api/v2/sms/send"
    assert request["api_key"] == "test-key-123"
    assert request["body"] == {
        "sender": "ZamIO",
        "message": "ZamIO: Withdrawal paid. GHS 120.00 went to your MTN MoMo wallet. "
        "http://127.0.0.1:8000/wallet/withdrawals/7",
        "recipients": ["233241234567"],
    }
    delivery = _deliveries(notification)["sms"]
    assert (delivery.status, delivery.provider_message_id) == ("sent", "msg-1")


def test_gateway_500_is_retried_with_backoff_and_every_attempt_recorded(
    user_factory, arkesel, django_capture_on_commit_callbacks
):
    user = user_factory("artist", phone="0241234567")
    arkesel.script = [(500, {"status": "error", "message": "Internal error"})]

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user)

    delivery = _deliveries(notification)["sms"]
    assert (delivery.status, delivery.attempts, delivery.provider_message_id) == (
        "sent",
        2,
        "msg-2",
    )
    first, second = DeliveryAttempt.objects.filter(delivery=delivery).order_by("number")
    assert (first.number, first.succeeded, first.status_code) == (1, False, 500)
    assert "Internal error" in first.error
    assert (second.number, second.succeeded, second.status_code, second.error) == (
        2,
        True,
        None,
        "",
    )
    assert len(arkesel.requests) == 2
    assert len(mail.outbox) == 1


def test_retry_delay_grows_and_is_capped(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 600

    delays = [retry_delay(n) for n in range(1, 8)]

    assert 24 <= delays[0] <= 30
    assert 48 <= delays[1] <= 60
    assert 96 <= delays[2] <= 120
    assert all(480 <= d <= 600 for d in delays[5:])


def test_refused_sms_fails_without_retry_and_does_not_block_the_email(
    user_factory, arkesel, django_capture_on_commit_callbacks
):
    user = user_factory("artist", phone="0241234567")
    arkesel.script = [(422, {"status": "error", "message": "Invalid recipient"})]

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user)

    deliveries = _deliveries(notification)
    assert (deliveries["sms"].status, deliveries["sms"].attempts) == ("failed", 1)
    assert "Invalid recipient" in deliveries["sms"].last_error
    assert deliveries["email"].status == "sent"
    assert len(mail.outbox) == 1
    assert len(arkesel.requests) == 1


def test_gateway_that_keeps_failing_gives_up_after_max_attempts(
    settings, user_factory, arkesel, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    user = user_factory("artist", phone="0241234567")
    arkesel.script = [(503, {"status": "error", "message": "busy"})] * 5

    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user)

    delivery = _deliveries(notification)["sms"]
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert DeliveryAttempt.objects.filter(delivery=delivery, succeeded=False).count() == 3
    assert len(arkesel.requests) == 3
    assert mail.outbox[0].to == [user.email]


def test_failed_delivery_can_be_retried_by_support(
    settings, user_factory, arkesel, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    user = user_factory("artist", phone="0241234567")
    arkesel.script = [(500, {"status": "error", "message": "down"})]
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user)
    delivery = _deliveries(notification)["sms"]
    assert delivery.status == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        delivery_retry(delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 2


def test_running_a_delivery_twice_sends_once(user_factory, django_capture_on_commit_callbacks):
    user = user_factory("artist", phone="0241234567")
    with django_capture_on_commit_callbacks(execute=True):
        notification = _notify(user)
    email = _deliveries(notification)[Channel.EMAIL]

    assert delivery_attempt(delivery_id=email.pk) is None
    assert delivery_attempt(delivery_id=999_999) is None
    assert len(mail.outbox) == 1
    assert DeliveryAttempt.objects.filter(delivery=email).count() == 1


def test_sweeper_requeues_deliveries_whose_task_was_lost(
    settings, user_factory, django_capture_on_commit_callbacks
):
    user = user_factory("artist")
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the tasks
        notification = _notify(user, kind=NotificationKind.TRACK_APPROVED)
    assert mail.outbox == []
    settings.NOTIFICATIONS_STALE_SECONDS = 0

    with django_capture_on_commit_callbacks(execute=True):
        requeued = deliveries_requeue_stuck()

    assert requeued == 2
    assert {d.status for d in _deliveries(notification).values()} == {"sent"}
    assert len(mail.outbox) == 1


def test_unknown_kind_or_priority_is_refused_and_stores_nothing(user_factory):
    from zamio.errors import ValidationFailed

    user = user_factory("artist")
    with pytest.raises(ValidationFailed):
        notify(user=user, kind="nonsense", title="t", body="b")
    with pytest.raises(ValidationFailed):
        notify(user=user, kind="track_approved", title="t", body="b", priority="extreme")
    assert Notification.objects.count() == 0
