"""Reads of plays, analysed windows and station uploads, scoped to the requesting user.

Who sees which play is decided here and only here: staff see every play; a station
account its own station's; an artist the plays of tracks it is the primary or a
featured artist on; a publisher those of the artists it actively represents.
Anything else is invisible, which the API answers with 404.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from artists.models import PublisherArtistRelationship, RelationshipStatus
from detections.models import (
    Dispute,
    DisputeEntry,
    DisputeEvidence,
    MatchCache,
    PlayLog,
    RoyaltyStatus,
    StationUpload,
    VerificationStatus,
)
from stations.selectors import station_ids_for_user
from tracks.models import Track
from users.models import Role, User
from zamio.errors import NotFound


def _is_staff(user: User) -> bool:
    return user.role == Role.ADMIN


def plays_visible_to(*, user: User) -> QuerySet[PlayLog]:
    """PlayLogs the user may see, with station, track and primary artist joined."""
    qs = PlayLog.objects.select_related("station", "track", "track__primary_artist")
    if _is_staff(user):
        return qs.all()
    if user.role == Role.STATION:
        return qs.filter(station_id__in=station_ids_for_user(user=user))
    # By track ids (a short list) rather than by joining plays to artists: the planner then
    # reads each track's plays through the (track, started_at) index.
    if user.role == Role.ARTIST:
        own = Q(primary_artist__user=user) | Q(featured_artists__user=user)
        return qs.filter(track_id__in=_track_ids(own))
    if user.role == Role.PUBLISHER:
        represented = PublisherArtistRelationship.objects.filter(
            publisher__user=user, status=RelationshipStatus.ACTIVE
        ).values("artist_id")
        own = Q(primary_artist_id__in=represented) | Q(featured_artists__in=represented)
        return qs.filter(track_id__in=_track_ids(own))
    return qs.none()


def _track_ids(condition: Q) -> list[int]:
    return sorted(set(Track.objects.filter(condition).values_list("pk", flat=True)))


def play_get(*, user: User, play_id: int) -> PlayLog:
    play = plays_visible_to(user=user).filter(pk=play_id).first()
    if play is None:
        raise NotFound("No such play.")
    return play


def plays_for_royalties(*, start: datetime, end: datetime) -> QuerySet[PlayLog]:
    """Plays that earn royalties and have none calculated yet, started in [start, end).

    Verified, royalty-bearing, ended (an open play is still growing), royalty status
    pending; disputed, rejected and withheld plays are left out.
    """
    return (
        PlayLog.objects.select_related("station", "track", "track__primary_artist")
        .filter(
            started_at__gte=start,
            started_at__lt=end,
            verification_status=VerificationStatus.VERIFIED,
            royalty_bearing=True,
            royalty_status=RoyaltyStatus.PENDING,
            is_open=False,
        )
        .order_by("started_at", "id")
    )


def match_cache_visible_to(*, user: User) -> QuerySet[MatchCache]:
    """Analysed windows are an operations tool: staff only."""
    qs = MatchCache.objects.select_related("station", "track", "track__primary_artist")
    return qs.all() if _is_staff(user) else qs.none()


def uploads_visible_to(*, user: User) -> QuerySet[StationUpload]:
    qs = StationUpload.objects.select_related("station")
    if _is_staff(user):
        return qs.all()
    if user.role == Role.STATION:
        return qs.filter(station_id__in=station_ids_for_user(user=user))
    return qs.none()


def open_plays_of_station(*, station_id: int) -> QuerySet[PlayLog]:
    """What a station is airing right now, by our ears (the live monitor's first frame)."""
    return PlayLog.objects.select_related("track", "track__primary_artist").filter(
        station_id=station_id, is_open=True
    )


# --- Disputes ----------------------------------------------------------------------------
# A dispute is visible to whoever may see its play (its parties: the station, the track's
# artists, their publishers) and to staff; the same rule covers its timeline and evidence.
def disputes_visible_to(*, user: User) -> QuerySet[Dispute]:
    qs = Dispute.objects.select_related(
        "play",
        "play__station",
        "play__track",
        "play__track__primary_artist",
        "opened_by",
        "assigned_to",
        "resolved_by",
    )
    if _is_staff(user):
        return qs.all()
    return qs.filter(play__in=plays_visible_to(user=user).values("pk"))


def dispute_get(*, user: User, dispute_id: int) -> Dispute:
    dispute = disputes_visible_to(user=user).filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


def dispute_detail_get(*, user: User, dispute_id: int) -> Dispute:
    """dispute_get with its timeline and evidence (and their authors) prefetched."""
    dispute = (
        disputes_visible_to(user=user)
        .prefetch_related(
            Prefetch("entries", queryset=DisputeEntry.objects.select_related("author")),
            Prefetch("evidence", queryset=DisputeEvidence.objects.select_related("uploaded_by")),
        )
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


def dispute_entries(*, dispute: Dispute) -> QuerySet[DisputeEntry]:
    return DisputeEntry.objects.filter(dispute=dispute).select_related("author")


def dispute_evidence(*, dispute: Dispute) -> QuerySet[DisputeEvidence]:
    return DisputeEvidence.objects.filter(dispute=dispute).select_related("uploaded_by")


def evidence_get(*, user: User, dispute_id: int, evidence_id: int) -> DisputeEvidence:
    """An evidence file, if the user may see its dispute (else 404, as for the dispute)."""
    dispute = dispute_get(user=user, dispute_id=dispute_id)
    evidence = DisputeEvidence.objects.filter(dispute=dispute, pk=evidence_id).first()
    if evidence is None:
        raise NotFound("No such evidence.")
    return evidence


def dispute_party_users(*, play: PlayLog) -> list[User]:
    """Who a dispute on the play concerns: the station's accounts, the track's artists'
    accounts and their active publishers' accounts (active users, each once)."""
    from stations.selectors import station_staff_users

    artist_ids = [
        play.track.primary_artist_id,
        *play.track.featured_artists.values_list("pk", flat=True),
    ]
    users = list(station_staff_users(station_id=play.station_id))
    users += list(User.objects.filter(artist_profile__in=artist_ids, is_active=True).order_by("id"))
    publisher_users = PublisherArtistRelationship.objects.filter(
        artist_id__in=artist_ids, status=RelationshipStatus.ACTIVE, publisher__user__isnull=False
    ).values("publisher__user")
    users += list(User.objects.filter(pk__in=publisher_users, is_active=True).order_by("id"))
    return list({u.pk: u for u in users}.values())


def review_queue(*, user: User) -> QuerySet[PlayLog]:
    """Plays waiting for a human (verification pending review), oldest first: staff only."""
    if not _is_staff(user):
        return PlayLog.objects.none()
    return (
        plays_visible_to(user=user)
        .filter(verification_status=VerificationStatus.PENDING_REVIEW, is_open=False)
        .order_by("started_at", "id")
    )
