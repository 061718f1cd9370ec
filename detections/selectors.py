"""Reads of plays, analysed windows and station uploads, scoped to the requesting user.

Who sees which play is decided here and only here: staff see every play; a station
account its own station's; an artist the plays of tracks it is the primary or a
featured artist on; a publisher those of the artists it actively represents.
Anything else is invisible, which the API answers with 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.db.models.expressions import RawSQL

from artists.models import Artist, PublisherArtistRelationship, RelationshipStatus
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
from zamio import statements
from zamio.errors import NotFound


def _is_staff(user: User) -> bool:
    return user.role == Role.ADMIN


@dataclass(frozen=True)
class PlayScope:
    """The plays a user may see, and when they are those of a list of tracks (an artist's,
    a publisher's), that list."""

    plays: QuerySet[PlayLog]
    track_ids: list[int] | None = None


def play_scope(*, user: User) -> PlayScope:
    qs = PlayLog.objects.select_related("station", "track", "track__primary_artist")
    if _is_staff(user):
        return PlayScope(qs.all())
    if user.role == Role.STATION:
        return PlayScope(qs.filter(station_id__in=station_ids_for_user(user=user)))
    # By track ids (a short list) rather than by joining plays to artists: the planner then
    # reads each track's plays through the (track, started_at) index.
    if user.role in (Role.ARTIST, Role.PUBLISHER):
        track_ids = own_track_ids(user_id=user.pk, role=user.role)
        return PlayScope(qs.filter(track_id__any=track_ids), track_ids)
    return PlayScope(qs.none())


def plays_visible_to(*, user: User) -> QuerySet[PlayLog]:
    """PlayLogs the user may see, with station, track and primary artist joined."""
    return play_scope(user=user).plays


def own_track_ids(*, user_id: int, role: str) -> list[int]:
    """The tracks an artist account (its own, primary or featured) or a publisher account
    (its actively represented artists') may see the plays and numbers of, sorted; []
    otherwise. Every request of theirs asks: compiled once (zamio.statements)."""
    if role == Role.ARTIST:
        found = _TRACKS_OF_ARTIST_ACCOUNT.rows(user_id)
    elif role == Role.PUBLISHER:
        found = _TRACKS_OF_PUBLISHER_ACCOUNT.rows(user_id)
    else:
        return []
    return sorted({pk for (pk,) in found})


def _tracks_of_artists(artist_ids) -> QuerySet:
    """Ids of the tracks whose primary or a featured artist is among `artist_ids` (ids or
    a query of them). Two index reads in one UNION: an OR across the join of tracks to
    their artists read every track (4 ms of PostgreSQL per request with 10,000 tracks)."""
    primary = Track.objects.filter(primary_artist_id__in=artist_ids).order_by().values_list("pk")
    featured = (
        Track.featured_artists.through.objects.filter(artist_id__in=artist_ids)
        .order_by()
        .values_list("track_id")
    )
    return primary.union(featured)


_TRACKS_OF_ARTIST_ACCOUNT = statements.Compiled(
    lambda user_id: _tracks_of_artists(Artist.objects.filter(user_id=user_id).values("pk"))
)
_TRACKS_OF_PUBLISHER_ACCOUNT = statements.Compiled(
    lambda user_id: _tracks_of_artists(
        PublisherArtistRelationship.objects.filter(
            publisher__user_id=user_id, status=RelationshipStatus.ACTIVE
        ).values("artist_id")
    )
)


def artist_track_ids(artist_ids) -> list[int]:
    """Tracks whose primary or a featured artist is among `artist_ids` (ids or a query of
    them), sorted."""
    return sorted({pk for (pk,) in _tracks_of_artists(artist_ids)})


# The columns of a play in list pages (PlayOutput's, without the joined station and track).
PLAY_LIST_COLUMNS = (
    "id",
    "station_id",
    "track_id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "avg_confidence",
    "peak_confidence",
    "window_count",
    "source",
    "is_open",
    "verification_status",
    "payment_status",
    "royalty_status",
    "royalty_bearing",
    "reviewed_at",
    "review_note",
    "created_at",
    "updated_at",
)


# A page of plays with their stations, tracks and artists, once the page is chosen.
_PAGE_ROWS = (
    "SELECT {columns}, station.name, station.slug, station.call_sign, station.region, "
    "station.station_class, track.title, track.isrc, track.primary_artist_id, "
    "artist.stage_name FROM detections_playlog AS play "
    "JOIN stations_station AS station ON station.id = play.station_id "
    "JOIN tracks_track AS track ON track.id = play.track_id "
    "JOIN artists_artist AS artist ON artist.id = track.primary_artist_id "
    "WHERE play.id IN ({chosen}) ORDER BY {order}"
)


class PlayPages:
    """A list of plays as a paginator reads it: counted in the database, and a page read
    as rows (dicts shaped like a play with its station and track) rather than model
    instances.

    A page is one query: the page's plays are chosen (filtered, ordered, limited) in a
    subquery and only they are joined to their stations, tracks and artists. Joined in the
    choosing query itself, the planner could join before it limited (a hash of all 10,000
    tracks for a page of 25 plays); and three model instances per row cost more than the
    query. On PostgreSQL the joining query is written out (the ORM spent 1 ms building and
    reading it, as long as the database took); elsewhere the ORM writes it."""

    ordered = True
    _BRIEFS = {
        "station__name": "name",
        "station__slug": "slug",
        "station__call_sign": "call_sign",
        "station__region": "region",
        "station__station_class": "station_class",
        "track__title": "title",
        "track__isrc": "isrc",
        "track__primary_artist_id": "primary_artist_id",
        "track__primary_artist__stage_name": "stage_name",
    }
    # Up to this many tracks, a page of a track list's plays is chosen track by track.
    _MAX_LATERAL_TRACKS = 200

    def __init__(self, plays: QuerySet[PlayLog], *, track_ids: list[int] | None = None) -> None:
        self._plays = plays
        self._track_ids = track_ids

    def count(self) -> int:
        return self._plays.count()

    def __getitem__(self, page: slice) -> list[dict]:
        if (page.stop or 0) <= (page.start or 0):
            return []  # the paginator's page of an empty list
        query = self._plays.query
        ordering = query.order_by or (query.default_ordering and PlayLog._meta.ordering) or ()
        columns = _order_columns(ordering) if self._postgresql() else None
        try:
            chosen = self._chosen_by_track(page, ordering, columns)
            if chosen is None:
                chosen = self._plays.order_by(*ordering).values("pk")[page]
            if columns is None:
                rows = (
                    PlayLog.objects.filter(pk__in=chosen)
                    .order_by(*ordering)
                    .values_list(*PLAY_LIST_COLUMNS, *self._BRIEFS)
                )
            else:
                rows = self._rows_in_sql(chosen, columns)
            return [self._shaped(row) for row in rows]
        except EmptyResultSet:  # nothing to read: qs.none(), an empty id list
            return []

    @staticmethod
    def _postgresql() -> bool:
        return connection.vendor == "postgresql"

    @staticmethod
    def _rows_in_sql(chosen, columns: list[tuple[str, bool]]) -> list[tuple]:
        sql, params = (
            (chosen.sql, chosen.params)
            if isinstance(chosen, RawSQL)
            else chosen.query.sql_with_params()
        )
        # Only the ORM's own SQL and column names from PLAY_LIST_COLUMNS are spliced in.
        statement = _PAGE_ROWS.format(
            columns=", ".join(f'play."{c}"' for c in PLAY_LIST_COLUMNS),
            chosen=sql,
            order=", ".join(f'play."{c}" {"DESC" if desc else "ASC"}' for c, desc in columns),
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    @staticmethod
    def _shaped(row: tuple) -> dict:
        play = dict(zip(PLAY_LIST_COLUMNS, row, strict=False))
        name, slug, call_sign, region, station_class, title, isrc, artist_id, stage_name = row[
            len(PLAY_LIST_COLUMNS) :
        ]
        play["station"] = {
            "id": play["station_id"],
            "name": name,
            "slug": slug,
            "call_sign": call_sign,
            "region": region,
            "station_class": station_class,
        }
        play["track"] = {
            "id": play["track_id"],
            "title": title,
            "isrc": isrc,
            "primary_artist_id": artist_id,
            "primary_artist": {"stage_name": stage_name},
        }
        return play

    def _chosen_by_track(
        self, page: slice, ordering, columns: list[tuple[str, bool]] | None
    ) -> RawSQL | None:
        """The page's play ids, chosen from each track's own first plays (PostgreSQL).

        The plays of an artist's or a publisher's tracks are all read and sorted to find the
        newest 25: 26,000 rows (70 ms) for the benchmark's most-aired artist over 90 days.
        Read track by track through the (track, started_at) index, newest first and
        stopping at the page's end, the same page costs a few rows per track. None where
        this does not apply (no track list, another database, an ordering by something
        else than the plays' own columns)."""
        track_ids = self._track_ids
        if (
            columns is None
            or track_ids is None
            or not 0 < len(track_ids) <= self._MAX_LATERAL_TRACKS
        ):
            return None
        start, stop = page.start or 0, page.stop
        per_track = (
            self._plays.filter(track_id=RawSQL("scope_track.id", ()))
            .order_by(*ordering)
            .values(*dict.fromkeys(["id", *(c for c, _desc in columns)]))[:stop]
        )
        sql, params = per_track.query.sql_with_params()
        order = ", ".join(f'chosen."{c}" {"DESC" if desc else "ASC"}' for c, desc in columns)
        # Only the ORM's own SQL and column names from PLAY_LIST_COLUMNS are spliced in;
        # every value is a parameter.
        return RawSQL(  # noqa: S611
            "SELECT chosen.id FROM unnest(%s::bigint[]) AS scope_track(id) "  # noqa: S608
            f"CROSS JOIN LATERAL ({sql}) AS chosen ORDER BY {order} LIMIT %s OFFSET %s",
            (list(track_ids), *params, stop - start, start),
        )


def _order_columns(ordering) -> list[tuple[str, bool]] | None:
    """(column, descending) for each term of an ordering by the plays' own columns; None
    for any other ordering (the ORM then writes the page's query)."""
    columns = []
    for term in ordering:
        if not isinstance(term, str):
            return None
        name = term.lstrip("-")
        name = "id" if name == "pk" else name
        if name not in PLAY_LIST_COLUMNS:
            return None
        columns.append((name, term.startswith("-")))
    return columns or None


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
