"""Every write of royalties: rate cards, play calculation, period close, invoices, reports.

For other apps:

    plays_calculate(*, until=None, batch_size=None) -> CalculationReport
        prices verified, royalty-bearing, pending plays (Beat runs it every few minutes)
    play_recalculate(*, play_id) -> PlayRoyalty | None
        re-prices one play after a correction (dispute resolved, play rejected, ...):
        replaces its lines in an open period, or books the difference as an adjustment
        in the open period when its period is already closed
    period_close(*, period_id, actor=None) -> RoyaltyPeriod

The flow of a play: pending → calculated (lines in an open period) → distributed
(its period closed and posted to the ledger); payment status charged once invoiced.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from royalties.calculation import (
    TOTAL_BP,
    Band,
    bands_validate,
    from_cents,
    largest_remainder,
    percent_to_bp,
    price_play,
    round_money,
    to_cents,
)
from royalties.models import (
    LOCKED_PERIOD_STATUSES,
    CalculationKind,
    InvoiceStatus,
    LineRole,
    PayeeType,
    PeriodStatus,
    PlayRoyalty,
    PostingKind,
    RateCard,
    RateCardBand,
    RateCardRate,
    ReportFile,
    ReportFormat,
    ReportKind,
    ReportStatus,
    RoyaltyLine,
    RoyaltyPeriod,
    RoyaltyPosting,
    StationInvoice,
    StationInvoiceLine,
)
from royalties.selectors import DealBook, RateCardBook, SplitBook, rate_card_book
from tracks.selectors import SplitShare
from users.models import Role, StaffRole, User
from users.services import audit_record
from zamio.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from zamio.tasks import enqueue_on_commit

logger = logging.getLogger("royalties")

# Plays before this instant are never looked at (the platform did not exist).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
STATUS_UPDATE_CHUNK = 10_000


def _require_finance(actor: User | None) -> None:
    if actor is None:
        return  # the scheduler and management commands act as the system
    if actor.role != Role.ADMIN or actor.staff_role not in (
        StaffRole.FINANCE,
        StaffRole.SUPERADMIN,
    ):
        raise Forbidden("Only finance staff can do this.")


def _chunks(items: Sequence[int], size: int = STATUS_UPDATE_CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


# --- Months and periods ---------------------------------------------------------------------
def month_of(at: datetime) -> date:
    """The first day of the platform-time-zone month `at` falls in."""
    return timezone.localtime(at).date().replace(day=1)


def month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    zone = timezone.get_default_timezone()
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    after = month_after(month)
    return start, datetime(after.year, after.month, 1, tzinfo=zone)


def period_get_or_create(*, month: date) -> RoyaltyPeriod:
    """The period of `month`, created open if it does not exist yet."""
    month = month.replace(day=1)
    starts_at, ends_at = month_bounds(month)
    period, _ = RoyaltyPeriod.objects.get_or_create(
        month=month, defaults={"starts_at": starts_at, "ends_at": ends_at}
    )
    return period


class _PeriodResolver:
    """Which open period a play's money lands in: its own month's while that is open,
    otherwise the earliest open period after it (late plays, released disputes)."""

    def __init__(self) -> None:
        self._by_month: dict[date, RoyaltyPeriod] = {}

    def reset(self) -> None:
        self._by_month.clear()

    def for_time(self, at: datetime) -> RoyaltyPeriod:
        month = month_of(at)
        while True:
            period = self._by_month.get(month)
            if period is None:
                period = period_get_or_create(month=month)
                self._by_month[month] = period
            if period.status == PeriodStatus.OPEN:
                return period
            month = month_after(month)

    def earliest_open(self) -> RoyaltyPeriod:
        """The current open period (the one corrections land in)."""
        first = RoyaltyPeriod.objects.filter(status=PeriodStatus.OPEN).order_by("month").first()
        if first is not None:
            return self.for_time(first.starts_at)
        return self.for_time(timezone.now())

    def lock(self, periods: Iterable[RoyaltyPeriod]) -> bool:
        """Locks the periods against a concurrent close (FOR NO KEY UPDATE, in id order);
        False if one of them stopped being open since it was read."""
        ids = sorted({p.pk for p in periods})
        if not ids:
            return True
        statuses = dict(
            RoyaltyPeriod.objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status")
        )
        return all(statuses.get(pk) == PeriodStatus.OPEN for pk in ids)


# --- Rate cards -----------------------------------------------------------------------------
def _latest_locked_end() -> datetime | None:
    locked = (
        RoyaltyPeriod.objects.filter(status__in=LOCKED_PERIOD_STATUSES).order_by("-month").first()
    )
    return locked.ends_at if locked else None


@transaction.atomic
def rate_card_create(
    *,
    actor: User | None,
    name: str,
    effective_from: datetime,
    cmo_fee_percent: Decimal,
    min_play_seconds: Decimal,
    rates: dict[str, Decimal],
    bands: Sequence[dict[str, Any]],
    note: str = "",
) -> RateCard:
    """Creates a rate card in force from `effective_from`; audits it. If that date has
    passed, plays of open periods from then on are re-priced (queued on commit)."""
    from stations.models import StationClass

    _require_finance(actor)
    errors: dict[str, list[str]] = {}
    if timezone.is_naive(effective_from):
        errors["effective_from"] = ["Give a time zone (or a date, read as Accra midnight)."]
    else:
        locked_end = _latest_locked_end()
        if locked_end is not None and effective_from < locked_end:
            errors["effective_from"] = [
                f"Periods up to {timezone.localtime(locked_end):%Y-%m-%d} are closed; "
                "a rate card cannot change them."
            ]
        if RateCard.objects.filter(effective_from=effective_from).exists():
            errors["effective_from"] = ["Another rate card starts at this exact time."]
    missing = sorted(set(StationClass.values) - set(rates))
    unknown = sorted(set(rates) - set(StationClass.values))
    if missing:
        errors["rates"] = [f"A base rate is required for every station class; missing {missing}."]
    if unknown:
        errors.setdefault("rates", []).append(f"Unknown station classes {unknown}.")
    if any(Decimal(v) < 0 for v in rates.values()):
        errors.setdefault("rates", []).append("Rates cannot be negative.")
    if not Decimal(0) <= Decimal(cmo_fee_percent) <= Decimal(100):
        errors["cmo_fee_percent"] = ["Between 0 and 100."]
    else:
        try:
            percent_to_bp(Decimal(cmo_fee_percent))
        except ValueError as exc:
            errors["cmo_fee_percent"] = [str(exc)]
    if Decimal(min_play_seconds) < 0:
        errors["min_play_seconds"] = ["Cannot be negative."]
    band_objects = [
        Band(b["name"], int(b["start_minute"]), int(b["end_minute"]), Decimal(b["multiplier"]))
        for b in bands
    ]
    band_problems = bands_validate(band_objects)
    if band_problems:
        errors["bands"] = band_problems
    if errors:
        raise ValidationFailed("The rate card is not valid.", details=errors)

    card = RateCard.objects.create(
        name=name,
        effective_from=effective_from,
        cmo_fee_percent=cmo_fee_percent,
        min_play_seconds=min_play_seconds,
        note=note,
        created_by=actor,
    )
    RateCardRate.objects.bulk_create(
        RateCardRate(rate_card=card, station_class=k, rate_per_second=Decimal(v))
        for k, v in sorted(rates.items())
    )
    RateCardBand.objects.bulk_create(
        RateCardBand(
            rate_card=card,
            name=b.name,
            start_minute=b.start_minute,
            end_minute=b.end_minute,
            multiplier=b.multiplier,
        )
        for b in band_objects
    )
    audit_record(
        actor=actor,
        action="royalties.rate_card_create",
        target=card,
        after={
            "name": name,
            "effective_from": effective_from.isoformat(),
            "cmo_fee_percent": str(cmo_fee_percent),
            "min_play_seconds": str(min_play_seconds),
            "rates": {k: str(v) for k, v in rates.items()},
            "bands": [
                {
                    "name": b.name,
                    "start_minute": b.start_minute,
                    "end_minute": b.end_minute,
                    "multiplier": str(b.multiplier),
                }
                for b in band_objects
            ],
        },
    )
    if effective_from <= timezone.now():
        enqueue_on_commit("royalties.recalculate_since", since=effective_from.isoformat())
    return card


@transaction.atomic
def rate_card_delete(*, actor: User, rate_card_id: int) -> None:
    """Deletes a rate card that is not in force yet (a mistake caught in time); audited."""
    _require_finance(actor)
    card = RateCard.objects.select_for_update().filter(pk=rate_card_id).first()
    if card is None:
        raise NotFound("No such rate card.")
    if card.effective_from <= timezone.now():
        raise Conflict(
            "A rate card in force cannot be deleted; create a new one instead.",
            code="rate_card_in_force",
        )
    audit_record(
        actor=actor,
        action="royalties.rate_card_delete",
        target=card,
        before={"name": card.name, "effective_from": card.effective_from.isoformat()},
    )
    card.delete()


# --- Pricing one play -----------------------------------------------------------------------
# A line's effective share of the play's gross, in 1/10^8 of a basis point: exact
# integers through the two divisions (fee/contributors, artist/publisher).
SHARE_UNITS_PER_BP = 10**8


@dataclass(slots=True)
class LinePlan:
    payee_key: str
    payee_type: str
    role: str
    amount_cents: int
    share_units: int
    contributor_id: int | None = None
    publisher_id: int | None = None
    user_id: int | None = None


@dataclass(slots=True)
class PlayPlan:
    play_id: int
    station_id: int
    track_id: int
    played_at: datetime
    duration_seconds: Decimal
    rate_card_id: int
    station_class: str
    rate_per_second: Decimal
    band_seconds: dict[str, str]
    below_minimum: bool
    gross_cents: int
    lines: list[LinePlan]


def lines_divide(
    *,
    gross_cents: int,
    fee_bp: int,
    shares: Sequence[SplitShare],
    deal_for: Any,
) -> list[LinePlan]:
    """Divides a play's gross (pesewas) into the CMO fee and the payees' parts.

    One largest-remainder division over [fee, share₁ … shareₙ] weighted in basis
    points, then, for an artist with a publishing deal, a second one of that
    artist's part into [artist, publisher]. Lines of one payee in one role are
    merged, zero lines dropped; the lines always sum to `gross_cents` exactly.
    `deal_for(artist_id) -> (publisher_id, share_bp, publisher_user_id) | None`.
    """
    if gross_cents == 0:
        return []
    net_bp = TOTAL_BP - fee_bp
    cmo = LinePlan("cmo", PayeeType.CMO, LineRole.CMO_FEE, 0, fee_bp * SHARE_UNITS_PER_BP)
    if not shares:
        # Aired without splits on file: the net waits unallocated (as unclaimed money).
        fee, rest = largest_remainder(gross_cents, [fee_bp, net_bp])
        cmo.amount_cents = fee
        plans = [
            cmo,
            LinePlan(
                "unallocated",
                PayeeType.UNALLOCATED,
                LineRole.UNALLOCATED,
                rest,
                net_bp * SHARE_UNITS_PER_BP,
            ),
        ]
    else:
        weights = [fee_bp * TOTAL_BP] + [net_bp * s.basis_points for s in shares]
        parts = largest_remainder(gross_cents, weights)
        cmo.amount_cents = parts[0]
        plans = [cmo]
        for share, amount in zip(shares, parts[1:], strict=True):
            effective = net_bp * share.basis_points * TOTAL_BP  # share units
            if share.publisher_id is not None:
                key, payee_type = f"publisher:{share.publisher_id}", PayeeType.PUBLISHER
            else:
                key, payee_type = f"contributor:{share.contributor_id}", PayeeType.CONTRIBUTOR
            deal = deal_for(share.artist_id) if share.artist_id is not None else None
            own = LinePlan(
                key,
                payee_type,
                share.role,
                amount,
                effective,
                contributor_id=share.contributor_id,
                publisher_id=share.publisher_id,
                user_id=share.user_id,
            )
            plans.append(own)
            if deal is not None and deal[1] > 0:
                publisher_id, deal_bp, publisher_user_id = deal
                artist_part, publisher_part = largest_remainder(
                    amount, [TOTAL_BP - deal_bp, deal_bp]
                )
                own.amount_cents = artist_part
                own.share_units = net_bp * share.basis_points * (TOTAL_BP - deal_bp)
                plans.append(
                    LinePlan(
                        f"publisher:{publisher_id}",
                        PayeeType.PUBLISHER,
                        LineRole.PUBLISHER_SHARE,
                        publisher_part,
                        net_bp * share.basis_points * deal_bp,
                        publisher_id=publisher_id,
                        user_id=publisher_user_id,
                    )
                )
    merged: dict[tuple[str, str], LinePlan] = {}
    for plan in plans:
        existing = merged.get((plan.payee_key, plan.role))
        if existing is None:
            merged[(plan.payee_key, plan.role)] = plan
        else:
            existing.amount_cents += plan.amount_cents
            existing.share_units += plan.share_units
    return [p for p in merged.values() if p.amount_cents != 0]


class PlayFacts(NamedTuple):
    """What pricing reads of a PlayLog (read as plain values: no model instances)."""

    pk: int
    station_id: int
    track_id: int
    started_at: datetime
    duration_seconds: Decimal
    station_class: str
    station_timezone: str


PLAY_FACT_FIELDS = (
    "pk",
    "station_id",
    "track_id",
    "started_at",
    "duration_seconds",
    "station__station_class",
    "station__timezone",
)


def _plan_play(
    play: PlayFacts, *, book: RateCardBook, splits: SplitBook, deals: DealBook
) -> PlayPlan | None:
    """The price and lines of a play, or None when no rate card prices it."""
    card = book.card_at(play.started_at)
    if card is None or play.station_class not in card.rates:
        return None
    rate = card.rates[play.station_class]
    duration = Decimal(play.duration_seconds)
    below_minimum = duration < card.min_play_seconds
    if below_minimum:
        price = None
        gross_cents, band_seconds = 0, {}
    else:
        price = price_play(
            started_at=play.started_at,
            duration_seconds=duration,
            tz=play.station_timezone or settings.TIME_ZONE,
            rate_per_second=rate,
            bands=card.bands,
        )
        gross_cents = to_cents(price.amount)
        # Shown to 1/100 s; the price above used the exact seconds.
        band_seconds = {s.band: str(s.seconds.quantize(Decimal("0.01"))) for s in price.segments}
    shares = splits.shares_at(play.track_id, play.started_at)
    day = timezone.localtime(play.started_at).date()
    lines = lines_divide(
        gross_cents=gross_cents,
        fee_bp=percent_to_bp(card.cmo_fee_percent),
        shares=shares,
        deal_for=lambda artist_id: deals.share_at(artist_id, play.started_at, day=day),
    )
    return PlayPlan(
        play_id=play.pk,
        station_id=play.station_id,
        track_id=play.track_id,
        played_at=play.started_at,
        duration_seconds=duration,
        rate_card_id=card.id,
        station_class=play.station_class,
        rate_per_second=rate,
        band_seconds=band_seconds,
        below_minimum=below_minimum,
        gross_cents=gross_cents,
        lines=lines,
    )


def _play_royalty_row(plan: PlayPlan, *, period: RoyaltyPeriod, kind: str) -> PlayRoyalty:
    return PlayRoyalty(
        play_id=plan.play_id,
        period=period,
        kind=kind,
        station_id=plan.station_id,
        track_id=plan.track_id,
        played_at=plan.played_at,
        duration_seconds=plan.duration_seconds,
        rate_card_id=plan.rate_card_id,
        station_class=plan.station_class,
        rate_per_second=plan.rate_per_second,
        band_seconds=plan.band_seconds,
        below_minimum=plan.below_minimum,
        gross=from_cents(plan.gross_cents),
    )


def _share_bp(units: int) -> Decimal:
    return (Decimal(units) / SHARE_UNITS_PER_BP).quantize(Decimal("0.0001"))


_LINE_COLUMNS = (
    "play_royalty_id",
    "play_id",
    "period_id",
    "kind",
    "payee_key",
    "payee_type",
    "contributor_id",
    "publisher_id",
    "user_id",
    "role",
    "share_bp",
    "amount",
)


class RowHead(NamedTuple):
    """The PlayRoyalty fields its lines repeat."""

    id: int
    play_id: int
    period_id: int
    kind: str


def _head(row: PlayRoyalty) -> RowHead:
    return RowHead(row.pk, row.play_id, row.period_id, row.kind)


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL COPY ... FROM STDIN (CSV; None is written as \\N, the NULL marker)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for r in rows:
        writer.writerow([r"\N" if v is None else v for v in r])
    with (
        connection.cursor() as cursor,
        cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        ) as copy,
    ):
        copy.write(buffer.getvalue())


def _lines_insert(pairs: Iterable[tuple[RowHead, Iterable[LinePlan]]]) -> int:
    """Writes the lines of saved PlayRoyalty rows; returns how many.

    On PostgreSQL one COPY per call: a month holds millions of lines, and building a
    model instance and an INSERT parameter list for each is most of the cost of
    pricing a play. Other databases (the SQLite demo) get bulk_create.
    """
    rows = [
        (
            *head,
            line.payee_key,
            line.payee_type,
            line.contributor_id,
            line.publisher_id,
            line.user_id,
            line.role,
            _share_bp(line.share_units),
            from_cents(line.amount_cents),
        )
        for head, lines in pairs
        for line in lines
    ]
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        RoyaltyLine.objects.bulk_create(
            [RoyaltyLine(**dict(zip(_LINE_COLUMNS, r, strict=True))) for r in rows],
            batch_size=2000,
        )
        return len(rows)
    _copy(RoyaltyLine._meta.db_table, _LINE_COLUMNS, rows)
    return len(rows)


_ROYALTY_COLUMNS = (
    "play_id",
    "period_id",
    "kind",
    "station_id",
    "track_id",
    "played_at",
    "duration_seconds",
    "rate_card_id",
    "station_class",
    "rate_per_second",
    "band_seconds",
    "below_minimum",
    "gross",
    "reason",
    "created_at",
)


def _regular_rows_insert(plans: Sequence[PlayPlan], periods: dict[int, RoyaltyPeriod]) -> list:
    """Writes the regular PlayRoyalty rows of fresh plays; returns their RowHeads in order.
    COPY on PostgreSQL (then one query for the new ids), bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        rows = [
            _play_royalty_row(p, period=periods[p.play_id], kind=CalculationKind.REGULAR)
            for p in plans
        ]
        PlayRoyalty.objects.bulk_create(rows, batch_size=2000)
        return [_head(row) for row in rows]
    now = timezone.now()
    _copy(
        PlayRoyalty._meta.db_table,
        _ROYALTY_COLUMNS,
        (
            (
                p.play_id,
                periods[p.play_id].pk,
                CalculationKind.REGULAR,
                p.station_id,
                p.track_id,
                p.played_at.isoformat(),
                p.duration_seconds,
                p.rate_card_id,
                p.station_class,
                p.rate_per_second,
                json.dumps(p.band_seconds),
                p.below_minimum,
                from_cents(p.gross_cents),
                "",
                now.isoformat(),
            )
            for p in plans
        ),
    )
    ids = dict(
        PlayRoyalty.objects.filter(
            play_id__in=[p.play_id for p in plans], kind=CalculationKind.REGULAR
        ).values_list("play_id", "id")
    )
    return [
        RowHead(ids[p.play_id], p.play_id, periods[p.play_id].pk, CalculationKind.REGULAR)
        for p in plans
    ]


