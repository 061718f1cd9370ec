"""Reads for royalties: rate cards, batched split and deal look-ups for the calculator,
and what each user may see of periods, lines, invoices and reports."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from artists.models import PublisherArtistRelationship, RelationshipStatus
from royalties.calculation import Band
from royalties.models import (
    RateCard,
    ReportFile,
    ReportKind,
    RoyaltyLine,
    RoyaltyPeriod,
    StationInvoice,
)
from tracks.models import SplitVersion, TrackSplit
from tracks.selectors import SplitShare
from users.models import Role, User
from zamio.errors import NotFound


# --- Rate cards -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedRateCard:
    id: int
    effective_from: datetime
    min_play_seconds: Decimal
    cmo_fee_percent: Decimal
    rates: dict[str, Decimal]
    bands: tuple[Band, ...]


class RateCardBook:
    """Every rate card, loaded once; `card_at(t)` is the one in force at t (or None)."""

    def __init__(self, cards: list[LoadedRateCard]):
        self._cards = sorted(cards, key=lambda c: c.effective_from)
        self._starts = [c.effective_from for c in self._cards]

    def card_at(self, at: datetime) -> LoadedRateCard | None:
        i = bisect_right(self._starts, at)
        return self._cards[i - 1] if i else None


def rate_card_book() -> RateCardBook:
    cards = RateCard.objects.prefetch_related("rates", "bands")
    return RateCardBook(
        [
            LoadedRateCard(
                id=card.pk,
                effective_from=card.effective_from,
                min_play_seconds=card.min_play_seconds,
                cmo_fee_percent=card.cmo_fee_percent,
                rates={r.station_class: r.rate_per_second for r in card.rates.all()},
                bands=tuple(
                    Band(b.name, b.start_minute, b.end_minute, b.multiplier)
                    for b in card.bands.all()
                ),
            )
            for card in cards
        ]
    )


def rate_cards_list() -> QuerySet[RateCard]:
    return RateCard.objects.select_related("created_by").prefetch_related("rates", "bands")


def rate_card_get(*, rate_card_id: int) -> RateCard:
    card = rate_cards_list().filter(pk=rate_card_id).first()
    if card is None:
        raise NotFound("No such rate card.")
    return card


# --- Splits and publishing deals, for many tracks at once -----------------------------------
class SplitBook:
    """The split versions of a set of tracks, loaded in two queries.

    `shares_at(track_id, at)` answers what tracks.selectors.splits_at answers, without
    a query per play.
    """

    def __init__(self, track_ids: Iterable[int]):
        track_ids = list(set(track_ids))
        versions = list(
            SplitVersion.objects.filter(track_id__in=track_ids).values_list(
                "id", "track_id", "effective_from", "number"
            )
        )
        by_track: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
        for version_id, track_id, effective_from, number in versions:
            by_track[track_id].append((effective_from, number, version_id))
        self._versions = {t: sorted(v) for t, v in by_track.items()}
        self._starts = {t: [(e, n) for e, n, _ in v] for t, v in self._versions.items()}
        shares: dict[int, list[SplitShare]] = defaultdict(list)
        rows = (
            TrackSplit.objects.filter(version_id__in=[v[0] for v in versions])
            .order_by("version_id", "-basis_points", "id")
            .values_list(
                "version_id",
                "contributor_id",
                "contributor__name",
                "role",
                "basis_points",
                "contributor__artist_id",
                "contributor__publisher_id",
                "contributor__artist__user_id",
                "contributor__publisher__user_id",
                "contributor__ipi",
                "contributor__artist__ipi_number",
                "contributor__publisher__ipi_number",
            )
        )
        for (
            version_id,
            contributor_id,
            name,
            role,
            bp,
            artist_id,
            publisher_id,
            artist_user,
            publisher_user,
            ipi,
            artist_ipi,
            publisher_ipi,
        ) in rows:
            shares[version_id].append(
                SplitShare(
                    contributor_id=contributor_id,
                    name=name,
                    role=role,
                    basis_points=bp,
                    artist_id=artist_id,
                    publisher_id=publisher_id,
                    user_id=artist_user or publisher_user,
                    ipi=ipi or artist_ipi or publisher_ipi or "",
                )
            )
        self._shares = shares

    def artist_ids(self) -> set[int]:
        return {s.artist_id for v in self._shares.values() for s in v if s.artist_id is not None}

    def version_at(self, track_id: int, at: datetime) -> int | None:
        versions = self._versions.get(track_id)
        if not versions:
            return None
        # Latest effective_from ≤ at, ties broken by the higher version number.
        i = bisect_right(self._starts[track_id], (at, float("inf")))
        return versions[i - 1][2] if i else None

    def shares_at(self, track_id: int, at: datetime) -> list[SplitShare]:
        version_id = self.version_at(track_id, at)
        return list(self._shares.get(version_id, [])) if version_id else []


class DealBook:
    """Publishing deals of a set of artists, loaded in two queries.

    `share_at(artist_id, at)` answers what artists.selectors.active_publisher_share
    answers: the deal whose dates cover the Accra day of `at` and whose status at
    that moment was active (newest start first).
    """

    def __init__(self, artist_ids: Iterable[int]):
        relationships = list(
            PublisherArtistRelationship.objects.filter(
                artist_id__in=set(artist_ids),
                status__in=[
                    RelationshipStatus.ACTIVE,
                    RelationshipStatus.SUSPENDED,
                    RelationshipStatus.TERMINATED,
                ],
            )
            .prefetch_related("status_changes", "publisher")
            .order_by("-start_date", "-id")
        )
        self._by_artist: dict[int, list[PublisherArtistRelationship]] = defaultdict(list)
        for relationship in relationships:
            self._by_artist[relationship.artist_id].append(relationship)

    def share_at(
        self, artist_id: int, at: datetime, *, day: date | None = None
    ) -> tuple[int, int, int | None] | None:
        """(publisher_id, share_bp, publisher's user id) or None. `day` is the Accra
        date of `at`, when the caller has it already."""
        relationships = self._by_artist.get(artist_id)
        if not relationships:
            return None
        day = day or timezone.localtime(at).date()
        for relationship in relationships:
            if relationship.start_date > day:
                continue
            if relationship.end_date is not None and relationship.end_date < day:
                continue
            status_then = None
            for change in relationship.status_changes.all():
                if change.at <= at:
                    status_then = change.status
            if status_then == RelationshipStatus.ACTIVE:
                return (
                    relationship.publisher_id,
                    relationship.share_bp,
                    relationship.publisher.user_id,
                )
        return None


# --- Periods --------------------------------------------------------------------------------
def periods_list() -> QuerySet[RoyaltyPeriod]:
    """Periods are not secret (a month and its status); their totals are shown to staff only."""
    return RoyaltyPeriod.objects.select_related("closed_by", "paid_by")


def period_get(*, period_id: int) -> RoyaltyPeriod:
    period = periods_list().filter(pk=period_id).first()
    if period is None:
        raise NotFound("No such royalty period.")
    return period


def period_by_month(*, month: date) -> RoyaltyPeriod:
    period = periods_list().filter(month=month.replace(day=1)).first()
    if period is None:
        raise NotFound(f"No royalty period for {month:%Y-%m}.")
    return period


# --- What each user may see -------------------------------------------------------------------
def _station_ids(user: User) -> list[int]:
    from stations.selectors import station_ids_for_user

    return list(station_ids_for_user(user=user))


def lines_visible_to(*, user: User) -> QuerySet[RoyaltyLine]:
    """Staff: every line; an artist or publisher: the lines paid to its own account."""
    qs = RoyaltyLine.objects.select_related(
        "period",
        "play_royalty",
        "play_royalty__station",
        "play_royalty__track",
        "contributor",
        "publisher",
    )
    if user.role == Role.ADMIN:
        return qs.all()
    if user.role in (Role.ARTIST, Role.PUBLISHER):
        return qs.filter(user=user)
    return qs.none()


def invoices_visible_to(*, user: User) -> QuerySet[StationInvoice]:
    """Staff: all; a station account: its own station's; anyone else: none."""
    qs = StationInvoice.objects.select_related("period", "station", "paid_by")
    if user.role == Role.ADMIN:
        return qs.all()
    if user.role == Role.STATION:
        return qs.filter(station_id__in=_station_ids(user))
    return qs.none()


def invoice_get(*, user: User, invoice_id: int) -> StationInvoice:
    invoice = invoices_visible_to(user=user).prefetch_related("lines").filter(pk=invoice_id).first()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def reports_visible_to(*, user: User) -> QuerySet[ReportFile]:
    """Staff: all; a payee: its own statements; a station: its own invoices' reports."""
    qs = ReportFile.objects.select_related("period", "invoice", "subject_user", "requested_by")
    if user.role == Role.ADMIN:
        return qs.all()
    if user.role in (Role.ARTIST, Role.PUBLISHER):
        return qs.filter(kind=ReportKind.STATEMENT, subject_user=user)
    if user.role == Role.STATION:
        return qs.filter(kind=ReportKind.INVOICE, invoice__station_id__in=_station_ids(user))
    return qs.none()


def report_get(*, user: User, report_id: int) -> ReportFile:
    report = reports_visible_to(user=user).filter(pk=report_id).first()
    if report is None:
        raise NotFound("No such report.")
    return report


def payee_has_lines(*, user_id: int, period_id: int) -> bool:
    return RoyaltyLine.objects.filter(user_id=user_id, period_id=period_id).exists()


def period_payee_user_ids(*, period_id: int) -> list[int]:
    return list(
        RoyaltyLine.objects.filter(period_id=period_id, user__isnull=False)
        .values_list("user_id", flat=True)
        .distinct()
        .order_by("user_id")
    )
