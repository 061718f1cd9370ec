"""Notification endpoints: wiring, permissions, and that refused requests change nothing."""

from __future__ import annotations

import pytest
from django.core import mail

from notifications.messages import unsubscribe_token
from notifications.models import Notification, NotificationKind, NotificationPreference
from notifications.services import notify
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications/"
PREFS = "/api/v1/notifications/preferences/"
UNSUBSCRIBE = "/api/v1/notifications/unsubscribe/"


def test_anonymous_is_refused_everywhere(api_client):
    for method, url in [
        ("get", LIST),
        ("get", "/api/v1/notifications/unread-count/"),
        ("post", "/api/v1/notifications/1/read/"),
        ("post", "/api/v1/notifications/read-all/"),
        ("get", PREFS),
        ("patch", PREFS),
    ]:
        assert getattr(api_client, method)(url).status_code == 401, url


def test_list_shows_only_my_notifications_and_filters_unread(user_factory, client_for):
    me, other = user_factory("artist"), user_factory("station")
    read = NotificationFactory(user=me, title="Old news")
    Notification.objects.filter(pk=read.pk).update(read_at="2026-01-01T00:00:00Z")
    unread = NotificationFactory(user=me, title="Fresh", kind=NotificationKind.KYC_DECISION)
    NotificationFactory(user=other, title="Not yours")
    client = client_for(me)

    everything = client.get(LIST).json()
    only_unread = client.get(LIST, {"unread": "true"}).json()
    only_read = client.get(LIST, {"unread": "false"}).json()
    by_kind = client.get(LIST, {"kind": "kyc_decision"}).json()
    count = client.get("/api/v1/notifications/unread-count/").json()

    assert [n["title"] for n in everything["results"]] == ["Fresh", "Old news"]
    assert everything["count"] == 2
    assert [n["id"] for n in only_unread["results"]] == [unread.pk]
    assert [n["id"] for n in only_read["results"]] == [read.pk]
    assert [n["id"] for n in by_kind["results"]] == [unread.pk]
    assert count == {"unread": 1}
    assert set(everything["results"][0]) == {
        "id",
        "kind",
        "priority",
        "title",
        "body",
        "link",
        "context",
        "read",
        "read_at",
        "created_at",
    }


def test_bad_filter_value_is_a_400(user_factory, client_for):
    response = client_for(user_factory("artist")).get(LIST, {"kind": "nonsense"})
    assert response.status_code == 400
    assert "kind" in response.json()["error"]["details"]


def test_mark_read_own_notification(user_factory, client_for):
    me = user_factory("artist")
    notification = NotificationFactory(user=me)

    response = client_for(me).post(f"/api/v1/notifications/{notification.pk}/read/")

    assert response.status_code == 200
    assert response.json()["read"] is True
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_marking_someone_elses_notification_is_a_404_and_changes_nothing(user_factory, client_for):
    owner, intruder = user_factory("artist"), user_factory("artist")
    notification = NotificationFactory(user=owner)

    response = client_for(intruder).post(f"/api/v1/notifications/{notification.pk}/read/")

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_read_all_marks_only_mine(user_factory, client_for):
    me, other = user_factory("artist"), user_factory("artist")
    NotificationFactory.create_batch(3, user=me)
    NotificationFactory(user=other)

    response = client_for(me).post("/api/v1/notifications/read-all/")

    assert response.json() == {"marked": 3, "unread": 0}
    assert Notification.objects.filter(user=other, read_at__isnull=True).count() == 1


def test_preferences_list_every_kind_with_defaults(user_factory, client_for):
    response = client_for(user_factory("artist")).get(PREFS)

    rows = {row["kind"]: row for row in response.json()}
    assert set(rows) == set(NotificationKind.values)
    assert rows["withdrawal_status"] == {
        "kind": "withdrawal_status",
        "label": "Withdrawal status",
        "email": True,
        "sms": True,
        "websocket": True,
        "locked": False,
    }
    assert rows["daily_airplay_digest"]["email"] is False
    assert rows["password_reset"]["locked"] is True


