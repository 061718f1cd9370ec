from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Role(models.TextChoices):
    ARTIST = "artist", "Artist"
    PUBLISHER = "publisher", "Publisher"
    STATION = "station", "Station"
    ADMIN = "admin", "Admin"


class StaffRole(models.TextChoices):
    SUPERADMIN = "superadmin", "Super admin"
    SUPPORT = "support", "Support"
    FINANCE = "finance", "Finance"


SELF_REGISTRABLE_ROLES = (Role.ARTIST, Role.PUBLISHER, Role.STATION)
SELF_REGISTRABLE_ROLE_CHOICES = [(r.value, r.label) for r in SELF_REGISTRABLE_ROLES]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(
            role=Role.ADMIN,
            staff_role=StaffRole.SUPERADMIN,
            is_staff=True,
            is_superuser=True,
            email_verified_at=timezone.now(),
        )
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    staff_role = models.CharField(max_length=16, choices=StaffRole.choices, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    otp_login_enabled = models.BooleanField(
        default=False, help_text="Ask for an SMS code after the password at login."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            # Only admins carry a staff role, and every admin carries one.
            models.CheckConstraint(
                condition=(Q(role="admin") & ~Q(staff_role=""))
                | (~Q(role="admin") & Q(staff_role="")),
                name="user_staff_role_only_for_admins",
            ),
            models.CheckConstraint(
                condition=Q(is_staff=False) | Q(role="admin"),
                name="user_is_staff_only_for_admins",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class TokenPurpose(models.TextChoices):
    VERIFY_EMAIL = "verify_email", "Verify email"
    RESET_PASSWORD = "reset_password", "Reset password"


class OneTimeToken(models.Model):
    """A single-use, expiring token sent by email. Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_tokens")
    purpose = models.CharField(max_length=20, choices=TokenPurpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"])]

    def __str__(self) -> str:
        return f"{self.purpose} token for user {self.user_id}"


class OtpPurpose(models.TextChoices):
    LOGIN = "login", "Login confirmation"
    PAYOUT_DETAILS = "payout_details", "Payout detail change"
    PHONE_VERIFY = "phone_verify", "Phone verification"


class OtpChallenge(models.Model):
    """An SMS code for one purpose. Only a salted hash of the code is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="otp_challenges")
    purpose = models.CharField(max_length=20, choices=OtpPurpose.choices)
    code_hash = models.CharField(max_length=128)
    sent_to = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code for user {self.user_id}"


class AuditLog(models.Model):
    """Who did what to which object, from where, with before/after values. Append-only."""

    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["target_type", "target_id"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} by {self.actor_email or '-'}"
