"""Reads of notifications: each user sees only their own."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from notifications.models import (
    DEFAULT_CHANNELS,
    SECURITY_KINDS,
    Channel,
    Delivery,
    Notification,
    NotificationKind,
    NotificationPreference,
)
from users.models import User


def notifications_visible_to(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def deliveries_for_support() -> QuerySet[Delivery]:
    return Delivery.objects.select_related("notification", "notification__user").prefetch_related(
        "attempt_log"
    )


def user_ids_opted_in(*, kind: str) -> QuerySet:
    """Ids of users who turned on a channel for an opt-in kind (one whose defaults are all off,
    such as the daily airplay digest), so its sender builds digests only for them."""
    if any(DEFAULT_CHANNELS[kind]):
        raise ValueError(f"{kind} is not an opt-in kind: users without a choice receive it.")
    return (
        NotificationPreference.objects.filter(kind=kind)
        .filter(Q(email=True) | Q(sms=True) | Q(websocket=True))
        .values_list("user_id", flat=True)
    )


@dataclass(frozen=True)
class ChannelChoice:
    kind: str
    email: bool
    sms: bool
    websocket: bool
    locked: bool  # a security kind: its channels cannot be turned off

    def enabled(self) -> list[str]:
        flags = {
            Channel.EMAIL: self.email,
            Channel.SMS: self.sms,
            Channel.WEBSOCKET: self.websocket,
        }
        return [channel for channel, on in flags.items() if on]


def channel_choices_for(*, user: User) -> dict[str, ChannelChoice]:
    """Every kind's effective channels for `user`: their stored choice, else the defaults."""
    stored = {p.kind: p for p in NotificationPreference.objects.filter(user=user)}
    choices = {}
    for kind in NotificationKind.values:
        email, sms, websocket = DEFAULT_CHANNELS[kind]
        locked = kind in SECURITY_KINDS
        pref = stored.get(kind)
        if pref is not None and not locked:
            email, sms, websocket = pref.email, pref.sms, pref.websocket
        choices[kind] = ChannelChoice(kind, email, sms, websocket, locked)
    return choices


def channel_choice_for_token(*, user_id: int, kind: str) -> ChannelChoice | None:
    """The choice an unsubscribe link refers to; None if the user or kind no longer exists."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or kind not in NotificationKind.values:
        return None
    return channel_choices_for(user=user)[kind]