# --- Calculating plays ----------------------------------------------------------------------
@dataclass
class CalculationReport:
    calculated: int = 0
    adjusted: int = 0
    unpriced: list[int] = field(default_factory=list)
    batches: int = 0


def _eligible_plays(*, start: datetime, end: datetime):
    from detections.selectors import plays_for_royalties

    return plays_for_royalties(start=start, end=end)


def _set_royalty_status(play_ids: Sequence[int], status: str) -> None:
    from detections.services import plays_set_royalty_status

    for chunk in _chunks(play_ids):
        plays_set_royalty_status(play_ids=chunk, status=status)


def _set_payment_status(play_ids: Sequence[int], status: str) -> None:
    from detections.services import plays_set_payment_status

    for chunk in _chunks(play_ids):
        plays_set_payment_status(play_ids=chunk, status=status)


def _reprice_with_history(
    plan: PlayPlan | None,
    *,
    play_id: int,
    resolver: _PeriodResolver,
    closing: RoyaltyPeriod | None = None,
) -> tuple[PlayRoyalty | None, str]:
    """Applies a play's new price given what was already booked for it.

    Rows in open periods (and in `closing`, the period a close is finishing) are
    replaced; rows in locked periods stay, and the difference between the new lines and
    everything locked is booked as an adjustment in the current open period (or in
    `closing`). Returns (new row or None, "regular" | "adjustment" | "none").
    """
    existing = list(
        PlayRoyalty.objects.filter(play_id=play_id).select_related("period").order_by("id")
    )

    def replaceable(row: PlayRoyalty) -> bool:
        return row.period.status == PeriodStatus.OPEN or (
            closing is not None and row.period_id == closing.pk
        )

    for row in existing:
        if replaceable(row):
            row.delete()  # its lines go with it (cascade)
    fixed = [row for row in existing if not replaceable(row)]
    if not fixed:
        if plan is None:
            return None, "none"
        period = resolver.for_time(plan.played_at)
        row = _play_royalty_row(plan, period=period, kind=CalculationKind.REGULAR)
        row.save()
        _lines_insert([(_head(row), plan.lines)])
        return row, CalculationKind.REGULAR

    booked: dict[tuple[str, str], LinePlan] = {}
    for line in RoyaltyLine.objects.filter(play_royalty__in=fixed).order_by("id"):
        key = (line.payee_key, line.role)
        plan_line = booked.get(key)
        if plan_line is None:
            booked[key] = LinePlan(
                line.payee_key,
                line.payee_type,
                line.role,
                to_cents(line.amount),
                int(line.share_bp * SHARE_UNITS_PER_BP),
                contributor_id=line.contributor_id,
                publisher_id=line.publisher_id,
                user_id=line.user_id,
            )
        else:
            plan_line.amount_cents += to_cents(line.amount)
    booked_gross = sum(to_cents(row.gross) for row in fixed)
    target = {(p.payee_key, p.role): p for p in (plan.lines if plan else [])}
    deltas: list[LinePlan] = []
    for key in sorted(set(booked) | set(target)):
        new, old = target.get(key), booked.get(key)
        diff = (new.amount_cents if new else 0) - (old.amount_cents if old else 0)
        if diff:
            template = new or old
            deltas.append(
                LinePlan(
                    template.payee_key,
                    template.payee_type,
                    template.role,
                    diff,
                    (new.share_units if new else 0),
                    contributor_id=template.contributor_id,
                    publisher_id=template.publisher_id,
                    user_id=template.user_id,
                )
            )
    gross_diff = (plan.gross_cents if plan else 0) - booked_gross
    if not deltas and gross_diff == 0:
        return None, "none"
    period = closing or resolver.earliest_open()
    base = plan or PlayPlan(
        play_id=play_id,
        station_id=fixed[0].station_id,
        track_id=fixed[0].track_id,
        played_at=fixed[0].played_at,
        duration_seconds=Decimal(0),
        rate_card_id=fixed[-1].rate_card_id,
        station_class=fixed[-1].station_class,
        rate_per_second=fixed[-1].rate_per_second,
        band_seconds={},
        below_minimum=False,
        gross_cents=0,
        lines=[],
    )
    row = _play_royalty_row(base, period=period, kind=CalculationKind.ADJUSTMENT)
    row.gross = from_cents(gross_diff)
    row.duration_seconds = Decimal(0)  # the airtime was counted with the regular row
    row.reason = "Re-priced after its period closed." if plan else "Play withdrawn."
    row.save()
    _lines_insert([(_head(row), deltas)])
    return row, CalculationKind.ADJUSTMENT


