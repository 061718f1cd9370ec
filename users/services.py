"""Every write to accounts: registration, verification, login, OTP, roles, audit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Model
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from notifications.models import NotificationKind
from notifications.services import email_templated_send, sms_send
from users.models import (
    SELF_REGISTRABLE_ROLES,
    AuditLog,
    OneTimeToken,
    OtpChallenge,
    OtpPurpose,
    Role,
    StaffRole,
    TokenPurpose,
    User,
)
from zamio import middleware
from zamio.errors import Conflict, Forbidden, Unauthorized, ValidationFailed


# --- Audit -----------------------------------------------------------------
def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """Writes one audit row; call it inside the transaction of the action it records."""
    ctx = middleware.current()
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
    return AuditLog.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        ip=ctx.ip if ctx else None,
        user_agent=ctx.user_agent if ctx else "",
        trace_id=ctx.trace_id if ctx else "",
        before=_jsonable(before or {}),
        after=_jsonable(after or {}),
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v))
        for k, v in values.items()
    }


# --- Tokens ----------------------------------------------------------------
def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _one_time_token_issue(*, user: User, purpose: str) -> str:
    raw = secrets.token_urlsafe(32)
    ttl = (
        settings.EMAIL_TOKEN_TTL
        if purpose == TokenPurpose.VERIFY_EMAIL
        else (settings.PASSWORD_RESET_TTL)
    )
    OneTimeToken.objects.create(
        user=user, purpose=purpose, token_hash=_hash_token(raw), expires_at=timezone.now() + ttl
    )
    return raw


def _one_time_token_consume(*, raw: str, purpose: str) -> User:
    """Marks the token used and returns its user; refuses unknown, expired or used tokens."""
    now = timezone.now()
    token = (
        OneTimeToken.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=_hash_token(raw or ""), purpose=purpose)
        .first()
    )
    if token is None:
        raise ValidationFailed("This link is not valid.", code="token_invalid")
    if token.used_at is not None:
        raise ValidationFailed("This link has already been used.", code="token_used")
    if token.expires_at <= now:
        raise ValidationFailed("This link has expired.", code="token_expired")
    token.used_at = now
    token.save(update_fields=["used_at"])
    return token.user


def tokens_for_user(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh["role"] = user.role
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _blacklist_all_refresh_tokens(user: User) -> None:
    for outstanding in OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now()):
        BlacklistedToken.objects.get_or_create(token=outstanding)


# --- Registration and verification -------------------------------------------
def _validate_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The password is too weak.", details={"password": exc.messages}
        ) from None


@transaction.atomic
def user_register(
    *, email: str, password: str, role: str, full_name: str = "", phone: str = ""
) -> User:
    """Creates an unverified artist, publisher or station account and emails a verification link."""
    if role not in SELF_REGISTRABLE_ROLES:
        raise ValidationFailed(
            "This role cannot be chosen at registration.",
            details={"role": [f"Must be one of: {', '.join(SELF_REGISTRABLE_ROLES)}."]},
        )
    email = email.strip().lower()
    candidate = User(email=email, full_name=full_name)
    _validate_password(password, candidate)
    if User.objects.filter(email=email).exists():
        raise ValidationFailed(
            "An account with this email already exists.",
            details={"email": ["An account with this email already exists."]},
            code="email_taken",
        )
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email, password, role=role, full_name=full_name, phone=phone
            )
    except IntegrityError:
        raise ValidationFailed(
            "An account with this email already exists.",
            details={"email": ["An account with this email already exists."]},
            code="email_taken",
        ) from None
    audit_record(actor=user, action="user.register", target=user, after={"role": role})
    email_verification_send(user=user)
    return user


def email_verification_send(*, user: User) -> None:
    """Issues a verification token and emails it (on commit)."""
    raw = _one_time_token_issue(user=user, purpose=TokenPurpose.VERIFY_EMAIL)
    email_templated_send(
        to=user.email,
        to_name=user.full_name,
        kind=NotificationKind.EMAIL_VERIFICATION,
        subject="Confirm your ZamIO email address",
        context={
            "link": f"{settings.FRONTEND_URL}/verify-email?token={raw}",
            "token": raw,
            "ttl_hours": int(settings.EMAIL_TOKEN_TTL.total_seconds() // 3600),
        },
    )


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Consumes a verification token and marks the email verified."""
    user = _one_time_token_consume(raw=token, purpose=TokenPurpose.VERIFY_EMAIL)
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit_record(actor=user, action="user.email_verified", target=user)
    return user


