"""What a notification says on each channel: email (HTML + text per kind), SMS text, live payload.

Email templates live in templates/notifications/email/<kind>.{txt,html}; both get
`user`, `notification`, `context` (the caller's extra values), `link` (absolute)
and `unsubscribe_url` (empty for security messages, which cannot be turned off).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string

from notifications.models import SECURITY_KINDS, Notification, NotificationKind

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
SMS_MAX_CHARS = 459  # three concatenated GSM-7 segments


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def absolute_link(link: str) -> str:
    if not link or "://" in link:
        return link
    return settings.FRONTEND_URL.rstrip("/") + "/" + link.lstrip("/")


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    return signing.dumps({"u": user_id, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(token: str) -> tuple[int, str]:
    """Returns (user_id, kind); raises signing.BadSignature for a forged or mangled token."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or "k" not in data:
        raise signing.BadSignature("Malformed unsubscribe token.")
    return data["u"], str(data["k"])


def unsubscribe_url(*, user_id: int, kind: str) -> str:
    query = urlencode({"token": unsubscribe_token(user_id=user_id, kind=kind)})
    base = settings.NOTIFICATIONS_PUBLIC_API_URL.rstrip("/")
    return f"{base}/api/v1/notifications/unsubscribe/?{query}"


def email_render(
    *, kind: str, subject: str, to_name: str, context: dict, user_id: int | None
) -> RenderedEmail:
    """Renders a kind's subject, text and HTML bodies. `user_id` enables the unsubscribe link."""
    unsubscribe = ""
    headers: dict[str, str] = {}
    if user_id is not None and kind not in SECURITY_KINDS:
        unsubscribe = unsubscribe_url(user_id=user_id, kind=kind)
        # RFC 8058 one-click: mail clients POST to this URL without opening a page.
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    values = {
        **context,
        "to_name": to_name,
        "unsubscribe_url": unsubscribe,
        "site_url": settings.FRONTEND_URL,
        "kind_label": NotificationKind(kind).label,
        "title": subject,
    }
    text = render_to_string(f"notifications/email/{kind}.txt", values)
    html = render_to_string(f"notifications/email/{kind}.html", values)
    return RenderedEmail(subject=subject, text=text, html=html, headers=headers)


def notification_email(notification: Notification) -> RenderedEmail:
    user = notification.user
    return email_render(
        kind=notification.kind,
        subject=notification.title,
        to_name=user.full_name or user.email,
        user_id=user.pk,
        context={
            "context": notification.context,
            "body": notification.body,
            "link": absolute_link(notification.link),
            "priority": notification.priority,
        },
    )


def notification_sms(notification: Notification) -> str:
    text = f"ZamIO: {notification.title}. {notification.body}"
    link = absolute_link(notification.link)
    if link and len(text) + len(link) + 1 <= SMS_MAX_CHARS:
        return f"{text} {link}"
    return text if len(text) <= SMS_MAX_CHARS else text[: SMS_MAX_CHARS - 3] + "..."


def notification_payload(notification: Notification) -> dict:
    """The live event for one notification; the same fields as the API's list item."""
    return {
        "type": "notification",
        "notification": {
            "id": notification.pk,
            "kind": notification.kind,
            "priority": notification.priority,
            "title": notification.title,
            "body": notification.body,
            "link": notification.link,
            "context": notification.context,
            "read": notification.is_read,
            "created_at": notification.created_at.isoformat(),
        },
    }