def _calculate_batch(
    plays: list, *, book: RateCardBook, resolver: _PeriodResolver, report: CalculationReport
) -> list[int]:
    """Prices a batch of plays inside the caller's transaction; returns the priced ids."""
    splits = SplitBook(p.track_id for p in plays)
    deals = DealBook(splits.artist_ids())
    plans = []
    for play in plays:
        plan = _plan_play(play, book=book, splits=splits, deals=deals)
        if plan is None:
            report.unpriced.append(play.pk)
        else:
            plans.append(plan)
    if not plans:
        return []
    with_history = set(
        PlayRoyalty.objects.filter(play_id__in=[p.play_id for p in plans]).values_list(
            "play_id", flat=True
        )
    )
    for _attempt in range(3):
        targets = {p.play_id: resolver.for_time(p.played_at) for p in plans}
        current = resolver.earliest_open() if with_history else None
        if resolver.lock([*targets.values(), *([current] if current else [])]):
            break
        resolver.reset()  # a period started closing meanwhile: resolve again
    else:
        raise Conflict("Royalty periods kept changing; try again.", code="periods_changing")

    fresh = []
    for plan in plans:
        if plan.play_id in with_history:
            _row, kind = _reprice_with_history(plan, play_id=plan.play_id, resolver=resolver)
            if kind == CalculationKind.ADJUSTMENT:
                report.adjusted += 1
        else:
            fresh.append(plan)
    heads = _regular_rows_insert(fresh, targets)
    _lines_insert(zip(heads, (p.lines for p in fresh), strict=True))
    priced = [p.play_id for p in plans]
    _set_royalty_status(priced, "calculated")
    report.calculated += len(priced)
    return priced


