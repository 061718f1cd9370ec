"""Registration, verification, login, refresh, logout and password reset over the API."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from users.models import AuditLog, OneTimeToken, TokenPurpose, User

pytestmark = pytest.mark.django_db

PASSWORD = "Kente-cloth-42"


def _token_from_last_email() -> str:
    body = mail.outbox[-1].body
    return re.search(r"code in the app: (\S+)", body).group(1)


def _register(api_client, email="ama@example.test", role="artist"):
    return api_client.post(
        "/api/v1/auth/register/",
        {"email": email, "password": PASSWORD, "role": role, "full_name": "Ama Mensah"},
        format="json",
    )


def _login(api_client, email="ama@example.test", password=PASSWORD):
    return api_client.post(
        "/api/v1/auth/login/", {"email": email, "password": password}, format="json"
    )


@pytest.mark.parametrize("role", ["artist", "publisher", "station"])
def test_register_creates_unverified_account_and_emails_a_link(api_client, role):
    response = _register(api_client, role=role)

    assert response.status_code == 201
    assert response.json()["role"] == role
    assert response.json()["email_verified"] is False
    user = User.objects.get(email="ama@example.test")
    assert user.role == role and user.staff_role == "" and not user.is_staff
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ama@example.test"]
    assert "verify-email?token=" in mail.outbox[0].body


def test_login_refused_until_email_verified_then_allowed(api_client):
    _register(api_client)

    refused = _login(api_client)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "email_not_verified"

    verified = api_client.post(
        "/api/v1/auth/verify-email/", {"token": _token_from_last_email()}, format="json"
    )
    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True

    ok = _login(api_client)
    assert ok.status_code == 200
    body = ok.json()
    assert body["otp_required"] is False
    assert body["user"]["email"] == "ama@example.test"
    assert body["access"] and body["refresh"]


def test_verification_token_is_single_use(api_client):
    _register(api_client)
    token = _token_from_last_email()
    assert api_client.post("/api/v1/auth/verify-email/", {"token": token}).status_code == 200

    again = api_client.post("/api/v1/auth/verify-email/", {"token": token})

    assert again.status_code == 400
    assert again.json()["error"]["code"] == "token_used"


def test_expired_verification_token_refused(api_client):
    _register(api_client)
    token = _token_from_last_email()
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api_client.post("/api/v1/auth/verify-email/", {"token": token})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_expired"
    assert User.objects.get(email="ama@example.test").email_verified_at is None


def test_unknown_verification_token_refused(api_client):
    response = api_client.post("/api/v1/auth/verify-email/", {"token": "not-a-token"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_invalid"


def test_nobody_can_self_register_as_admin(api_client):
    response = _register(api_client, role="admin")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "role" in response.json()["error"]["details"]
    assert User.objects.count() == 0
    assert len(mail.outbox) == 0


def test_register_ignores_privileged_fields(api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        {
            "email": "sneaky@example.test",
            "password": PASSWORD,
            "role": "artist",
            "is_staff": True,
            "is_superuser": True,
            "staff_role": "superadmin",
            "email_verified_at": "2020-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201
    user = User.objects.get(email="sneaky@example.test")
    assert (user.is_staff, user.is_superuser, user.staff_role, user.email_verified_at) == (
        False,
        False,
        "",
        None,
    )


def test_duplicate_email_refused(api_client, user_factory):
    user_factory("artist", email="ama@example.test")

    response = _register(api_client)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "email_taken"
    assert User.objects.filter(email="ama@example.test").count() == 1


def test_refresh_rotates_and_old_refresh_is_refused(api_client, user_factory):
    user_factory("artist", email="ama@example.test", password=PASSWORD)
    first = _login(api_client).json()

    rotated = api_client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]

    reused = api_client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "authentication_failed"


def test_logout_blacklists_refresh_token(api_client, user_factory):
    user_factory("artist", email="ama@example.test", password=PASSWORD)
    tokens = _login(api_client).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    out = api_client.post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]})
    assert out.status_code == 200

    refresh = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refresh.status_code == 401
    assert AuditLog.objects.filter(action="user.logout").count() == 1


def test_logout_refuses_someone_elses_refresh_token(api_client, user_factory, client_for):
    user_factory("artist", email="ama@example.test", password=PASSWORD)
    victim_tokens = _login(api_client).json()
    attacker = user_factory("artist", email="kofi@example.test")

    response = client_for(attacker).post(
        "/api/v1/auth/logout/", {"refresh": victim_tokens["refresh"]}
    )

    assert response.status_code == 403
    still_valid = api_client.post(
        "/api/v1/auth/token/refresh/", {"refresh": victim_tokens["refresh"]}
    )
    assert still_valid.status_code == 200


def test_password_reset_flow_changes_password_and_signs_out_everywhere(api_client, user_factory):
    user_factory("publisher", email="ama@example.test", password=PASSWORD)
    old_refresh = _login(api_client).json()["refresh"]

    requested = api_client.post("/api/v1/auth/password-reset/", {"email": "ama@example.test"})
    assert requested.status_code == 202
    token = _token_from_last_email()

    confirmed = api_client.post(
        "/api/v1/auth/password-reset/confirm/",
        {"token": token, "new_password": "Adinkra-symbol-77"},
    )
    assert confirmed.status_code == 200
    assert _login(api_client).status_code == 401
    assert _login(api_client, password="Adinkra-symbol-77").status_code == 200
    refused = api_client.post("/api/v1/auth/token/refresh/", {"refresh": old_refresh})
    assert refused.status_code == 401


def test_password_reset_token_is_single_use_and_expires(api_client, user_factory):
    user_factory("artist", email="ama@example.test", password=PASSWORD)
    api_client.post("/api/v1/auth/password-reset/", {"email": "ama@example.test"})
    token = _token_from_last_email()
    payload = {"token": token, "new_password": "Adinkra-symbol-77"}
    assert api_client.post("/api/v1/auth/password-reset/confirm/", payload).status_code == 200

    reused = api_client.post(
        "/api/v1/auth/password-reset/confirm/", {**payload, "new_password": "Another-pass-99"}
    )
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "token_used"

    api_client.post("/api/v1/auth/password-reset/", {"email": "ama@example.test"})
    late = _token_from_last_email()
    OneTimeToken.objects.filter(purpose=TokenPurpose.RESET_PASSWORD, used_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    expired = api_client.post(
        "/api/v1/auth/password-reset/confirm/", {"token": late, "new_password": "Another-pass-99"}
    )
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "token_expired"
    assert _login(api_client, password="Adinkra-symbol-77").status_code == 200


def test_password_reset_for_unknown_email_answers_the_same_and_sends_nothing(api_client):
    response = api_client.post("/api/v1/auth/password-reset/", {"email": "nobody@example.test"})
    assert response.status_code == 202
    assert mail.outbox == []


def _forge(payload: dict, header: dict) -> str:
    def b64(data: dict) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(payload)}."


def test_alg_none_token_refused(api_client, user_factory):
    user = user_factory("admin", staff_role="superadmin")
    now = int(timezone.now().timestamp())
    token = _forge(
        {"token_type": "access", "user_id": user.pk, "exp": now + 600, "iat": now, "jti": "x" * 32},
        {"alg": "none", "typ": "JWT"},
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get("/api/v1/users/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_tampered_token_refused(api_client, user_factory):
    artist = user_factory("artist", email="ama@example.test", password=PASSWORD)
    admin = user_factory("admin", staff_role="superadmin")
    access = _login(api_client).json()["access"]
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert str(claims["user_id"]) == str(artist.pk)
    claims["user_id"] = admin.pk
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{forged_payload}.{signature}")

    response = api_client.get("/api/v1/users/")

    assert response.status_code == 401


def test_login_with_sms_code_when_enabled(api_client, user_factory):
    from notifications import sms

    user_factory(
        "artist",
        email="ama@example.test",
        password=PASSWORD,
        phone="+233241234567",
        otp_login_enabled=True,
    )

    first = _login(api_client)
    assert first.status_code == 200
    assert first.json()["otp_required"] is True
    assert "access" not in first.json()
    assert len(sms.outbox) == 1 and sms.outbox[0].to == "+233241234567"
    code = re.search(r"code is (\d{6})", sms.outbox[0].body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    challenge = first.json()["challenge_id"]

    bad = api_client.post("/api/v1/auth/login/otp/", {"challenge_id": challenge, "code": wrong})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "otp_wrong"

    good = api_client.post("/api/v1/auth/login/otp/", {"challenge_id": challenge, "code": code})
    assert good.status_code == 200
    assert good.json()["access"]

    reused = api_client.post("/api/v1/auth/login/otp/", {"challenge_id": challenge, "code": code})
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "otp_expired"


def test_otp_locks_after_too_many_wrong_codes(
    settings, user_factory, django_capture_on_commit_callbacks
):
    from notifications import sms
    from users import services
    from zamio.errors import ValidationFailed

    settings.OTP_MAX_ATTEMPTS = 3
    user = user_factory("artist", phone="+233241234567")
    with django_capture_on_commit_callbacks(execute=True):
        services.otp_request(user=user, purpose="payout_details")
    code = re.search(r"code is (\d{6})", sms.outbox[-1].body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        with pytest.raises(ValidationFailed):
            services.otp_verify(user=user, purpose="payout_details", code=wrong)

    with pytest.raises(ValidationFailed) as locked:
        services.otp_verify(user=user, purpose="payout_details", code=code)
    assert locked.value.code == "otp_locked"


def test_me_ignores_role_changes(api_client, user_factory, client_for):
    user = user_factory("artist")
    client = client_for(user)

    response = client.patch(
        "/api/v1/auth/me/",
        {"full_name": "Kojo", "role": "admin", "is_staff": True},
        format="json",
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.full_name, user.role, user.is_staff) == ("Kojo", "artist", False)
