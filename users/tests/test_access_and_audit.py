"""Role-based access to staff endpoints, throttling, bad input and audit rows."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry  # noqa: F401  (admin app installed)

from users.models import AuditLog, User

pytestmark = pytest.mark.django_db

PASSWORD = "Kente-cloth-42"

ROLES = [
    ("artist", ""),
    ("publisher", ""),
    ("station", ""),
    ("admin", "support"),
    ("admin", "finance"),
    ("admin", "superadmin"),
]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/api/v1/users/", {"support", "superadmin"}),
        ("get", "/api/v1/audit-log/", {"support", "superadmin"}),
        ("post", "/api/v1/users/", {"superadmin"}),
        ("post", "/api/v1/users/{target}/role/", {"superadmin"}),
        ("post", "/api/v1/users/{target}/active/", {"superadmin"}),
    ],
)
def test_each_role_reaches_only_its_endpoints(
    api_client, user_factory, client_for, method, path, allowed
):
    target = user_factory("artist", email="target@example.test")
    url = path.format(target=target.pk)
    anonymous = getattr(api_client, method)(url, {}, format="json")
    assert anonymous.status_code == 401

    for role, staff_role in ROLES:
        user = user_factory(role, staff_role=staff_role)
        response = getattr(client_for(user), method)(url, {}, format="json")
        key = staff_role or role
        if key in allowed:
            # Allowed callers get past permissions: 200 for reads, 400 for an empty body.
            assert response.status_code in (200, 400), (key, response.json())
        else:
            assert response.status_code == 403, (key, response.status_code)
            assert response.json()["error"]["code"] == "permission_denied"
    target.refresh_from_db()
    assert (target.role, target.is_active) == ("artist", True)


def test_superadmin_creates_staff_and_changes_roles_with_audit(user_factory, client_for):
    boss = user_factory("admin", staff_role="superadmin")
    client = client_for(boss)

    created = client.post(
        "/api/v1/users/",
        {"email": "efua@zamio.test", "password": PASSWORD, "staff_role": "finance"},
        format="json",
    )
    assert created.status_code == 201
    efua = User.objects.get(email="efua@zamio.test")
    assert (efua.role, efua.staff_role, efua.is_staff, efua.email_verified) == (
        "admin",
        "finance",
        True,
        True,
    )

    artist = user_factory("artist")
    changed = client.post(f"/api/v1/users/{artist.pk}/role/", {"role": "publisher"})
    assert changed.status_code == 200
    row = AuditLog.objects.get(action="user.role_change")
    assert (row.actor_id, row.target_id) == (boss.pk, str(artist.pk))
    assert row.before == {"role": "artist", "staff_role": ""}
    assert row.after == {"role": "publisher", "staff_role": ""}
    assert row.ip == "127.0.0.1"
    assert len(row.trace_id) == 32


def test_admin_role_requires_a_staff_role(user_factory, client_for):
    boss = user_factory("admin", staff_role="superadmin")
    artist = user_factory("artist")

    response = client_for(boss).post(f"/api/v1/users/{artist.pk}/role/", {"role": "admin"})

    assert response.status_code == 400
    artist.refresh_from_db()
    assert artist.role == "artist"
    assert not AuditLog.objects.filter(action="user.role_change").exists()


def test_suspended_user_cannot_use_api(user_factory, client_for):
    boss = user_factory("admin", staff_role="superadmin")
    victim = user_factory("artist")
    victim_client = client_for(victim)
    assert victim_client.get("/api/v1/auth/me/").status_code == 200

    client_for(boss).post(f"/api/v1/users/{victim.pk}/active/", {"is_active": False})

    assert victim_client.get("/api/v1/auth/me/").status_code == 401


def test_login_is_throttled(api_client, monkeypatch, user_factory):
    from users.throttles import AuthThrottle

    monkeypatch.setattr(AuthThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    user_factory("artist", email="ama@example.test", password=PASSWORD)
    payload = {"email": "ama@example.test", "password": "wrong-password"}

    codes = [api_client.post("/api/v1/auth/login/", payload).status_code for _ in range(4)]

    assert codes == [401, 401, 401, 429]
    throttled = api_client.post("/api/v1/auth/login/", payload)
    assert throttled.json()["error"]["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert AuditLog.objects.filter(action="user.login_failed").count() == 3


BAD_INPUT = [
    (
        "/api/v1/auth/register/",
        {"email": "not-an-email", "password": PASSWORD, "role": "artist"},
        "email",
    ),
    (
        "/api/v1/auth/register/",
        {"email": "a@example.test", "password": PASSWORD, "role": "drummer"},
        "role",
    ),
    ("/api/v1/auth/register/", {"email": "a@example.test", "role": "artist"}, "password"),
    (
        "/api/v1/auth/register/",
        {"email": ["a@example.test"], "password": PASSWORD, "role": "artist"},
        "email",
    ),
    (
        "/api/v1/auth/register/",
        {"email": "a@example.test", "password": PASSWORD, "role": "artist", "phone": "call me"},
        "phone",
    ),
    ("/api/v1/auth/login/", {"email": "a@example.test"}, "password"),
    ("/api/v1/auth/login/", {"email": 12, "password": {"x": 1}}, "email"),
    ("/api/v1/auth/login/otp/", {"challenge_id": "abc", "code": "123456"}, "challenge_id"),
    ("/api/v1/auth/login/otp/", {"challenge_id": 1, "code": "12ab56"}, "code"),
    ("/api/v1/auth/verify-email/", {}, "token"),
    ("/api/v1/auth/password-reset/", {"email": None}, "email"),
    ("/api/v1/auth/password-reset/confirm/", {"token": "t", "new_password": "x"}, "new_password"),
    ("/api/v1/auth/token/refresh/", {}, "refresh"),
]


@pytest.mark.parametrize(("path", "payload", "field"), BAD_INPUT)
def test_bad_input_gets_400_with_field_details_and_writes_nothing(api_client, path, payload, field):
    before = (User.objects.count(), AuditLog.objects.count())

    response = api_client.post(path, payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"]
    assert error["trace_id"] == response["X-Trace-Id"]
    assert (User.objects.count(), AuditLog.objects.count()) == before


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/register/", "/api/v1/auth/login/", "/api/v1/auth/password-reset/"]
)
def test_malformed_json_is_400_not_500(api_client, path):
    response = api_client.post(path, data='{"email": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert User.objects.count() == 0


def test_bad_input_to_staff_endpoint(user_factory, client_for):
    boss = user_factory("admin", staff_role="superadmin")
    before = User.objects.count()

    response = client_for(boss).post(
        "/api/v1/users/",
        {"email": "x@zamio.test", "password": PASSWORD, "staff_role": "ceo"},
        format="json",
    )

    assert response.status_code == 400
    assert "staff_role" in response.json()["error"]["details"]
    assert User.objects.count() == before


def test_unknown_api_path_uses_error_shape(api_client):
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_login_and_failed_login_are_audited_with_ip(api_client, user_factory):
    user = user_factory("station", email="fm@example.test", password=PASSWORD)

    api_client.post(
        "/api/v1/auth/login/",
        {"email": "fm@example.test", "password": "nope"},
        REMOTE_ADDR="41.66.1.2",
    )
    api_client.post(
        "/api/v1/auth/login/",
        {"email": "fm@example.test", "password": PASSWORD},
        REMOTE_ADDR="41.66.1.2",
    )

    failed = AuditLog.objects.get(action="user.login_failed")
    assert (failed.actor_id, failed.target_id, failed.ip) == (None, str(user.pk), "41.66.1.2")
    assert failed.after == {"email": "fm@example.test"}
    ok = AuditLog.objects.get(action="user.login")
    assert (ok.actor_id, ok.ip) == (user.pk, "41.66.1.2")


def test_admin_changes_are_audited_with_before_and_after(client, user_factory):
    boss = user_factory("admin", staff_role="superadmin", password=PASSWORD)
    artist = user_factory("artist", full_name="Old Name")
    client.force_login(boss)

    response = client.post(
        f"/admin/users/user/{artist.pk}/change/",
        {
            "email": artist.email,
            "full_name": "New Name",
            "phone": "",
            "role": "artist",
            "staff_role": "",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "email_verified_at_0": "",
            "email_verified_at_1": "",
            "phone_verified_at_0": "",
            "phone_verified_at_1": "",
        },
    )

    assert response.status_code == 302, response.content[:500]
    row = AuditLog.objects.get(action="admin.change")
    assert row.actor_id == boss.pk
    assert row.before["full_name"] == "Old Name"
    assert row.after["full_name"] == "New Name"