def plays_calculate(
    *, until: datetime | None = None, batch_size: int | None = None
) -> CalculationReport:
    """Prices every verified, royalty-bearing, pending play that started before `until`
    (default: now): writes PlayRoyalty + RoyaltyLine rows in open periods and marks the
    plays calculated. Batches commit one by one; rows locked by another run are skipped.
    Plays no rate card covers stay pending and are listed in `unpriced`."""
    batch_size = batch_size or settings.ROYALTIES_CALC_BATCH_SIZE
    end = until or timezone.now()
    book = rate_card_book()
    resolver = _PeriodResolver()
    report = CalculationReport()
    last_id = 0
    while True:
        with transaction.atomic():
            plays = [
                PlayFacts(*row)
                for row in _eligible_plays(start=EPOCH, end=end)
                .filter(pk__gt=last_id)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list(*PLAY_FACT_FIELDS)[:batch_size]
            ]
            if not plays:
                break
            last_id = plays[-1].pk
            _calculate_batch(plays, book=book, resolver=resolver, report=report)
            report.batches += 1
    if report.unpriced:
        logger.warning(
            "%d plays have no rate card for their time or station class (first: %s)",
            len(report.unpriced),
            report.unpriced[:5],
        )
    return report


def play_recalculate(*, play_id: int) -> PlayRoyalty | None:
    """Re-prices one play after a change (verification, dispute, duration, splits).

    An eligible play gets its current price; an ineligible one (disputed, withheld,
    rejected, no longer royalty-bearing) is priced at nothing. Rows in open periods are
    replaced; a locked period's rows stay and the difference is booked as an adjustment
    in the open period. Marks an eligible play calculated.
    """
    from detections.models import PlayLog

    with transaction.atomic():
        play = (
            PlayLog.objects.select_for_update(of=("self",))
            .select_related("station", "track")
            .filter(pk=play_id)
            .first()
        )
        if play is None:
            raise NotFound("No such play.")
        eligible = (
            play.verification_status == "verified"
            and play.royalty_bearing
            and play.royalty_status not in ("withheld",)
        )
        resolver = _PeriodResolver()
        plan = None
        if eligible:
            splits = SplitBook([play.track_id])
            deals = DealBook(
                s.artist_id
                for s in splits.shares_at(play.track_id, play.started_at)
                if s.artist_id is not None
            )
            facts = PlayFacts(
                play.pk,
                play.station_id,
                play.track_id,
                play.started_at,
                play.duration_seconds,
                play.station.station_class,
                play.station.timezone,
            )
            plan = _plan_play(facts, book=rate_card_book(), splits=splits, deals=deals)
            if plan is None:
                raise Conflict(
                    "No rate card prices this play (its time or its station class).",
                    code="unpriced_play",
                )
        for _attempt in range(3):
            targets = [resolver.earliest_open()]
            if plan is not None:
                targets.append(resolver.for_time(plan.played_at))
            if resolver.lock(targets):
                break
            resolver.reset()
        row, _kind = _reprice_with_history(plan, play_id=play.pk, resolver=resolver)
        if eligible:
            _set_royalty_status([play.pk], "calculated")
        return row