@transaction.atomic
def password_reset_request(*, email: str) -> None:
    """Emails a reset link when the account exists; says nothing either way."""
    user = User.objects.filter(email=email.strip().lower(), is_active=True).first()
    if user is None:
        return
    raw = _one_time_token_issue(user=user, purpose=TokenPurpose.RESET_PASSWORD)
    email_templated_send(
        to=user.email,
        to_name=user.full_name,
        kind=NotificationKind.PASSWORD_RESET,
        subject="Reset your ZamIO password",
        context={
            "link": f"{settings.FRONTEND_URL}/reset-password?token={raw}",
            "token": raw,
            "ttl_minutes": int(settings.PASSWORD_RESET_TTL.total_seconds() // 60),
        },
    )
    audit_record(actor=user, action="user.password_reset_requested", target=user)


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> User:
    """Sets a new password from a reset token and signs the user out everywhere."""
    user = _one_time_token_consume(raw=token, purpose=TokenPurpose.RESET_PASSWORD)
    _validate_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _blacklist_all_refresh_tokens(user)
    audit_record(actor=user, action="user.password_reset", target=user)
    return user


# --- Login -------------------------------------------------------------------
@dataclass(frozen=True)
class LoginResult:
    user: User
    tokens: dict[str, str] | None = None
    otp_challenge: OtpChallenge | None = None


def login(*, email: str, password: str) -> LoginResult:
    """Checks credentials; returns JWTs, or an SMS challenge when the user asked for one."""
    email = (email or "").strip().lower()
    user = User.objects.filter(email=email).first()
    valid = user is not None and user.check_password(password) and user.is_active
    if not valid:
        if user is None:
            # Spend the same time as a real check so timing does not reveal accounts.
            User().set_password(password)
        with transaction.atomic():
            audit_record(
                actor=None,
                action="user.login_failed",
                target_type="users.user",
                target_id=user.pk if user else "",
                after={"email": email},
            )
        raise Unauthorized("Email or password is wrong.", code="invalid_credentials")
    if not user.email_verified:
        raise Forbidden("Confirm your email address before signing in.", code="email_not_verified")
    with transaction.atomic():
        if user.otp_login_enabled and user.phone:
            challenge = otp_request(user=user, purpose=OtpPurpose.LOGIN)
            audit_record(actor=user, action="user.login_otp_sent", target=user)
            return LoginResult(user=user, otp_challenge=challenge)
        audit_record(actor=user, action="user.login", target=user)
        return LoginResult(user=user, tokens=tokens_for_user(user))


def login_otp_confirm(*, challenge_id: int, code: str) -> LoginResult:
    """Completes a login with the SMS code."""
    challenge = (
        OtpChallenge.objects.select_related("user")
        .filter(pk=challenge_id, purpose=OtpPurpose.LOGIN)
        .first()
    )
    if challenge is None:
        raise ValidationFailed("This code is not valid.", code="otp_invalid")
    user = challenge.user
    otp_verify(user=user, purpose=OtpPurpose.LOGIN, code=code, challenge_id=challenge.pk)
    with transaction.atomic():
        audit_record(actor=user, action="user.login", target=user, after={"otp": True})
    return LoginResult(user=user, tokens=tokens_for_user(user))


def logout(*, user: User, refresh: str) -> None:
    """Blacklists the given refresh token; it must belong to the caller."""
    try:
        token = RefreshToken(refresh)
    except TokenError:
        raise ValidationFailed(
            "The refresh token is invalid or expired.", code="token_invalid"
        ) from None
    if str(token.get("user_id")) != str(user.pk):
        raise Forbidden("This token belongs to another account.")
    with transaction.atomic():
        token.blacklist()
        audit_record(actor=user, action="user.logout", target=user)


# --- OTP ---------------------------------------------------------------------
def _otp_hash(challenge_salt: str, code: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{challenge_salt}:{code}".encode(), hashlib.sha256
    ).hexdigest()


@transaction.atomic
def otp_request(*, user: User, purpose: str) -> OtpChallenge:
    """Creates a 6-digit SMS code for `purpose` and texts it to the user's phone (on commit)."""
    if purpose not in OtpPurpose.values:
        raise ValidationFailed("Unknown OTP purpose.", details={"purpose": ["Unknown value."]})
    if not user.phone:
        raise ValidationFailed(
            "Add a phone number to your account first.",
            details={"phone": ["Required."]},
            code="phone_missing",
        )
    # A new code replaces any open one for the same purpose.
    OtpChallenge.objects.filter(user=user, purpose=purpose, consumed_at__isnull=True).update(
        consumed_at=timezone.now()
    )
    code = f"{secrets.randbelow(10**6):06d}"
    challenge = OtpChallenge.objects.create(
        user=user,
        purpose=purpose,
        code_hash="pending",
        sent_to=user.phone,
        expires_at=timezone.now() + settings.OTP_TTL,
    )
    challenge.code_hash = _otp_hash(str(challenge.pk), code)
    challenge.save(update_fields=["code_hash"])
    minutes = int(settings.OTP_TTL.total_seconds() // 60)
    sms_send(to=user.phone, body=f"Your ZamIO code is {code}. It expires in {minutes} minutes.")
    return challenge


def otp_verify(*, user: User, purpose: str, code: str, challenge_id: int | None = None) -> None:
    """Consumes the user's open code for `purpose`; raises when it is wrong, used or expired.

    Call it before opening the transaction of the action it guards: it commits
    its own, so a wrong attempt stays counted although it raises.
    """
    with transaction.atomic():
        query = OtpChallenge.objects.select_for_update().filter(
            user=user, purpose=purpose, consumed_at__isnull=True
        )
        if challenge_id is not None:
            query = query.filter(pk=challenge_id)
        challenge = query.order_by("-created_at").first()
        if challenge is None or challenge.expires_at <= timezone.now():
            raise ValidationFailed("This code has expired; ask for a new one.", code="otp_expired")
        if challenge.attempts >= settings.OTP_MAX_ATTEMPTS:
            raise ValidationFailed("Too many wrong codes; ask for a new one.", code="otp_locked")
        if not hmac.compare_digest(challenge.code_hash, _otp_hash(str(challenge.pk), code or "")):
            OtpChallenge.objects.filter(pk=challenge.pk).update(attempts=F("attempts") + 1)
            wrong = True
        else:
            challenge.consumed_at = timezone.now()
            challenge.save(update_fields=["consumed_at"])
            if purpose == OtpPurpose.PHONE_VERIFY:
                User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
            wrong = False
    if wrong:
        raise ValidationFailed("The code is wrong.", code="otp_wrong")


# --- Profile and administration ---------------------------------------------------
@transaction.atomic
def user_update_profile(
    *,
    user: User,
    full_name: str | None = None,
    phone: str | None = None,
    otp_login_enabled: bool | None = None,
) -> User:
    """Updates the caller's own name, phone and login-OTP preference."""
    before = {
        "full_name": user.full_name,
        "phone": user.phone,
        "otp_login_enabled": user.otp_login_enabled,
    }
    fields = []
    if full_name is not None:
        user.full_name = full_name
        fields.append("full_name")
    if phone is not None and phone != user.phone:
        user.phone = phone
        user.phone_verified_at = None
        fields += ["phone", "phone_verified_at"]
    if otp_login_enabled is not None:
        if otp_login_enabled and not user.phone:
            raise ValidationFailed(
                "Add a phone number before turning on SMS codes.",
                details={"otp_login_enabled": ["Requires a phone number."]},
            )
        user.otp_login_enabled = otp_login_enabled
        fields.append("otp_login_enabled")
    if fields:
        user.save(update_fields=fields)
        audit_record(
            actor=user,
            action="user.profile_update",
            target=user,
            before=before,
            after={
                "full_name": user.full_name,
                "phone": user.phone,
                "otp_login_enabled": user.otp_login_enabled,
            },
        )
    return user


def _require_superadmin(actor: User) -> None:
    if not (actor.role == Role.ADMIN and actor.staff_role == StaffRole.SUPERADMIN):
        raise Forbidden("Only a superadmin can manage staff accounts.")


@transaction.atomic
def admin_user_create(
    *, actor: User, email: str, password: str, staff_role: str, full_name: str = ""
) -> User:
    """Creates a verified staff account; only a superadmin may."""
    _require_superadmin(actor)
    if staff_role not in StaffRole.values:
        raise ValidationFailed("Unknown staff role.", details={"staff_role": ["Unknown value."]})
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise ValidationFailed(
            "An account with this email already exists.",
            details={"email": ["An account with this email already exists."]},
            code="email_taken",
        )
    _validate_password(password, User(email=email, full_name=full_name))
    user = User.objects.create_user(
        email,
        password,
        role=Role.ADMIN,
        staff_role=staff_role,
        full_name=full_name,
        is_staff=True,
        is_superuser=staff_role == StaffRole.SUPERADMIN,
        email_verified_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="user.admin_create",
        target=user,
        after={"role": Role.ADMIN, "staff_role": staff_role},
    )
    return user


@transaction.atomic
def user_change_role(*, actor: User, user: User, role: str, staff_role: str = "") -> User:
    """Changes an account's role (and staff role); superadmin only, audited."""
    _require_superadmin(actor)
    if role not in Role.values:
        raise ValidationFailed("Unknown role.", details={"role": ["Unknown value."]})
    if role == Role.ADMIN and staff_role not in StaffRole.values:
        raise ValidationFailed(
            "An admin needs a staff role.", details={"staff_role": ["Required for admins."]}
        )
    if role != Role.ADMIN:
        staff_role = ""
    if user.pk == actor.pk and (role, staff_role) != (Role.ADMIN, StaffRole.SUPERADMIN):
        raise Conflict("You cannot demote yourself; ask another superadmin.")
    user = User.objects.select_for_update().get(pk=user.pk)
    before = {"role": user.role, "staff_role": user.staff_role}
    user.role = role
    user.staff_role = staff_role
    user.is_staff = role == Role.ADMIN
    user.is_superuser = staff_role == StaffRole.SUPERADMIN
    user.save(update_fields=["role", "staff_role", "is_staff", "is_superuser"])
    audit_record(
        actor=actor,
        action="user.role_change",
        target=user,
        before=before,
        after={"role": role, "staff_role": staff_role},
    )
    return user


@transaction.atomic
def user_set_active(*, actor: User, user: User, is_active: bool) -> User:
    """Suspends or reactivates an account; a suspended account is signed out everywhere."""
    _require_superadmin(actor)
    if user.pk == actor.pk:
        raise Conflict("You cannot suspend yourself.")
    before = {"is_active": user.is_active}
    User.objects.filter(pk=user.pk).update(is_active=is_active)
    user.is_active = is_active
    if not is_active:
        _blacklist_all_refresh_tokens(user)
    audit_record(
        actor=actor,
        action="user.set_active",
        target=user,
        before=before,
        after={"is_active": is_active},
    )
    return user


def purge_expired_tokens() -> int:
    """Deletes one-time tokens and OTP challenges that expired over a day ago."""
    cutoff = timezone.now() - timedelta(days=1)
    n1, _ = OneTimeToken.objects.filter(expires_at__lt=cutoff).delete()
    n2, _ = OtpChallenge.objects.filter(expires_at__lt=cutoff).delete()
    return n1 + n2


@transaction.atomic
def email_verification_resend(*, email: str) -> None:
    """Sends a fresh verification link to an unverified account; silent otherwise."""
    user = User.objects.filter(
        email=email.strip().lower(), is_active=True, email_verified_at__isnull=True
    ).first()
    if user is not None:
        email_verification_send(user=user)
