from __future__ import annotations

import factory

from notifications.models import Notification, NotificationKind, NotificationPreference


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    kind = NotificationKind.TRACK_APPROVED
    title = factory.Sequence(lambda n: f"Track {n} approved")
    body = "Radio monitoring has started."


class NotificationPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationPreference

    kind = NotificationKind.TRACK_APPROVED
    email = True
    sms = False
    websocket = True