def plays_recalculate_since(*, since: datetime) -> int:
    """Re-prices the plays of open periods that started at or after `since` (a new
    rate card reached back to them). Returns how many plays were re-priced."""
    play_ids = list(
        PlayRoyalty.objects.filter(
            period__status=PeriodStatus.OPEN,
            kind=CalculationKind.REGULAR,
            played_at__gte=since,
        )
        .order_by("play_id")
        .values_list("play_id", flat=True)
    )
    for play_id in play_ids:
        play_recalculate(play_id=play_id)
    return len(play_ids)


# --- Closing a period -----------------------------------------------------------------------
def _period_locked(period_id: int) -> RoyaltyPeriod:
    period = RoyaltyPeriod.objects.select_for_update().filter(pk=period_id).first()
    if period is None:
        raise NotFound("No such royalty period.")
    return period


def _drop_ineligible(period: RoyaltyPeriod) -> int:
    """Takes out of a closing period the plays disputed, withheld or rejected since they
    were priced: they rejoin the open period in which they are released. A play already
    paid in an earlier period keeps (or gets) the reversal of that payment here."""
    rows = PlayRoyalty.objects.filter(period=period).filter(
        Q(play__royalty_status="withheld")
        | ~Q(play__verification_status="verified")
        | Q(play__royalty_bearing=False)
    )
    regular = list(rows.filter(kind=CalculationKind.REGULAR).values_list("id", flat=True))
    if regular:
        RoyaltyLine.objects.filter(play_royalty_id__in=regular).delete()
        PlayRoyalty.objects.filter(pk__in=regular).delete()
    adjusted = list(rows.filter(kind=CalculationKind.ADJUSTMENT).values_list("play_id", flat=True))
    resolver = _PeriodResolver()
    for play_id in adjusted:
        _reprice_with_history(None, play_id=play_id, resolver=resolver, closing=period)
    return len(regular) + len(adjusted)


def _invoice_number(period: RoyaltyPeriod, station_id: int) -> str:
    return f"{settings.ROYALTIES_INVOICE_PREFIX}-{period.month:%Y%m}-{station_id:05d}"


def _issue_invoices(period: RoyaltyPeriod) -> list[StationInvoice]:
    """One invoice per station with priced plays or adjustments in the period."""
    if StationInvoice.objects.filter(period=period).exists():
        return list(StationInvoice.objects.filter(period=period))
    counted = Q(kind=CalculationKind.REGULAR, below_minimum=False)
    per_track = (
        PlayRoyalty.objects.filter(period=period)
        .values("station_id", "track_id", "track__title", "track__primary_artist__stage_name")
        .annotate(
            plays=Count("id", filter=counted),
            airtime=Sum("duration_seconds", filter=counted),
            amount=Sum("gross"),
        )
        .order_by("station_id", "track__title", "track_id")
    )
    by_station: dict[int, list[dict]] = defaultdict(list)
    for row in per_track:
        if row["plays"] or row["amount"]:
            by_station[row["station_id"]].append(row)
    now = timezone.now()
    vat_percent = settings.ROYALTIES_VAT_PERCENT
    due = timezone.localdate(now) + timedelta(days=settings.ROYALTIES_INVOICE_DUE_DAYS)
    invoices, lines = [], []
    for station_id, rows in sorted(by_station.items()):
        subtotal = sum((r["amount"] for r in rows), Decimal("0.00"))
        vat = round_money(subtotal * vat_percent / 100)
        invoice = StationInvoice(
            period=period,
            station_id=station_id,
            number=_invoice_number(period, station_id),
            # Nothing to pay (only free plays or credits): it is settled as issued.
            status=InvoiceStatus.ISSUED if subtotal > 0 else InvoiceStatus.PAID,
            paid_at=None if subtotal > 0 else now,
            issued_at=now,
            due_date=due,
            plays_count=sum(r["plays"] for r in rows),
            airtime_seconds=sum((r["airtime"] or Decimal(0) for r in rows), Decimal("0.00")),
            subtotal=subtotal,
            vat_percent=vat_percent,
            vat_amount=vat,
            total=subtotal + vat,
        )
        invoices.append(invoice)
        lines.append(rows)
    StationInvoice.objects.bulk_create(invoices)
    StationInvoiceLine.objects.bulk_create(
        [
            StationInvoiceLine(
                invoice=invoice,
                track_id=r["track_id"],
                title=r["track__title"][:300],
                artist=(r["track__primary_artist__stage_name"] or "")[:200],
                plays_count=r["plays"],
                airtime_seconds=r["airtime"] or Decimal("0.00"),
                amount=r["amount"],
            )
            for invoice, rows in zip(invoices, lines, strict=True)
            for r in rows
        ],
        batch_size=5000,
    )
    return invoices


def _posting_key(period: RoyaltyPeriod, target: str) -> str:
    return f"royalties:{period.label}:{target}"


