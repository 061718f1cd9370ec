"""Audit rows for logins that go through Django's own views (admin, live-monitor page).

The API login is a service that audits itself. Django's session login views are not
ours to change, so we listen to the events Django sends for them; this is the one
place the project uses signals, and only because the flow is Django's, not ours.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction

from users.models import User
from users.services import audit_record


def _on_login(sender, request, user, **kwargs) -> None:
    with transaction.atomic():
        audit_record(actor=user, action="user.login", target=user, after={"via": "session"})


def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    email = (credentials.get("username") or credentials.get("email") or "").strip().lower()
    user = User.objects.filter(email=email).first()
    with transaction.atomic():
        audit_record(
            actor=None,
            action="user.login_failed",
            target_type="users.user",
            target_id=user.pk if user else "",
            after={"email": email, "via": "session"},
        )


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="users.audit.login")
    user_login_failed.connect(_on_login_failed, dispatch_uid="users.audit.login_failed")
