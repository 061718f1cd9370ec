"""Reads of artists, publishers, deals, KYC and payout details, scoped to the requesting user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from artists.models import (
    Artist,
    KycDocument,
    KycStatus,
    KycSubmission,
    PayoutDetails,
    Publisher,
    PublisherArtistRelationship,
    RelationshipStatus,
)
from users.models import Role, StaffRole, User
from zamio.errors import NotFound

KYC_NOT_SUBMITTED = "not_submitted"


def _is_staff(user: User) -> bool:
    return user.role == Role.ADMIN


def artist_of_user(*, user: User) -> Artist:
    """The caller's own artist profile; 404 until it is created."""
    artist = Artist.objects.filter(user=user).first()
    if artist is None:
        raise NotFound("You have no artist profile yet.", code="profile_missing")
    return artist


def publisher_of_user(*, user: User) -> Publisher:
    publisher = Publisher.objects.filter(user=user).first()
    if publisher is None:
        raise NotFound("You have no publisher profile yet.", code="profile_missing")
    return publisher


def represented_artist_ids(*, publisher_id: int) -> QuerySet:
    """Ids of the artists a publisher represents right now (an active deal)."""
    return PublisherArtistRelationship.objects.filter(
        publisher_id=publisher_id, status=RelationshipStatus.ACTIVE
    ).values("artist_id")


def artists_visible_to(*, user: User) -> QuerySet[Artist]:
    """Staff: all; an artist: itself; a publisher: the artists it actively represents."""
    qs = Artist.objects.select_related("user")
    if _is_staff(user):
        return qs.all()
    if user.role == Role.ARTIST:
        return qs.filter(user=user)
    if user.role == Role.PUBLISHER:
        return qs.filter(
            relationships__publisher__user=user,
            relationships__status=RelationshipStatus.ACTIVE,
        ).distinct()
    return qs.none()


def artists_editable_by(*, user: User) -> QuerySet[Artist]:
    """Only the artist itself and staff edit a profile; a publisher reads it."""
    if _is_staff(user):
        return Artist.objects.all()
    if user.role == Role.ARTIST:
        return Artist.objects.filter(user=user)
    return Artist.objects.none()


def publishers_visible_to(*, user: User) -> QuerySet[Publisher]:
    """Staff: all; a publisher: itself; an artist: the publishers it has a deal with."""
    qs = Publisher.objects.select_related("user")
    if _is_staff(user):
        return qs.all()
    if user.role == Role.PUBLISHER:
        return qs.filter(user=user)
    if user.role == Role.ARTIST:
        return qs.filter(relationships__artist__user=user).distinct()
    return qs.none()


def publisher_directory() -> QuerySet[Publisher]:
    """Every publisher's public name, so an artist can find one to propose a deal to."""
    return Publisher.objects.all()


def relationships_visible_to(*, user: User) -> QuerySet[PublisherArtistRelationship]:
    qs = PublisherArtistRelationship.objects.select_related(
        "publisher", "artist", "proposed_by_user"
    )
    if _is_staff(user):
        return qs.all()
    if user.role == Role.ARTIST:
        return qs.filter(artist__user=user)
    if user.role == Role.PUBLISHER:
        return qs.filter(publisher__user=user)
    return qs.none()


def relationship_get(*, user: User, relationship_id: int) -> PublisherArtistRelationship:
    found = relationships_visible_to(user=user).filter(pk=relationship_id).first()
    if found is None:
        raise NotFound("No such publishing relationship.")
    return found


def active_publisher_share(*, artist_id: int, at: datetime) -> tuple[int, int] | None:
    """(publisher_id, share_bp) of the deal in force for the artist at `at`, or None.

    A deal is in force between its start and end dates (inclusive, Accra calendar
    days) while its status at that moment, per its status history, was active.
    """
    day = timezone.localtime(at).date() if timezone.is_aware(at) else at.date()
    candidates = (
        PublisherArtistRelationship.objects.filter(
            artist_id=artist_id,
            start_date__lte=day,
            status__in=[
                RelationshipStatus.ACTIVE,
                RelationshipStatus.SUSPENDED,
                RelationshipStatus.TERMINATED,
            ],
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=day))
        .prefetch_related("status_changes")
        .order_by("-start_date", "-id")
    )
    for relationship in candidates:
        status_then = None
        for change in relationship.status_changes.all():  # ordered by `at`
            if change.at <= at:
                status_then = change.status
        if status_then == RelationshipStatus.ACTIVE:
            return relationship.publisher_id, relationship.share_bp
    return None


# --- KYC and payout details ---------------------------------------------------
def kyc_submissions_visible_to(*, user: User) -> QuerySet[KycSubmission]:
    """Staff (support, superadmin, finance) see all; anybody else only their own."""
    qs = KycSubmission.objects.select_related("user", "decided_by").prefetch_related("documents")
    if _is_staff(user):
        return qs.all()
    return qs.filter(user=user)


def kyc_submission_get(*, user: User, submission_id: int) -> KycSubmission:
    found = kyc_submissions_visible_to(user=user).filter(pk=submission_id).first()
    if found is None:
        raise NotFound("No such KYC submission.")
    return found


def kyc_document_get(*, user: User, document_id: int) -> KycDocument:
    """A KYC file for its owner or staff; anyone else gets a 404, as if it did not exist."""
    qs = KycDocument.objects.select_related("submission")
    if not _is_staff(user):
        qs = qs.filter(submission__user=user)
    found = qs.filter(pk=document_id).first()
    if found is None:
        raise NotFound("No such document.")
    return found


def kyc_current(*, user: User) -> KycSubmission | None:
    """The account's newest KYC submission: the one that counts."""
    return KycSubmission.objects.filter(user=user).order_by("-created_at", "-id").first()


def kyc_status_of(*, user: User) -> str:
    current = kyc_current(user=user)
    return current.status if current else KYC_NOT_SUBMITTED


def payout_details_of(*, user: User) -> PayoutDetails | None:
    return PayoutDetails.objects.filter(user=user).first()


@dataclass(frozen=True)
class PayoutDestination:
    kyc_status: str  # "submitted" | "approved" | "rejected" | "not_submitted"
    kyc_approved: bool
    msisdn: str  # E.164 without "+"
    network: str  # "mtn" | "telecel" | "airteltigo"
    changed_at: datetime


def payout_destination_for(*, user: User) -> PayoutDestination | None:
    """Where an artist's or publisher's money goes, and whether KYC allows paying it."""
    if user.role not in (Role.ARTIST, Role.PUBLISHER):
        return None
    details = payout_details_of(user=user)
    if details is None:
        return None
    status = kyc_status_of(user=user)
    return PayoutDestination(
        kyc_status=status,
        kyc_approved=status == KycStatus.APPROVED,
        msisdn=details.msisdn,
        network=details.network,
        changed_at=details.changed_at,
    )


def is_kyc_reviewer(user: User) -> bool:
    return user.role == Role.ADMIN and user.staff_role in (
        StaffRole.SUPPORT,
        StaffRole.SUPERADMIN,
    )