def _plan_postings(period: RoyaltyPeriod) -> None:
    """Writes the period's RoyaltyPosting rows once; they fix every idempotency key."""
    if RoyaltyPosting.objects.filter(period=period).exists():
        return
    plans: list[RoyaltyPosting] = []
    for invoice in StationInvoice.objects.filter(period=period).order_by("station_id"):
        if invoice.subtotal:
            plans.append(
                RoyaltyPosting(
                    period=period,
                    kind=PostingKind.STATION_CHARGE,
                    target=f"station:{invoice.station_id}",
                    station_id=invoice.station_id,
                    amount=invoice.subtotal,
                    lines_count=invoice.plays_count,
                )
            )
    totals = (
        RoyaltyLine.objects.filter(period=period)
        .values("payee_type", "user_id")
        .annotate(amount=Sum("amount"), lines=Count("id"))
        .order_by("payee_type", "user_id")
    )
    unclaimed, unclaimed_lines = Decimal("0.00"), 0
    for row in totals:
        if row["payee_type"] == PayeeType.CMO:
            if row["amount"]:
                plans.append(
                    RoyaltyPosting(
                        period=period,
                        kind=PostingKind.CMO_FEE,
                        target="cmo",
                        amount=row["amount"],
                        lines_count=row["lines"],
                    )
                )
        elif row["user_id"] is None:
            unclaimed += row["amount"]
            unclaimed_lines += row["lines"]
        else:
            plans.append(
                RoyaltyPosting(
                    period=period,
                    kind=PostingKind.PAYEE,
                    target=f"user:{row['user_id']}",
                    user_id=row["user_id"],
                    amount=row["amount"],
                    lines_count=row["lines"],
                )
            )
    if unclaimed:
        plans.append(
            RoyaltyPosting(
                period=period,
                kind=PostingKind.UNCLAIMED,
                target="unclaimed",
                amount=unclaimed,
                lines_count=unclaimed_lines,
            )
        )
    # A user paid in two payee types (artist and publisher) gets one posting.
    merged: dict[str, RoyaltyPosting] = {}
    for plan in plans:
        if plan.target in merged:
            merged[plan.target].amount += plan.amount
            merged[plan.target].lines_count += plan.lines_count
        else:
            plan.idempotency_key = _posting_key(period, plan.target)
            merged[plan.target] = plan
    charged = sum(
        (p.amount for p in merged.values() if p.kind == PostingKind.STATION_CHARGE), Decimal(0)
    )
    paid_out = sum(
        (p.amount for p in merged.values() if p.kind != PostingKind.STATION_CHARGE), Decimal(0)
    )
    if charged != paid_out:
        raise Conflict(
            "The period's lines do not add up to its invoices.",
            details={"invoiced": str(charged), "lines": str(paid_out)},
            code="period_unbalanced",
        )
    RoyaltyPosting.objects.bulk_create(
        [p for p in merged.values() if p.amount != 0], batch_size=2000
    )


def _post(posting: RoyaltyPosting, *, period: RoyaltyPeriod, accounts: dict) -> int:
    from wallets import services as wallets

    pool = accounts["pool"]
    if posting.kind == PostingKind.STATION_CHARGE:
        entries = [
            wallets.Posting.debit(
                wallets.account_for_station(station_id=posting.station_id), posting.amount
            ),
            wallets.Posting.credit(pool, posting.amount),
        ]
    else:
        if posting.kind == PostingKind.PAYEE:
            target = wallets.account_for_user(user_id=posting.user_id)
        elif posting.kind == PostingKind.CMO_FEE:
            target = accounts["cmo"]
        else:
            target = accounts["unclaimed"]
        entries = [
            wallets.Posting.debit(pool, posting.amount),
            wallets.Posting.credit(target, posting.amount),
        ]
    entry = wallets.ledger_post(
        idempotency_key=posting.idempotency_key,
        memo=f"Royalties {period.label}: {posting.get_kind_display()} ({posting.target})",
        postings=entries,
        reference_type="royalty_posting",
        reference_id=posting.pk,
    )
    return entry.pk


def _post_all(period: RoyaltyPeriod) -> int:
    """Posts every planned entry not posted yet, each in its own transaction."""
    from wallets import services as wallets

    accounts = {
        "pool": wallets.platform_account("royalty_pool"),
        "cmo": wallets.platform_account("cmo_fee"),
        "unclaimed": wallets.platform_account("unclaimed_royalties"),
    }
    posted = 0
    # Station charges first, so the pool is funded before it pays out.
    order = {PostingKind.STATION_CHARGE: 0, PostingKind.CMO_FEE: 1}
    pending = sorted(
        RoyaltyPosting.objects.filter(period=period, posted_at__isnull=True),
        key=lambda p: (order.get(p.kind, 2), p.target),
    )
    for posting in pending:
        with transaction.atomic():
            entry_id = _post(posting, period=period, accounts=accounts)
            RoyaltyPosting.objects.filter(pk=posting.pk).update(
                journal_entry_id=entry_id, posted_at=timezone.now()
            )
        posted += 1
    return posted


def period_close(*, period_id: int, actor: User | None = None) -> RoyaltyPeriod:
    """Closes a month: prices what is still pending, locks the period (closing), drops
    plays disputed since, issues station invoices, posts each payee's, station's, CMO's
    and unclaimed total to the ledger once (fixed idempotency keys), marks the plays
    distributed and charged, and queues notifications. Safe to re-run: a close that
    stopped half-way resumes, and a closed period is returned unchanged."""
    _require_finance(actor)
    period = RoyaltyPeriod.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFound("No such royalty period.")
    if period.status in (PeriodStatus.CLOSED, PeriodStatus.PAID):
        return period
    if period.status == PeriodStatus.OPEN:
        if timezone.now() < period.ends_at and not settings.ROYALTIES_ALLOW_EARLY_CLOSE:
            raise Conflict(
                f"{period.label} is not over yet; it can be closed from "
                f"{timezone.localtime(period.ends_at):%Y-%m-%d %H:%M}.",
                code="period_not_over",
            )
        if RoyaltyPeriod.objects.filter(
            month__lt=period.month, status__in=[PeriodStatus.OPEN, PeriodStatus.CLOSING]
        ).exists():
            raise Conflict("Close the earlier periods first.", code="earlier_period_open")
        report = plays_calculate(until=period.ends_at)
        if report.unpriced:
            raise Conflict(
                f"{len(report.unpriced)} plays have no rate card for their time or station "
                "class; add one before closing.",
                details={"play_ids": report.unpriced[:50]},
                code="unpriced_plays",
            )
        with transaction.atomic():
            period = _period_locked(period_id)
            if period.status == PeriodStatus.OPEN:
                period.status = PeriodStatus.CLOSING
                period.close_started_at = timezone.now()
                period.save(update_fields=["status", "close_started_at", "updated_at"])
                period_get_or_create(month=month_after(period.month))
                audit_record(
                    actor=actor,
                    action="royalties.period_close",
                    target=period,
                    before={"status": PeriodStatus.OPEN},
                    after={"status": PeriodStatus.CLOSING},
                )
    if period.status != PeriodStatus.CLOSING:
        return period

    with transaction.atomic():
        period = _period_locked(period_id)
        if not RoyaltyPosting.objects.filter(period=period).exists():
            _drop_ineligible(period)
            _issue_invoices(period)
            _plan_postings(period)
    _post_all(period)

    with transaction.atomic():
        period = _period_locked(period_id)
        if period.status != PeriodStatus.CLOSING:
            return period
        play_ids = list(
            PlayRoyalty.objects.filter(period=period)
            .order_by("play_id")
            .values_list("play_id", flat=True)
            .distinct()
        )
        _set_royalty_status(play_ids, "distributed")
        charged = list(
            PlayRoyalty.objects.filter(
                period=period, kind=CalculationKind.REGULAR, below_minimum=False
            )
            .order_by("play_id")
            .values_list("play_id", flat=True)
        )
        _set_payment_status(charged, "charged")
        sums = RoyaltyLine.objects.filter(period=period).aggregate(
            cmo=Sum("amount", filter=Q(payee_type=PayeeType.CMO)),
            payees=Sum("amount", filter=~Q(payee_type=PayeeType.CMO)),
        )
        period.plays_count = PlayRoyalty.objects.filter(
            period=period, kind=CalculationKind.REGULAR
        ).count()
        period.gross_total = PlayRoyalty.objects.filter(period=period).aggregate(s=Sum("gross"))[
            "s"
        ] or Decimal("0.00")
        period.cmo_fee_total = sums["cmo"] or Decimal("0.00")
        period.payees_total = sums["payees"] or Decimal("0.00")
        period.status = PeriodStatus.CLOSED
        period.closed_at = timezone.now()
        period.closed_by = actor
        period.save()
        audit_record(
            actor=actor,
            action="royalties.period_closed",
            target=period,
            before={"status": PeriodStatus.CLOSING},
            after={
                "status": PeriodStatus.CLOSED,
                "plays_count": period.plays_count,
                "gross_total": str(period.gross_total),
                "cmo_fee_total": str(period.cmo_fee_total),
                "payees_total": str(period.payees_total),
            },
        )
        enqueue_on_commit("royalties.notify_period_closed", period_id=period.pk)
    return period


