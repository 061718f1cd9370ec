"""Every write to artists, publishers, publishing deals, KYC and payout details."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from artists.models import (
    DEFAULT_PRO_FOR_GHANA,
    GHANA,
    SOCIAL_NETWORKS,
    Artist,
    KycDocument,
    KycStatus,
    KycSubmission,
    MomoNetwork,
    Party,
    PayoutDetails,
    Publisher,
    PublisherArtistRelationship,
    RelationshipKind,
    RelationshipStatus,
    RelationshipStatusChange,
)
from notifications.services import email_send, notify
from users.models import OtpPurpose, Role, StaffRole, User
from users.services import audit_record, otp_verify
from zamio.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed

IPI_RE = re.compile(r"^[0-9]{9,11}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


# --- Validation shared by the profile services ---------------------------------
def ipi_normalise(value: str) -> str:
    """An IPI name number is 9 to 11 digits; spaces and dots are separators people type."""
    cleaned = re.sub(r"[\s.\-]", "", value or "")
    if cleaned and not IPI_RE.match(cleaned):
        raise ValidationFailed(
            "The IPI number is not valid.", details={"ipi_number": ["Use 9 to 11 digits."]}
        )
    return cleaned


def _country(value: str) -> str:
    value = (value or "").strip().upper()
    if not COUNTRY_RE.match(value):
        raise ValidationFailed(
            "The country is not valid.",
            details={"country": ["Use a two-letter ISO 3166 code, e.g. GH."]},
        )
    return value


def _socials(value: dict[str, Any]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationFailed(
            "Socials must be an object.", details={"socials": ["Not an object."]}
        )
    unknown = sorted(set(value) - set(SOCIAL_NETWORKS))
    if unknown:
        raise ValidationFailed(
            "Unknown social network.",
            details={
                "socials": [f"Unknown: {', '.join(unknown)}. Use {', '.join(SOCIAL_NETWORKS)}."]
            },
        )
    cleaned = {}
    for network, url in value.items():
        url = str(url or "").strip()
        if url and not re.match(r"^https?://[^\s]+$", url):
            raise ValidationFailed(
                "A social link must be an http(s) URL.",
                details={"socials": [f"{network}: not an http(s) URL."]},
            )
        if url:
            cleaned[network] = url
    return cleaned


def _default_pro(country: str, pro_affiliation: str) -> str:
    pro = (pro_affiliation or "").strip().upper()
    if not pro and country == GHANA:
        return DEFAULT_PRO_FOR_GHANA
    return pro


# --- Artists ---------------------------------------------------------------------
ARTIST_FIELDS = (
    "stage_name",
    "legal_name",
    "bio",
    "socials",
    "location",
    "region",
    "country",
    "pro_affiliation",
    "ipi_number",
)


def _clean_artist_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    if "stage_name" in cleaned:
        cleaned["stage_name"] = (cleaned["stage_name"] or "").strip()
        if not cleaned["stage_name"]:
            raise ValidationFailed(
                "A stage name is required.", details={"stage_name": ["Required."]}
            )
    if "country" in cleaned:
        cleaned["country"] = _country(cleaned["country"])
    if "ipi_number" in cleaned:
        cleaned["ipi_number"] = ipi_normalise(cleaned["ipi_number"])
    if "socials" in cleaned:
        cleaned["socials"] = _socials(cleaned["socials"])
    if "pro_affiliation" in cleaned:
        cleaned["pro_affiliation"] = (cleaned["pro_affiliation"] or "").strip().upper()
    return cleaned


@transaction.atomic
def artist_profile_create(*, user: User, stage_name: str, **fields: Any) -> Artist:
    """Creates the caller's artist profile: self-published, GHAMRO by default in Ghana."""
    if user.role != Role.ARTIST:
        raise Forbidden("Only artist accounts have an artist profile.")
    unknown = set(fields) - set(ARTIST_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    cleaned = _clean_artist_fields({"stage_name": stage_name, "country": GHANA, **fields})
    cleaned["pro_affiliation"] = _default_pro(
        cleaned["country"], cleaned.get("pro_affiliation", "")
    )
    if Artist.objects.filter(user=user).exists():
        raise Conflict("You already have an artist profile; edit it instead.", code="exists")
    try:
        with transaction.atomic():
            artist = Artist.objects.create(user=user, self_published=True, **cleaned)
    except IntegrityError:
        raise Conflict(
            "You already have an artist profile; edit it instead.", code="exists"
        ) from None
    audit_record(actor=user, action="artist.create", target=artist, after=cleaned)
    return artist


@transaction.atomic
def artist_profile_update(*, actor: User, artist: Artist, **fields: Any) -> Artist:
    """Updates an artist profile (the artist itself or staff); audited."""
    unknown = set(fields) - set(ARTIST_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if not (actor.role == Role.ADMIN or (artist.user_id and artist.user_id == actor.pk)):
        raise Forbidden("You can only edit your own artist profile.")
    cleaned = _clean_artist_fields(fields)
    artist = Artist.objects.select_for_update().get(pk=artist.pk)
    before = {name: getattr(artist, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(artist, name, value)
    if cleaned:
        artist.save(update_fields=[*cleaned, "updated_at"])
        audit_record(
            actor=actor, action="artist.update", target=artist, before=before, after=cleaned
        )
    return artist


@transaction.atomic
def artist_get_or_create_by_name(*, stage_name: str) -> Artist:
    """The artist with this stage name (case-insensitive), created without a login if new."""
    name = (stage_name or "").strip()
    if not name:
        raise ValidationFailed("A stage name is required.", details={"stage_name": ["Required."]})
    existing = Artist.objects.filter(stage_name__iexact=name).order_by("id").first()
    if existing is not None:
        return existing
    return Artist.objects.create(
        stage_name=name, country=GHANA, pro_affiliation=DEFAULT_PRO_FOR_GHANA
    )


# --- Publishers ------------------------------------------------------------------
PUBLISHER_FIELDS = (
    "name",
    "company_registration_number",
    "description",
    "website",
    "location",
    "region",
    "country",
    "pro_affiliation",
    "ipi_number",
)


def _clean_publisher_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = (cleaned["name"] or "").strip()
        if not cleaned["name"]:
            raise ValidationFailed("A name is required.", details={"name": ["Required."]})
    if "country" in cleaned:
        cleaned["country"] = _country(cleaned["country"])
    if "ipi_number" in cleaned:
        cleaned["ipi_number"] = ipi_normalise(cleaned["ipi_number"])
    if "pro_affiliation" in cleaned:
        cleaned["pro_affiliation"] = (cleaned["pro_affiliation"] or "").strip().upper()
    return cleaned


@transaction.atomic
def publisher_profile_create(*, user: User, name: str, **fields: Any) -> Publisher:
    """Creates the caller's publisher profile."""
    if user.role != Role.PUBLISHER:
        raise Forbidden("Only publisher accounts have a publisher profile.")
    unknown = set(fields) - set(PUBLISHER_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    cleaned = _clean_publisher_fields({"name": name, "country": GHANA, **fields})
    cleaned["pro_affiliation"] = _default_pro(
        cleaned["country"], cleaned.get("pro_affiliation", "")
    )
    if Publisher.objects.filter(user=user).exists():
        raise Conflict("You already have a publisher profile; edit it instead.", code="exists")
    try:
        with transaction.atomic():
            publisher = Publisher.objects.create(user=user, **cleaned)
    except IntegrityError:
        raise Conflict(
            "You already have a publisher profile; edit it instead.", code="exists"
        ) from None
    audit_record(actor=user, action="publisher.create", target=publisher, after=cleaned)
    return publisher


@transaction.atomic
def publisher_profile_update(*, actor: User, publisher: Publisher, **fields: Any) -> Publisher:
    """Updates a publisher profile (the publisher itself or staff); audited."""
    unknown = set(fields) - set(PUBLISHER_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if not (actor.role == Role.ADMIN or (publisher.user_id and publisher.user_id == actor.pk)):
        raise Forbidden("You can only edit your own publisher profile.")
    cleaned = _clean_publisher_fields(fields)
    publisher = Publisher.objects.select_for_update().get(pk=publisher.pk)
    before = {name: getattr(publisher, name) for name in cleaned}
    for name, value in cleaned.items():
        setattr(publisher, name, value)
    if cleaned:
        publisher.save(update_fields=[*cleaned, "updated_at"])
        audit_record(
            actor=actor, action="publisher.update", target=publisher, before=before, after=cleaned
        )
    return publisher


# --- Publisher–artist relationships ------------------------------------------------
def _party_of(actor: User, relationship: PublisherArtistRelationship) -> str | None:
    if relationship.artist.user_id and relationship.artist.user_id == actor.pk:
        return Party.ARTIST
    if relationship.publisher.user_id and relationship.publisher.user_id == actor.pk:
        return Party.PUBLISHER
    return None


def _record_status(
    relationship: PublisherArtistRelationship, *, status: str, actor: User | None, reason: str = ""
) -> None:
    before = {"status": relationship.status}
    relationship.status = status
    if reason:
        relationship.status_reason = reason
    relationship.save(update_fields=["status", "status_reason", "end_date", "updated_at"])
    RelationshipStatusChange.objects.create(
        relationship=relationship, status=status, at=timezone.now(), actor=actor
    )
    audit_record(
        actor=actor,
        action=f"relationship.{status}",
        target=relationship,
        before=before,
        after={"status": status, "reason": reason, "share_bp": relationship.share_bp},
    )


def _refresh_self_published(artist_id: int) -> None:
    live = PublisherArtistRelationship.objects.filter(
        artist_id=artist_id, status__in=[RelationshipStatus.ACTIVE, RelationshipStatus.SUSPENDED]
    ).exists()
    Artist.objects.filter(pk=artist_id).update(self_published=not live)


@transaction.atomic
def relationship_propose(
    *,
    actor: User,
    kind: str,
    share_bp: int,
    start_date: date,
    end_date: date | None = None,
    artist: Artist | None = None,
    publisher: Publisher | None = None,
    notes: str = "",
) -> PublisherArtistRelationship:
    """Proposes a publishing deal to the other side; it waits in pending for their answer."""
    if actor.role == Role.ARTIST:
        artist = Artist.objects.filter(user=actor).first()
        if artist is None:
            raise ValidationFailed("Create your artist profile first.", code="profile_missing")
        if publisher is None:
            raise ValidationFailed("Name the publisher.", details={"publisher_id": ["Required."]})
        proposed_by = Party.ARTIST
    elif actor.role == Role.PUBLISHER:
        publisher = Publisher.objects.filter(user=actor).first()
        if publisher is None:
            raise ValidationFailed("Create your publisher profile first.", code="profile_missing")
        if artist is None:
            raise ValidationFailed("Name the artist.", details={"artist_id": ["Required."]})
        proposed_by = Party.PUBLISHER
    else:
        raise Forbidden("Only an artist or a publisher can propose a publishing deal.")
    if kind not in RelationshipKind.values:
        raise ValidationFailed("Unknown deal type.", details={"kind": ["Unknown value."]})
    if not 0 <= share_bp <= 10000:
        raise ValidationFailed(
            "The publisher's share must be between 0 and 10,000 basis points.",
            details={"share_bp": ["Between 0 and 10000."]},
        )
    if end_date is not None and end_date < start_date:
        raise ValidationFailed(
            "The end date is before the start date.", details={"end_date": ["Before start."]}
        )
    if PublisherArtistRelationship.objects.filter(
        artist=artist, publisher=publisher, status=RelationshipStatus.PENDING
    ).exists():
        raise Conflict("A proposal between you is already waiting for an answer.")
    relationship = PublisherArtistRelationship.objects.create(
        publisher=publisher,
        artist=artist,
        kind=kind,
        share_bp=share_bp,
        start_date=start_date,
        end_date=end_date,
        proposed_by=proposed_by,
        proposed_by_user=actor,
        notes=notes,
    )
    RelationshipStatusChange.objects.create(
        relationship=relationship,
        status=RelationshipStatus.PENDING,
        at=timezone.now(),
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="relationship.propose",
        target=relationship,
        after={"kind": kind, "share_bp": share_bp, "start_date": start_date.isoformat()},
    )
    other = artist.user if proposed_by == Party.PUBLISHER else publisher.user
    if other is not None:
        email_send(
            to=other.email,
            subject="A publishing deal is waiting for your answer",
            text=(
                f"{publisher.name if proposed_by == Party.PUBLISHER else artist.stage_name} "
                f"proposed a {relationship.get_kind_display().lower()} deal "
                f"({share_bp / 100:.2f}% to the publisher, from {start_date:%d %b %Y}). "
                "Accept or decline it in ZamIO."
            ),
        )
    return relationship


def _locked(relationship: PublisherArtistRelationship) -> PublisherArtistRelationship:
    return (
        PublisherArtistRelationship.objects.select_for_update()
        .select_related("artist", "publisher")
        .get(pk=relationship.pk)
    )


@transaction.atomic
def relationship_accept(
    *, actor: User, relationship: PublisherArtistRelationship
) -> PublisherArtistRelationship:
    """The other side accepts: the deal goes active; the artist stops being self-published."""
    relationship = _locked(relationship)
    party = _party_of(actor, relationship)
    if party is None:
        raise Forbidden("Only the artist or the publisher of this deal can answer it.")
    if party == relationship.proposed_by:
        raise Forbidden("The other side must accept your proposal.")
    if relationship.status != RelationshipStatus.PENDING:
        raise InvalidTransition(
            f"This deal is {relationship.status}; only a pending one can start."
        )
    if relationship.end_date is not None and relationship.end_date < timezone.localdate():
        raise InvalidTransition("This proposal's end date has passed.")
    if PublisherArtistRelationship.objects.filter(
        artist_id=relationship.artist_id,
        status__in=[RelationshipStatus.ACTIVE, RelationshipStatus.SUSPENDED],
    ).exists():
        raise Conflict(
            "The artist already has a publisher; that deal must end before another starts."
        )
    _record_status(relationship, status=RelationshipStatus.ACTIVE, actor=actor)
    _refresh_self_published(relationship.artist_id)
    return relationship


@transaction.atomic
def relationship_decline(
    *, actor: User, relationship: PublisherArtistRelationship, reason: str = ""
) -> PublisherArtistRelationship:
    """The other side declines a pending proposal, or the proposer withdraws it."""
    relationship = _locked(relationship)
    if _party_of(actor, relationship) is None:
        raise Forbidden("Only the artist or the publisher of this deal can answer it.")
    if relationship.status != RelationshipStatus.PENDING:
        raise InvalidTransition(
            f"This deal is {relationship.status}; only a pending one can be declined."
        )
    _record_status(relationship, status=RelationshipStatus.DECLINED, actor=actor, reason=reason)
    return relationship


@transaction.atomic
def relationship_suspend(
    *, actor: User, relationship: PublisherArtistRelationship, reason: str
) -> PublisherArtistRelationship:
    """Staff pause a deal (e.g. during a dispute): the publisher's share stops until reinstated."""
    if actor.role != Role.ADMIN:
        raise Forbidden("Only staff can suspend a publishing deal.")
    if not reason.strip():
        raise ValidationFailed("Give a reason.", details={"reason": ["Required."]})
    relationship = _locked(relationship)
    if relationship.status != RelationshipStatus.ACTIVE:
        raise InvalidTransition(
            f"This deal is {relationship.status}; only an active one can be suspended."
        )
    _record_status(relationship, status=RelationshipStatus.SUSPENDED, actor=actor, reason=reason)
    return relationship


@transaction.atomic
def relationship_reinstate(
    *, actor: User, relationship: PublisherArtistRelationship
) -> PublisherArtistRelationship:
    """Staff lift a suspension; the publisher's share applies again from now."""
    if actor.role != Role.ADMIN:
        raise Forbidden("Only staff can reinstate a publishing deal.")
    relationship = _locked(relationship)
    if relationship.status != RelationshipStatus.SUSPENDED:
        raise InvalidTransition(
            f"This deal is {relationship.status}; only a suspended one can be reinstated."
        )
    _record_status(relationship, status=RelationshipStatus.ACTIVE, actor=actor)
    return relationship


@transaction.atomic
def relationship_terminate(
    *, actor: User, relationship: PublisherArtistRelationship, reason: str
) -> PublisherArtistRelationship:
    """Ends a deal (either side or staff); the artist is self-published again from now."""
    relationship = _locked(relationship)
    if actor.role != Role.ADMIN and _party_of(actor, relationship) is None:
        raise Forbidden("Only the artist, the publisher or staff can end this deal.")
    if not reason.strip():
        raise ValidationFailed("Give a reason.", details={"reason": ["Required."]})
    if relationship.status not in (RelationshipStatus.ACTIVE, RelationshipStatus.SUSPENDED):
        raise InvalidTransition(f"This deal is {relationship.status}; it cannot be terminated.")
    today = timezone.localdate()
    if relationship.end_date is None or relationship.end_date > today:
        relationship.end_date = max(today, relationship.start_date)
    _record_status(relationship, status=RelationshipStatus.TERMINATED, actor=actor, reason=reason)
    _refresh_self_published(relationship.artist_id)
    return relationship


# --- KYC ---------------------------------------------------------------------------
KYC_FILE_SIGNATURES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
}


@dataclass(frozen=True)
class KycFile:
    kind: str
    file: UploadedFile


def _kyc_file_type(upload: UploadedFile) -> tuple[str, str]:
    """Reads the first bytes: the client's content type and file name are not trusted."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for signature, kind in KYC_FILE_SIGNATURES.items():
        if head.startswith(signature):
            return kind
    raise ValidationFailed(
        "KYC documents must be PDF, JPEG or PNG files.",
        details={"documents": [f"{upload.name}: not a PDF, JPEG or PNG file."]},
    )


@transaction.atomic
def kyc_submit(
    *, user: User, id_type: str, id_number: str, tax_id: str = "", documents: Sequence[KycFile]
) -> KycSubmission:
    """Stores a KYC submission and its private documents for support staff to review."""
    from artists.models import IdType, KycDocumentKind

    if user.role not in (Role.ARTIST, Role.PUBLISHER):
        raise Forbidden("Only artist and publisher accounts submit KYC.")
    errors: dict[str, list[str]] = {}
    if id_type not in IdType.values:
        errors["id_type"] = [f"Use one of: {', '.join(IdType.values)}."]
    id_number = (id_number or "").strip().upper()
    if not re.match(r"^[A-Z0-9\-/ ]{4,40}$", id_number):
        errors["id_number"] = ["4 to 40 letters, digits, dashes or slashes."]
    elif id_type == IdType.GHANA_CARD and not re.match(r"^GHA-[0-9]{9}-[0-9]$", id_number):
        errors["id_number"] = ["A Ghana Card number looks like GHA-123456789-0."]
    tax_id = (tax_id or "").strip().upper()
    if tax_id and not re.match(r"^[A-Z0-9]{10,15}$", tax_id):
        errors["tax_id"] = ["10 to 15 letters or digits (GRA TIN or Ghana Card PIN)."]
    if not documents:
        errors["documents"] = ["Attach at least one document."]
    elif len(documents) > settings.ARTISTS_KYC_MAX_DOCUMENTS:
        errors["documents"] = [f"At most {settings.ARTISTS_KYC_MAX_DOCUMENTS} documents."]
    for document in documents:
        if document.kind not in KycDocumentKind.values:
            errors.setdefault("documents", []).append(f"Unknown document kind {document.kind!r}.")
        if document.file.size > settings.ARTISTS_KYC_MAX_FILE_BYTES:
            errors.setdefault("documents", []).append(
                f"{document.file.name}: larger than "
                f"{settings.ARTISTS_KYC_MAX_FILE_BYTES // (1024 * 1024)} MB."
            )
        elif document.file.size == 0:
            errors.setdefault("documents", []).append(f"{document.file.name}: empty file.")
    if errors:
        raise ValidationFailed("The KYC submission is incomplete or invalid.", details=errors)
    types = [_kyc_file_type(document.file) for document in documents]

    current = (
        KycSubmission.objects.select_for_update()
        .filter(user=user)
        .order_by("-created_at", "-id")
        .first()
    )
    if current is not None and current.status == KycStatus.SUBMITTED:
        raise Conflict("Your KYC is already under review.", code="kyc_pending")
    if current is not None and current.status == KycStatus.APPROVED:
        raise Conflict(
            "Your KYC is already approved; contact support to change your identity details.",
            code="kyc_approved",
        )
    try:
        with transaction.atomic():
            submission = KycSubmission.objects.create(
                user=user, id_type=id_type, id_number=id_number, tax_id=tax_id
            )
    except IntegrityError:
        raise Conflict("Your KYC is already under review.", code="kyc_pending") from None
    for document, (content_type, suffix) in zip(documents, types, strict=True):
        row = KycDocument(
            submission=submission,
            kind=document.kind,
            content_type=content_type,
            size=document.file.size,
        )
        document.file.seek(0)
        # The suffix comes from the bytes we read, never from the uploaded name.
        row.file.save(f"document{suffix}", document.file, save=False)
        row.save()
    audit_record(
        actor=user,
        action="kyc.submit",
        target=submission,
        after={"id_type": id_type, "documents": len(documents)},
    )
    return submission


def _require_kyc_reviewer(actor: User) -> None:
    if not (
        actor.role == Role.ADMIN and actor.staff_role in (StaffRole.SUPPORT, StaffRole.SUPERADMIN)
    ):
        raise Forbidden("Only support staff decide KYC.")


@transaction.atomic
def kyc_approve(*, actor: User, submission: KycSubmission) -> KycSubmission:
    """Support staff approve a submitted KYC; audited; the account holder is emailed."""
    _require_kyc_reviewer(actor)
    submission = (
        KycSubmission.objects.select_for_update().select_related("user").get(pk=submission.pk)
    )
    if submission.status != KycStatus.SUBMITTED:
        raise InvalidTransition(f"This KYC is already {submission.status}.")
    submission.status = KycStatus.APPROVED
    submission.decided_by = actor
    submission.decided_at = timezone.now()
    submission.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(
        actor=actor,
        action="kyc.approve",
        target=submission,
        before={"status": KycStatus.SUBMITTED},
        after={"status": KycStatus.APPROVED},
    )
    notify(
        user=submission.user,
        kind="kyc_decision",
        title="Your identity check is approved",
        body="Your KYC documents were approved. You can now withdraw your royalties.",
        link="/kyc",
        context={"submission_id": submission.pk, "status": KycStatus.APPROVED},
    )
    return submission


@transaction.atomic
def kyc_reject(*, actor: User, submission: KycSubmission, reason: str) -> KycSubmission:
    """Support staff reject a submitted KYC with a reason; audited; the holder is emailed."""
    _require_kyc_reviewer(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give the reason for rejecting.", details={"reason": ["Required."]})
    submission = (
        KycSubmission.objects.select_for_update().select_related("user").get(pk=submission.pk)
    )
    if submission.status != KycStatus.SUBMITTED:
        raise InvalidTransition(f"This KYC is already {submission.status}.")
    submission.status = KycStatus.REJECTED
    submission.rejection_reason = reason
    submission.decided_by = actor
    submission.decided_at = timezone.now()
    submission.save(
        update_fields=["status", "rejection_reason", "decided_by", "decided_at", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="kyc.reject",
        target=submission,
        before={"status": KycStatus.SUBMITTED},
        after={"status": KycStatus.REJECTED, "reason": reason},
    )
    notify(
        user=submission.user,
        kind="kyc_decision",
        title="Your identity check needs attention",
        body=f"Your KYC documents were not approved: {reason}\n\nPlease submit them again.",
        link="/kyc",
        priority="high",
        context={"submission_id": submission.pk, "status": KycStatus.REJECTED, "reason": reason},
    )
    return submission


# --- Payout details --------------------------------------------------------------
def msisdn_normalise(value: str) -> str:
    """Ghanaian numbers as people type them (024…, +233 24…, 23324…) → 233241234567."""
    digits = re.sub(r"[\s\-()]", "", value or "")
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0") and len(digits) == 10:
        digits = "233" + digits[1:]
    if not re.match(r"^[1-9][0-9]{7,14}$", digits) or (
        digits.startswith("233") and len(digits) != 12
    ):
        raise ValidationFailed(
            "The mobile money number is not valid.",
            details={"msisdn": ["Use a number like 0241234567 or +233241234567."]},
        )
    return digits


def payout_details_set(
    *, user: User, msisdn: str, network: str, otp_code: str, account_name: str = ""
) -> PayoutDetails:
    """Sets the MoMo number after an SMS code; audited; a new number restarts the cooling-off."""
    if user.role not in (Role.ARTIST, Role.PUBLISHER):
        raise Forbidden("Only artist and publisher accounts receive payouts.")
    msisdn = msisdn_normalise(msisdn)
    if network not in MomoNetwork.values:
        raise ValidationFailed(
            "Unknown mobile money network.",
            details={"network": [f"Use one of: {', '.join(MomoNetwork.values)}."]},
        )
    # otp_verify commits its own transaction, so a wrong code stays counted.
    otp_verify(user=user, purpose=OtpPurpose.PAYOUT_DETAILS, code=otp_code)
    with transaction.atomic():
        details = PayoutDetails.objects.select_for_update().filter(user=user).first()
        before = (
            {
                "msisdn": details.msisdn,
                "network": details.network,
                "account_name": details.account_name,
            }
            if details
            else {}
        )
        now = timezone.now()
        if details is None:
            details = PayoutDetails.objects.create(
                user=user, msisdn=msisdn, network=network, account_name=account_name, changed_at=now
            )
        else:
            if (details.msisdn, details.network) != (msisdn, network):
                details.changed_at = now
            details.msisdn = msisdn
            details.network = network
            details.account_name = account_name
            details.save()
        audit_record(
            actor=user,
            action="payout_details.set",
            target=details,
            before=before,
            after={"msisdn": msisdn, "network": network, "account_name": account_name},
        )
        notify(
            user=user,
            kind="payout_details_changed",
            title="Your payout number was changed",
            body=(
                f"Your royalties will now be paid to {network.upper()} number "
                f"…{msisdn[-4:]}. If this was not you, contact ZamIO support at once."
            ),
            link="/payout-details",
            priority="high",
        )
    return details
