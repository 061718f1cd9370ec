"""The live channel: a real ASGI app, JWT auth, channels-redis, a notify() that commits."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from notifications.models import NotificationKind
from notifications.services import notification_mark_read, notify
from users.services import tokens_for_user
from zamio.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(token: str | None):
    path = "/ws/v1/notifications/" + (f"?token={token}" if token else "")
    communicator = WebsocketCommunicator(application, path)
    connected, close_code = await communicator.connect(timeout=5)
    return communicator, connected, close_code


def test_anonymous_socket_is_refused():
    async def run():
        communicator, connected, close_code = await _connect(None)
        await communicator.disconnect()
        return connected, close_code

    assert async_to_sync(run)() == (False, 4401)


def test_bad_token_is_refused():
    async def run():
        communicator, connected, close_code = await _connect("not-a-jwt")
        await communicator.disconnect()
        return connected, close_code

    assert async_to_sync(run)() == (False, 4401)


def test_committed_notification_reaches_only_its_users_socket(user_factory):
    ama, kofi = user_factory("artist"), user_factory("artist")
    ama_token, kofi_token = tokens_for_user(ama)["access"], tokens_for_user(kofi)["access"]

    async def run():
        mine, ok_mine, _ = await _connect(ama_token)
        theirs, ok_theirs, _ = await _connect(kofi_token)
        await mine.send_json_to({"type": "ping"})
        pong = await mine.receive_json_from(timeout=5)
        notification = await _sync(notify)(
            user=ama,
            kind=NotificationKind.TRACK_APPROVED,
            title="Odo is approved",
            body="Radio monitoring has started.",
            link="/tracks/9",
            priority="high",
        )
        event = await mine.receive_json_from(timeout=5)
        nothing_for_kofi = await theirs.receive_nothing(timeout=0.3)
        await _sync(notification_mark_read)(notification=notification)
        unread_event = await mine.receive_json_from(timeout=5)
        await mine.disconnect()
        await theirs.disconnect()
        return ok_mine, ok_theirs, pong, notification, event, nothing_for_kofi, unread_event

    ok_mine, ok_theirs, pong, notification, event, nothing_for_kofi, unread_event = async_to_sync(
        run
    )()

    assert ok_mine and ok_theirs
    assert pong == {"type": "pong"}
    assert event["type"] == "notification"
    assert event["notification"]["id"] == notification.pk
    assert {k: event["notification"][k] for k in ("kind", "title", "link", "priority", "read")} == {
        "kind": "track_approved",
        "title": "Odo is approved",
        "link": "/tracks/9",
        "priority": "high",
        "read": False,
    }
    assert nothing_for_kofi is True
    assert unread_event == {"type": "unread_count", "unread": 0}


def _sync(fn):
    from channels.db import database_sync_to_async

    return database_sync_to_async(fn)