def period_close_request(*, actor: User, period_id: int) -> RoyaltyPeriod:
    """Checks a close can start and queues it (royalties.close_period) on commit; audited.
    A large month takes minutes, so the API does not close inline."""
    _require_finance(actor)
    period = RoyaltyPeriod.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFound("No such royalty period.")
    if period.status in (PeriodStatus.CLOSED, PeriodStatus.PAID):
        raise InvalidTransition(f"{period.label} is already {period.status}.")
    if period.status == PeriodStatus.OPEN:
        if timezone.now() < period.ends_at and not settings.ROYALTIES_ALLOW_EARLY_CLOSE:
            raise Conflict(f"{period.label} is not over yet.", code="period_not_over")
        if RoyaltyPeriod.objects.filter(
            month__lt=period.month, status__in=[PeriodStatus.OPEN, PeriodStatus.CLOSING]
        ).exists():
            raise Conflict("Close the earlier periods first.", code="earlier_period_open")
    with transaction.atomic():
        audit_record(actor=actor, action="royalties.period_close_requested", target=period)
        enqueue_on_commit("royalties.close_period", period_id=period.pk, actor_id=actor.pk)
    return period


def period_notify_closed(*, period_id: int) -> int:
    """Tells each payee its statement is ready and each station its invoice is issued.
    Runs once per period (guarded by `notified_at`); returns the notifications sent."""
    from notifications.services import notify
    from stations.selectors import station_staff_users

    with transaction.atomic():
        period = RoyaltyPeriod.objects.select_for_update().filter(pk=period_id).first()
        if period is None or period.status not in (PeriodStatus.CLOSED, PeriodStatus.PAID):
            return 0
        if period.notified_at is not None:
            return 0
        sent = 0
        for user in User.objects.filter(
            pk__in=RoyaltyLine.objects.filter(period=period, user__isnull=False).values("user_id")
        ).order_by("pk"):
            notify(
                user=user,
                kind="royalty_statement_ready",
                title=f"Your royalty statement for {period.label} is ready",
                body=f"The royalties you earned from airplay in {period.label} are in your "
                "wallet. Download your statement from the royalties page.",
                link=f"/royalties/periods/{period.pk}/statement",
            )
            sent += 1
        for invoice in StationInvoice.objects.filter(period=period, status=InvoiceStatus.ISSUED):
            for user in station_staff_users(station_id=invoice.station_id):
                notify(
                    user=user,
                    kind="invoice_issued",
                    title=f"Invoice {invoice.number} for {period.label}",
                    body=f"ZamIO issued invoice {invoice.number}: GHS {invoice.total} for "
                    f"{invoice.plays_count} plays, due {invoice.due_date:%Y-%m-%d}.",
                    link=f"/royalties/invoices/{invoice.pk}",
                )
                sent += 1
        period.notified_at = timezone.now()
        period.save(update_fields=["notified_at", "updated_at"])
    return sent


def periods_close_due(*, today: date | None = None) -> list[int]:
    """Closes every open period whose month is over (the scheduled close on the 1st)."""
    today = today or timezone.localdate()
    closed = []
    for period_id in (
        RoyaltyPeriod.objects.filter(
            status__in=[PeriodStatus.OPEN, PeriodStatus.CLOSING], month__lt=today.replace(day=1)
        )
        .order_by("month")
        .values_list("pk", flat=True)
    ):
        period_close(period_id=period_id)
        closed.append(period_id)
    period_get_or_create(month=today.replace(day=1))
    return closed


@transaction.atomic
def period_mark_paid(*, actor: User, period_id: int) -> RoyaltyPeriod:
    """closed → paid once every station invoice of the period is paid; audited."""
    _require_finance(actor)
    period = _period_locked(period_id)
    if period.status != PeriodStatus.CLOSED:
        raise InvalidTransition(f"A {period.status} period cannot be marked paid.")
    unpaid = StationInvoice.objects.filter(period=period).exclude(status=InvoiceStatus.PAID)
    if unpaid.exists():
        raise Conflict(
            "Some station invoices of this period are not paid yet.",
            details={"unpaid_invoices": list(unpaid.values_list("number", flat=True)[:50])},
            code="invoices_unpaid",
        )
    period.status = PeriodStatus.PAID
    period.paid_at = timezone.now()
    period.paid_by = actor
    period.save(update_fields=["status", "paid_at", "paid_by", "updated_at"])
    audit_record(
        actor=actor,
        action="royalties.period_paid",
        target=period,
        before={"status": PeriodStatus.CLOSED},
        after={"status": PeriodStatus.PAID},
    )
    return period


