"""In-app notifications, per-kind delivery preferences, and the record of every delivery."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from zamio.models import TimeStampedModel


class NotificationKind(models.TextChoices):
    EMAIL_VERIFICATION = "email_verification", "Email verification"
    PASSWORD_RESET = "password_reset", "Password reset"
    OTP = "otp", "One-time code"
    PAYOUT_DETAILS_CHANGED = "payout_details_changed", "Payout details changed"
    KYC_DECISION = "kyc_decision", "KYC decision"
    TRACK_APPROVED = "track_approved", "Track approved"
    TRACK_REJECTED = "track_rejected", "Track rejected"
    FINGERPRINT_FAILED = "fingerprint_failed", "Fingerprinting failed"
    FIRST_PLAY_ON_STATION = "first_play_on_station", "First play on a station"
    DAILY_AIRPLAY_DIGEST = "daily_airplay_digest", "Daily airplay digest"
    ROYALTY_STATEMENT_READY = "royalty_statement_ready", "Royalty statement ready"
    WITHDRAWAL_STATUS = "withdrawal_status", "Withdrawal status"
    DISPUTE_OPENED = "dispute_opened", "Dispute opened"
    DISPUTE_UPDATED = "dispute_updated", "Dispute updated"
    DISPUTE_RESOLVED = "dispute_resolved", "Dispute resolved"
    STATION_STREAM_DOWN = "station_stream_down", "Station stream down"
    STATION_STREAM_UP = "station_stream_up", "Station stream back up"
    INVOICE_ISSUED = "invoice_issued", "Invoice issued"
    INVOICE_OVERDUE = "invoice_overdue", "Invoice overdue"
    ANNOUNCEMENT = "announcement", "Announcement"


# Messages that protect the account: delivered on their channels whatever the preferences.
SECURITY_KINDS = frozenset(
    {
        NotificationKind.EMAIL_VERIFICATION,
        NotificationKind.PASSWORD_RESET,
        NotificationKind.OTP,
        NotificationKind.PAYOUT_DETAILS_CHANGED,
    }
)

# (email, sms, websocket) when the user has not chosen. SMS costs money and attention,
# so it is on only where a delay hurts: money moving, a station off air, codes.
# The daily digest is opt-in: every channel starts off.
DEFAULT_CHANNELS: dict[str, tuple[bool, bool, bool]] = {
    NotificationKind.EMAIL_VERIFICATION: (True, False, False),
    NotificationKind.PASSWORD_RESET: (True, False, False),
    NotificationKind.OTP: (False, True, False),
    NotificationKind.PAYOUT_DETAILS_CHANGED: (True, True, True),
    NotificationKind.KYC_DECISION: (True, False, True),
    NotificationKind.TRACK_APPROVED: (True, False, True),
    NotificationKind.TRACK_REJECTED: (True, False, True),
    NotificationKind.FINGERPRINT_FAILED: (True, False, True),
    NotificationKind.FIRST_PLAY_ON_STATION: (True, False, True),
    NotificationKind.DAILY_AIRPLAY_DIGEST: (False, False, False),
    NotificationKind.ROYALTY_STATEMENT_READY: (True, False, True),
    NotificationKind.WITHDRAWAL_STATUS: (True, True, True),
    NotificationKind.DISPUTE_OPENED: (True, False, True),
    NotificationKind.DISPUTE_UPDATED: (True, False, True),
    NotificationKind.DISPUTE_RESOLVED: (True, False, True),
    NotificationKind.STATION_STREAM_DOWN: (True, True, True),
    NotificationKind.STATION_STREAM_UP: (True, True, True),
    NotificationKind.INVOICE_ISSUED: (True, False, True),
    NotificationKind.INVOICE_OVERDUE: (True, True, True),
    NotificationKind.ANNOUNCEMENT: (True, False, True),
}


class NotificationPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WEBSOCKET = "websocket", "Live (WebSocket)"


class Notification(TimeStampedModel):
    """What the user sees in the app's notification list; deliveries fan out from it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    priority = models.CharField(
        max_length=10, choices=NotificationPriority.choices, default=NotificationPriority.NORMAL
    )
    title = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_user_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(TimeStampedModel):
    """A user's choice of channels for one kind. No row means the kind's defaults apply."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    email = models.BooleanField()
    sms = models.BooleanField()
    websocket = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_pref_user_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} preferences of user {self.user_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting to retry"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Delivery(TimeStampedModel):
    """One notification on one channel: pending → sending → sent, or retrying → … → failed."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=254, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="delivery_one_per_channel"
            )
        ]
        indexes = [
            models.Index(
                fields=["status", "updated_at"],
                condition=Q(status__in=["pending", "sending", "retrying"]),
                name="delivery_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery of notification {self.notification_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, with what the gateway said. Append-only."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_number")
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.succeeded else "failed"
        return f"attempt {self.number} of delivery {self.delivery_id}: {outcome}"
