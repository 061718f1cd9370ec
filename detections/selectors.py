"""Reads of plays, analysed windows and station uploads, scoped to the requesting user.

Who sees which play is decided here and only here: staff see every play; a station
account its own station's; an artist the plays of tracks it is the primary or a
featured artist on; a publisher those of the artists it actively represents.
Anything else is invisible, which the API answers with 404.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from artists.models import PublisherArtistRelationship, RelationshipStatus
from detections.models import (
    MatchCache,
    PlayLog,
    RoyaltyStatus,
    StationUpload,
    VerificationStatus,
)
from stations.selectors import station_ids_for_user
from users.models import Role, User
from zamio.errors import NotFound


def _is_staff(user: User) -> bool:
    return user.role == Role.ADMIN


def _artist_track_filter(artist_ids) -> Q:
    return Q(track__primary_artist_id__in=artist_ids) | Q(track__featured_artists__in=artist_ids)


def plays_visible_to(*, user: User) -> QuerySet[PlayLog]:
    """PlayLogs the user may see, with station, track and primary artist joined."""
    qs = PlayLog.objects.select_related("station", "track", "track__primary_artist")
    if _is_staff(user):
        return qs.all()
    if user.role == Role.STATION:
        return qs.filter(station_id__in=station_ids_for_user(user=user))
    if user.role == Role.ARTIST:
        own = Q(track__primary_artist__user=user) | Q(track__featured_artists__user=user)
        return qs.filter(pk__in=PlayLog.objects.filter(own).values("pk"))
    if user.role == Role.PUBLISHER:
        represented = PublisherArtistRelationship.objects.filter(
            publisher__user=user, status=RelationshipStatus.ACTIVE
        ).values("artist_id")
        return qs.filter(
            pk__in=PlayLog.objects.filter(_artist_track_filter(represented)).values("pk")
        )
    return qs.none()


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