# --- Invoices -------------------------------------------------------------------------------
@transaction.atomic
def invoice_mark_paid(*, actor: User, invoice_id: int, reference: str) -> StationInvoice:
    """Records a station's payment: the receivable is settled in the ledger (once, by
    key) and, when it was the last unpaid invoice of a closed period, the period is paid."""
    from wallets import services as wallets

    _require_finance(actor)
    invoice = StationInvoice.objects.select_for_update().filter(pk=invoice_id).first()
    if invoice is None:
        raise NotFound("No such invoice.")
    if invoice.status == InvoiceStatus.PAID:
        raise InvalidTransition("This invoice is already paid.")
    reference = (reference or "").strip()
    if not reference:
        raise ValidationFailed(
            "A payment reference is required.", details={"reference": ["Required."]}
        )
    before = {"status": invoice.status}
    if invoice.subtotal:
        wallets.ledger_post(
            idempotency_key=f"royalties:invoice:{invoice.pk}:paid",
            memo=f"Payment of invoice {invoice.number} ({reference})"[:255],
            postings=[
                wallets.Posting.debit(
                    wallets.platform_account("provider_settlement:station_collections"),
                    invoice.subtotal,
                ),
                wallets.Posting.credit(
                    wallets.account_for_station(station_id=invoice.station_id), invoice.subtotal
                ),
            ],
            reference_type="station_invoice",
            reference_id=invoice.pk,
            actor=actor,
        )
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = timezone.now()
    invoice.paid_by = actor
    invoice.payment_reference = reference[:100]
    invoice.save(update_fields=["status", "paid_at", "paid_by", "payment_reference", "updated_at"])
    audit_record(
        actor=actor,
        action="royalties.invoice_paid",
        target=invoice,
        before=before,
        after={"status": InvoiceStatus.PAID, "reference": invoice.payment_reference},
    )
    period = RoyaltyPeriod.objects.select_for_update().get(pk=invoice.period_id)
    if (
        period.status == PeriodStatus.CLOSED
        and not StationInvoice.objects.filter(period=period)
        .exclude(status=InvoiceStatus.PAID)
        .exists()
    ):
        period_mark_paid(actor=actor, period_id=period.pk)
    return invoice


def invoices_mark_overdue(*, today: date | None = None) -> int:
    """issued → overdue once past the due date; notifies the station's staff once."""
    from notifications.services import notify
    from stations.selectors import station_staff_users

    today = today or timezone.localdate()
    count = 0
    for invoice_id in StationInvoice.objects.filter(
        status=InvoiceStatus.ISSUED, due_date__lt=today
    ).values_list("pk", flat=True):
        with transaction.atomic():
            invoice = (
                StationInvoice.objects.select_for_update()
                .filter(pk=invoice_id, status=InvoiceStatus.ISSUED)
                .first()
            )
            if invoice is None:  # paid meanwhile
                continue
            invoice.status = InvoiceStatus.OVERDUE
            invoice.overdue_notified_at = timezone.now()
            invoice.save(update_fields=["status", "overdue_notified_at", "updated_at"])
            for user in station_staff_users(station_id=invoice.station_id):
                notify(
                    user=user,
                    kind="invoice_overdue",
                    title=f"Invoice {invoice.number} is overdue",
                    body=f"Invoice {invoice.number} (GHS {invoice.total}) was due on "
                    f"{invoice.due_date:%Y-%m-%d}. Please pay it or contact ZamIO finance.",
                    link=f"/royalties/invoices/{invoice.pk}",
                )
            count += 1
    return count


# --- Reports --------------------------------------------------------------------------------
def report_request(
    *,
    actor: User,
    kind: str,
    format: str,
    period_id: int,
    subject_user_id: int | None = None,
    invoice_id: int | None = None,
) -> ReportFile:
    """Creates a report row and queues its generation on commit. For a closed period a
    ready copy of the same report is returned instead (its content cannot change)."""
    from royalties import selectors

    if kind not in ReportKind.values:
        raise ValidationFailed(
            "Unknown report kind.", details={"kind": [f"One of {ReportKind.values}."]}
        )
    if format not in ReportFormat.values:
        raise ValidationFailed("Unknown format.", details={"format": ["csv or pdf."]})
    period = selectors.period_get(period_id=period_id)
    is_staff = actor.role == Role.ADMIN
    invoice = None
    if kind == ReportKind.STATEMENT:
        if subject_user_id is None or not is_staff:
            if actor.role not in (Role.ARTIST, Role.PUBLISHER) and not is_staff:
                raise Forbidden("Statements are for artists and publishers.")
            if subject_user_id not in (None, actor.pk):
                raise NotFound("No such payee.")
            subject_user_id = actor.pk
        if not User.objects.filter(pk=subject_user_id).exists():
            raise NotFound("No such payee.")
    elif kind == ReportKind.INVOICE:
        if invoice_id is None:
            raise ValidationFailed("Which invoice?", details={"invoice": ["Required."]})
        invoice = selectors.invoice_get(user=actor, invoice_id=invoice_id)
        if invoice.period_id != period.pk:
            raise ValidationFailed(
                "The invoice belongs to another period.", details={"invoice": ["Wrong period."]}
            )
        subject_user_id = None
    else:
        if not is_staff:
            raise Forbidden("Period summaries and CMO exports are for staff.")
        subject_user_id = None
    closed = period.status in (PeriodStatus.CLOSED, PeriodStatus.PAID)
    with transaction.atomic():
        if closed:
            ready = ReportFile.objects.filter(
                kind=kind,
                format=format,
                period=period,
                subject_user_id=subject_user_id,
                invoice=invoice,
                status=ReportStatus.READY,
                period_was_closed=True,
            ).first()
            if ready is not None:
                return ready
        report = ReportFile.objects.create(
            kind=kind,
            format=format,
            period=period,
            subject_user_id=subject_user_id,
            invoice=invoice,
            requested_by=actor,
        )
        enqueue_on_commit("royalties.generate_report", report_id=report.pk)
    return report


def report_generate(*, report_id: int) -> ReportFile | None:
    """Renders a requested report into private storage and marks it ready (or failed).
    A report already ready is left as it is."""
    from royalties import reports

    report = (
        ReportFile.objects.select_related("period", "invoice", "subject_user")
        .filter(pk=report_id)
        .first()
    )
    if report is None or report.status == ReportStatus.READY:
        return report
    period_was_closed = report.period.status in (PeriodStatus.CLOSED, PeriodStatus.PAID)
    try:
        content, filename = reports.render(report)
    except Exception as exc:
        logger.exception("report %s failed", report_id)
        ReportFile.objects.filter(pk=report_id).update(
            status=ReportStatus.FAILED, error=str(exc)[:2000], updated_at=timezone.now()
        )
        raise
    with transaction.atomic():
        report = ReportFile.objects.select_for_update().get(pk=report_id)
        if report.status == ReportStatus.READY:
            return report
        report.file.save(filename, ContentFile(content), save=False)
        report.filename = filename
        report.size = len(content)
        report.sha256 = hashlib.sha256(content).hexdigest()
        report.status = ReportStatus.READY
        report.error = ""
        report.period_was_closed = period_was_closed
        report.generated_at = timezone.now()
        report.save()
    return report