def test_preferences_patch_is_partial(user_factory, client_for):
    me = user_factory("artist")

    response = client_for(me).patch(
        PREFS,
        {"preferences": [{"kind": "withdrawal_status", "sms": False}]},
        format="json",
    )

    assert response.status_code == 200
    rows = {row["kind"]: row for row in response.json()}
    assert (rows["withdrawal_status"]["email"], rows["withdrawal_status"]["sms"]) == (True, False)
    pref = NotificationPreference.objects.get(user=me)
    assert (pref.kind, pref.email, pref.sms, pref.websocket) == (
        "withdrawal_status",
        True,
        False,
        True,
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"preferences": [{"kind": "password_reset", "email": False}]},
        {"preferences": [{"kind": "nonsense", "email": False}]},
        {"preferences": [{"kind": "track_approved"}]},
        {"preferences": [{"kind": "track_approved", "email": "maybe"}]},
        {"preferences": []},
        {},
        {
            "preferences": [
                {"kind": "track_approved", "email": False},
                {"kind": "track_approved", "sms": True},
            ]
        },
    ],
)
def test_bad_preference_changes_are_400_and_change_nothing(user_factory, client_for, payload):
    me = user_factory("artist")

    response = client_for(me).patch(PREFS, payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"]
    assert NotificationPreference.objects.count() == 0


def test_a_security_kind_and_a_valid_kind_together_change_nothing(user_factory, client_for):
    me = user_factory("artist")
    payload = {
        "preferences": [
            {"kind": "track_approved", "email": False},
            {"kind": "payout_details_changed", "sms": False},
        ]
    }

    response = client_for(me).patch(PREFS, payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "payout_details_changed": ["Security messages cannot be turned off."]
    }
    assert NotificationPreference.objects.count() == 0


def test_unsubscribe_link_turns_off_that_kinds_email_without_login(
    user_factory, api_client, django_capture_on_commit_callbacks
):
    me = user_factory("artist")
    token = unsubscribe_token(user_id=me.pk, kind="track_approved")

    preview = api_client.get(UNSUBSCRIBE, {"token": token})
    assert preview.json() == {
        "kind": "track_approved",
        "label": "Track approved",
        "email": True,
        "done": False,
    }
    assert NotificationPreference.objects.count() == 0  # looking does not unsubscribe

    done = api_client.post(f"{UNSUBSCRIBE}?token={token}", {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert done.json()["email"] is False

    with django_capture_on_commit_callbacks(execute=True):
        notify(user=me, kind="track_approved", title="Odo approved", body="x")
        notify(user=me, kind="track_rejected", title="Kofi rejected", body="y")
    assert [m.subject for m in mail.outbox] == ["Kofi rejected"]


def test_unsubscribe_page_for_a_browser(user_factory, client):
    me = user_factory("artist")
    token = unsubscribe_token(user_id=me.pk, kind="invoice_issued")

    page = client.get(UNSUBSCRIBE, {"token": token}, HTTP_ACCEPT="text/html")
    confirmed = client.post(f"{UNSUBSCRIBE}?token={token}", HTTP_ACCEPT="text/html")
    broken = client.get(UNSUBSCRIBE, {"token": token + "x"}, HTTP_ACCEPT="text/html")

    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "Stop emails about “Invoice issued”?" in page.content.decode()
    assert '<form method="post">' in page.content.decode()
    assert "You are unsubscribed" in confirmed.content.decode()
    assert broken.status_code == 400
    assert "This link does not work" in broken.content.decode()
    assert NotificationPreference.objects.get(user=me, kind="invoice_issued").email is False


@pytest.mark.parametrize("kind", ["password_reset", "nonsense"])
def test_unsubscribe_refuses_forged_security_or_unknown_kinds(user_factory, api_client, kind):
    me = user_factory("artist")
    forged = unsubscribe_token(user_id=me.pk, kind="track_approved")[:-3] + "abc"

    assert api_client.post(f"{UNSUBSCRIBE}?token={forged}").status_code == 400
    response = api_client.post(f"{UNSUBSCRIBE}?token={unsubscribe_token(user_id=me.pk, kind=kind)}")
    assert response.status_code == 400
    assert api_client.post(UNSUBSCRIBE).status_code == 400
    assert NotificationPreference.objects.count() == 0
