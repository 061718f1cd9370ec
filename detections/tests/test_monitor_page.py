"""The live-monitor page at `/`, its WebSocket token, and session-login auditing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from detections.tests.factories import PlayLogFactory, StationFactory, StationStaffFactory
from users.models import AuditLog

pytestmark = pytest.mark.django_db

PASSWORD = "Kente-cloth-42"


def _recent_play(station, title: str):
    # Ten minutes ago, but never before local midnight: the totals are "today".
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    started = max(timezone.now() - timedelta(minutes=10), midnight + timedelta(seconds=1))
    return PlayLogFactory(
        station=station,
        track__title=title,
        started_at=started,
        ended_at=started + timedelta(seconds=200),
        duration_seconds=Decimal("200.00"),
    )


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_staff_sees_every_station_and_todays_plays(client, user_factory):
    staff = user_factory("admin", staff_role="support")
    accra, kumasi = StationFactory(name="Accra Live FM"), StationFactory(name="Kumasi Gold")
    _recent_play(accra, "Adowa Sunrise")
    _recent_play(kumasi, "Kumasi Nights")
    client.force_login(staff)

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Accra Live FM", "Kumasi Gold", "Adowa Sunrise", "Kumasi Nights"):
        assert text in page
    assert response.context["today"]["plays"] == 2
    assert response.context["today"]["airtime_minutes"] == pytest.approx(400 / 60, abs=0.1)


def test_station_account_sees_only_its_own_station(client, user_factory):
    manager = user_factory("station")
    mine, theirs = StationFactory(name="Accra Live FM"), StationFactory(name="Rival Radio")
    StationStaffFactory(station=mine, user=manager)
    _recent_play(mine, "Our Song")
    _recent_play(theirs, "Their Song")
    client.force_login(manager)

    page = client.get("/").content.decode()

    assert "Accra Live FM" in page and "Our Song" in page
    assert "Rival Radio" not in page and "Their Song" not in page


@pytest.mark.parametrize("role", ["artist", "publisher"])
def test_artists_and_publishers_are_refused(client, user_factory, role):
    client.force_login(user_factory(role))

    assert client.get("/").status_code == 403
    assert client.get("/live/token/").status_code == 403


def test_live_token_is_a_short_lived_access_token_for_the_session_user(client, user_factory):
    staff = user_factory("admin", staff_role="finance")
    client.force_login(staff)

    token = AccessToken(client.get("/live/token/").json()["token"])

    assert str(token["user_id"]) == str(staff.pk)
    remaining = token["exp"] - timezone.now().timestamp()
    assert 0 < remaining <= 300


def test_session_logins_are_audited(client, user_factory):
    user = user_factory("station", email="fm@example.test", password=PASSWORD)

    client.post("/login/", {"username": "fm@example.test", "password": "wrong"})
    client.post("/login/", {"username": "fm@example.test", "password": PASSWORD})

    failed = AuditLog.objects.get(action="user.login_failed")
    assert (failed.target_id, failed.after) == (
        str(user.pk),
        {"email": "fm@example.test", "via": "session"},
    )
    ok = AuditLog.objects.get(action="user.login")
    assert (ok.actor_id, ok.after) == (user.pk, {"via": "session"})
