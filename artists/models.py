"""Rights holders: artists, publishers, the deals between them, KYC and payout details."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q

from artists.storage import PrivateStorage
from zamio.models import TimeStampedModel

GHANA = "GH"
DEFAULT_PRO_FOR_GHANA = "GHAMRO"


class Artist(TimeStampedModel):
    """A performer. `user` is empty for artists imported from a catalogue without a login."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="artist_profile",
    )
    stage_name = models.CharField(max_length=200, db_index=True)
    legal_name = models.CharField(max_length=200, blank=True)
    bio = models.TextField(blank=True)
    # {"instagram": "https://...", "x": "...", ...}: the keys are SOCIAL_NETWORKS.
    socials = models.JSONField(default=dict, blank=True)
    location = models.CharField(max_length=120, blank=True, help_text="City or town.")
    region = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, default=GHANA, help_text="ISO 3166-1 alpha-2.")
    pro_affiliation = models.CharField(
        max_length=40, blank=True, help_text="Performing rights / collective management body."
    )
    ipi_number = models.CharField(max_length=11, blank=True, db_index=True)
    self_published = models.BooleanField(
        default=True, help_text="True until a publisher relationship becomes active."
    )

    class Meta:
        ordering = ["stage_name", "id"]

    def __str__(self) -> str:
        return self.stage_name


SOCIAL_NETWORKS = (
    "website",
    "instagram",
    "x",
    "facebook",
    "tiktok",
    "youtube",
    "spotify",
    "apple_music",
    "audiomack",
    "boomplay",
    "soundcloud",
)


class Publisher(TimeStampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="publisher_profile",
    )
    name = models.CharField(max_length=200, db_index=True)
    company_registration_number = models.CharField(max_length=60, blank=True)
    description = models.TextField(blank=True)
    website = models.URLField(blank=True)
    location = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, default=GHANA)
    pro_affiliation = models.CharField(max_length=40, blank=True)
    ipi_number = models.CharField(max_length=11, blank=True, db_index=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class RelationshipKind(models.TextChoices):
    EXCLUSIVE = "exclusive", "Exclusive"
    CO_PUBLISHING = "co_publishing", "Co-publishing"
    ADMINISTRATION = "administration", "Administration"
    SUB_PUBLISHING = "sub_publishing", "Sub-publishing"


class RelationshipStatus(models.TextChoices):
    PENDING = "pending", "Pending acceptance"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    TERMINATED = "terminated", "Terminated"
    DECLINED = "declined", "Declined or withdrawn"


class Party(models.TextChoices):
    ARTIST = "artist", "Artist"
    PUBLISHER = "publisher", "Publisher"


class PublisherArtistRelationship(TimeStampedModel):
    """A publishing deal: proposed by one side, accepted by the other.

    pending → active | declined; active ⇄ suspended; active/suspended → terminated.
    Every status change is kept in RelationshipStatusChange, so the deal in force
    at any past moment can be answered for royalties.
    """

    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="relationships")
    artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="relationships")
    kind = models.CharField(max_length=20, choices=RelationshipKind.choices)
    status = models.CharField(
        max_length=12, choices=RelationshipStatus.choices, default=RelationshipStatus.PENDING
    )
    share_bp = models.PositiveIntegerField(
        help_text="The publisher's share of the artist's royalties, in basis points."
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    proposed_by = models.CharField(max_length=10, choices=Party.choices)
    proposed_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(blank=True)
    status_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(share_bp__gte=0) & Q(share_bp__lte=10000),
                name="relationship_share_bp_range",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="relationship_end_after_start",
            ),
            # Royalties route an artist's share to one publisher: one live deal at a time.
            models.UniqueConstraint(
                fields=["artist"],
                condition=Q(status__in=["active", "suspended"]),
                name="relationship_one_live_per_artist",
            ),
            models.UniqueConstraint(
                fields=["artist", "publisher"],
                condition=Q(status="pending"),
                name="relationship_one_pending_per_pair",
            ),
        ]
        indexes = [models.Index(fields=["publisher", "status"])]

    def __str__(self) -> str:
        return f"{self.publisher} ⇄ {self.artist} ({self.status})"


class RelationshipStatusChange(models.Model):
    """Append-only history of a relationship's status, read by active_publisher_share."""

    relationship = models.ForeignKey(
        PublisherArtistRelationship, on_delete=models.CASCADE, related_name="status_changes"
    )
    status = models.CharField(max_length=12, choices=RelationshipStatus.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["relationship", "at"])]

    def __str__(self) -> str:
        return f"{self.relationship_id} → {self.status} at {self.at:%Y-%m-%d %H:%M}"


# --- KYC and payout details ---------------------------------------------------
class KycStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class IdType(models.TextChoices):
    GHANA_CARD = "ghana_card", "Ghana Card"
    PASSPORT = "passport", "Passport"
    VOTER_ID = "voter_id", "Voter ID"
    DRIVERS_LICENCE = "drivers_licence", "Driver's licence"
    BUSINESS_REGISTRATION = "business_registration", "Business registration certificate"


class KycSubmission(TimeStampedModel):
    """One identity check of an artist or publisher account, decided by support staff."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kyc_submissions"
    )
    id_type = models.CharField(max_length=24, choices=IdType.choices)
    id_number = models.CharField(max_length=40)
    tax_id = models.CharField(max_length=20, blank=True, help_text="GRA TIN.")
    status = models.CharField(max_length=10, choices=KycStatus.choices, default=KycStatus.SUBMITTED)
    rejection_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open review per account; the newest submission is the account's KYC.
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="submitted"), name="kyc_one_open_per_user"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="kyc_rejection_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"KYC {self.pk} of user {self.user_id} ({self.status})"


class KycDocumentKind(models.TextChoices):
    ID_FRONT = "id_front", "ID (front)"
    ID_BACK = "id_back", "ID (back)"
    SELFIE = "selfie", "Selfie with ID"
    PROOF_OF_ADDRESS = "proof_of_address", "Proof of address"
    BUSINESS_REGISTRATION = "business_registration", "Business registration"
    OTHER = "other", "Other"


def kyc_document_path(instance: KycDocument, filename: str) -> str:
    """A generated name: the uploaded name never reaches the file system."""
    suffix = PurePath(filename).suffix.lower()
    return f"kyc/{instance.submission.user_id}/{uuid.uuid4().hex}{suffix}"


class KycDocument(models.Model):
    submission = models.ForeignKey(
        KycSubmission, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(max_length=24, choices=KycDocumentKind.choices)
    file = models.FileField(storage=PrivateStorage(), upload_to=kyc_document_path, max_length=255)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} of KYC {self.submission_id}"


class MomoNetwork(models.TextChoices):
    MTN = "mtn", "MTN Mobile Money"
    TELECEL = "telecel", "Telecel Cash"
    AIRTELTIGO = "airteltigo", "AirtelTigo Money"


class PayoutDetails(TimeStampedModel):
    """Where an account's money goes. Changing it needs an SMS code and starts a cooling-off."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payout_details"
    )
    msisdn = models.CharField(max_length=15, help_text="E.164 without '+', e.g. 233241234567.")
    network = models.CharField(max_length=12, choices=MomoNetwork.choices)
    account_name = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "payout details"
        constraints = [
            models.CheckConstraint(
                condition=Q(msisdn__regex=r"^[1-9][0-9]{7,14}$"), name="payout_msisdn_e164"
            )
        ]

    def __str__(self) -> str:
        return f"{self.network} {self.msisdn}"
