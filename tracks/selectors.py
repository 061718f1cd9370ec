"""Reads of the catalogue, already scoped to what the requesting user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from artists.models import RelationshipStatus
from tracks.models import SplitVersion, Track, TrackImport, TrackSplit, TrackStatus
from users.models import Role, User
from zamio.errors import Forbidden, NotFound


def _with_relations(qs: QuerySet[Track]) -> QuerySet[Track]:
    return qs.select_related("primary_artist", "created_by").prefetch_related("featured_artists")


def _represented_by(user: User) -> Q:
    return Q(
        primary_artist__relationships__publisher__user=user,
        primary_artist__relationships__status=RelationshipStatus.ACTIVE,
    )


def tracks_visible_to(*, user: User) -> QuerySet[Track]:
    """Artist: own tracks (primary or featured); publisher: tracks of artists it actively
    represents; station: approved tracks, read-only; staff: all."""
    qs = Track.objects.all()
    if user.role == Role.ADMIN:
        pass
    elif user.role == Role.ARTIST:
        own = Track.objects.filter(
            Q(primary_artist__user=user) | Q(featured_artists__user=user)
        ).values("pk")
        qs = qs.filter(pk__in=own)
    elif user.role == Role.PUBLISHER:
        qs = qs.filter(pk__in=Track.objects.filter(_represented_by(user)).values("pk"))
    elif user.role == Role.STATION:
        qs = qs.filter(status=TrackStatus.APPROVED)
    else:
        qs = qs.none()
    return _with_relations(qs)


def tracks_editable_by(*, user: User) -> QuerySet[Track]:
    """The primary artist, its active publisher and staff edit a track; featured artists read."""
    if user.role == Role.ADMIN:
        return Track.objects.all()
    if user.role == Role.ARTIST:
        return Track.objects.filter(primary_artist__user=user)
    if user.role == Role.PUBLISHER:
        return Track.objects.filter(pk__in=Track.objects.filter(_represented_by(user)).values("pk"))
    return Track.objects.none()


def track_get(*, user: User, track_id: int) -> Track:
    track = tracks_visible_to(user=user).filter(pk=track_id).first()
    if track is None:
        raise NotFound("No such track.")
    return track


def track_get_for_edit(*, user: User, track_id: int) -> Track:
    """A track the user may change: 404 if they cannot see it, 403 if they may only read it."""
    track = track_get(user=user, track_id=track_id)
    if not tracks_editable_by(user=user).filter(pk=track.pk).exists():
        raise Forbidden("You can view this track but not change it.")
    return track


def split_versions_of(*, track: Track) -> QuerySet[SplitVersion]:
    return (
        SplitVersion.objects.filter(track=track)
        .select_related("created_by")
        .prefetch_related(
            Prefetch(
                "shares",
                queryset=TrackSplit.objects.select_related(
                    "contributor", "contributor__artist", "contributor__publisher"
                ),
            )
        )
        .order_by("-effective_from", "-number")
    )


def split_version_current(*, track: Track) -> SplitVersion | None:
    return split_versions_of(track=track).first()


@dataclass(frozen=True)
class SplitShare:
    contributor_id: int
    name: str
    role: str
    basis_points: int
    artist_id: int | None
    publisher_id: int | None
    user_id: int | None  # the account to pay, if the contributor has one
    ipi: str


def splits_at(*, track_id: int, at: datetime) -> list[SplitShare]:
    """The shares of the split version in force at `at`; empty if the track had none yet.

    Versions are immutable and each totals exactly 10,000 basis points, so a royalty
    computed for a play at `at` stays the same however the splits are edited later.
    """
    version = (
        SplitVersion.objects.filter(track_id=track_id, effective_from__lte=at)
        .order_by("-effective_from", "-number")
        .first()
    )
    if version is None:
        return []
    shares = TrackSplit.objects.filter(version=version).select_related(
        "contributor__artist", "contributor__publisher"
    )
    result = []
    for share in shares:
        contributor = share.contributor
        artist, publisher = contributor.artist, contributor.publisher
        user_id = (artist.user_id if artist else None) or (publisher.user_id if publisher else None)
        ipi = (
            contributor.ipi
            or (artist.ipi_number if artist else "")
            or (publisher.ipi_number if publisher else "")
        )
        result.append(
            SplitShare(
                contributor_id=contributor.pk,
                name=contributor.name,
                role=share.role,
                basis_points=share.basis_points,
                artist_id=contributor.artist_id,
                publisher_id=contributor.publisher_id,
                user_id=user_id,
                ipi=ipi,
            )
        )
    return result


def imports_visible_to(*, user: User) -> QuerySet[TrackImport]:
    qs = TrackImport.objects.select_related("created_by")
    if user.role == Role.ADMIN:
        return qs.all()
    return qs.filter(created_by=user)


def track_import_get(*, user: User, import_id: int) -> TrackImport:
    found = imports_visible_to(user=user).filter(pk=import_id).first()
    if found is None:
        raise NotFound("No such import.")
    return found
