"""The royalty arithmetic, free of the database: pricing a play and dividing money exactly.

Rounding rule (stated once, applied once): a play's amount is computed exactly in
`Decimal` (seconds × base rate × band multiplier, summed over the bands the play
crosses) and rounded to the pesewa with ROUND_HALF_UP at the very end. Everything
after that is a division of a whole number of pesewas by largest remainder, so the
parts always add up to the whole to the pesewa: the CMO fee and the contributors'
shares of the play, then a publisher's share of an artist's part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from zoneinfo import ZoneInfo

PESEWA = Decimal("0.01")
TOTAL_BP = 10_000
MINUTES_PER_DAY = 24 * 60
REGULAR_BAND = "regular"
REGULAR_MULTIPLIER = Decimal("1")


@dataclass(frozen=True)
class Band:
    """A time-of-day band in the station's local time: [start_minute, end_minute)."""

    name: str
    start_minute: int
    end_minute: int
    multiplier: Decimal


@dataclass(frozen=True)
class Segment:
    band: str
    multiplier: Decimal
    seconds: Decimal


@dataclass(frozen=True)
class PlayPrice:
    segments: tuple[Segment, ...]
    exact: Decimal  # unrounded
    amount: Decimal  # rounded to the pesewa, ROUND_HALF_UP


def bands_validate(bands: Sequence[Band]) -> list[str]:
    """Problems with a set of bands (empty if fine): bounds, order and overlaps."""
    problems = []
    names = [b.name for b in bands]
    if len(set(names)) != len(names):
        problems.append("Band names must be unique.")
    if REGULAR_BAND in names:
        problems.append(f'"{REGULAR_BAND}" is the name of the time outside every band.')
    for band in bands:
        if not 0 <= band.start_minute < band.end_minute <= MINUTES_PER_DAY:
            problems.append(f"Band {band.name!r} must satisfy 0 ≤ start < end ≤ 1440 minutes.")
        if band.multiplier < 0:
            problems.append(f"Band {band.name!r} has a negative multiplier.")
    ordered = sorted(bands, key=lambda b: b.start_minute)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start_minute < before.end_minute:
            problems.append(f"Bands {before.name!r} and {after.name!r} overlap.")
    return problems


def _band_at(minute_of_day: int, bands: Sequence[Band]) -> Band | None:
    for band in bands:
        if band.start_minute <= minute_of_day < band.end_minute:
            return band
    return None


def _next_edge(minute_of_day: int, bands: Sequence[Band]) -> int:
    """The first band edge strictly after `minute_of_day` (1440 = next midnight)."""
    edges = {MINUTES_PER_DAY}
    for band in bands:
        edges.add(band.start_minute)
        edges.add(band.end_minute)
    return min(e for e in edges if e > minute_of_day)


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def split_into_bands(
    *, started_at: datetime, duration_seconds: Decimal, tz: str, bands: Sequence[Band]
) -> list[Segment]:
    """Cuts [start, start + duration) at every band edge of the station's local day.

    Edges are wall-clock times in `tz`, so a play at 09:58 local with a 10:00 edge is
    cut at 10:00 local whatever the UTC offset. The segments add up exactly to
    `duration_seconds`: the last one takes the remainder. Minutes outside every band
    are "regular" at multiplier 1.
    """
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware.")
    duration = Decimal(duration_seconds)
    if duration <= 0:
        return []
    zone = ZoneInfo(tz)
    cursor = started_at.astimezone(UTC)
    remaining = duration
    merged: list[Segment] = []
    while remaining > 0:
        local = cursor.astimezone(zone)
        minute = local.hour * 60 + local.minute
        band = _band_at(minute, bands)
        edge = _next_edge(minute, bands)
        day = local.date() + timedelta(days=edge // MINUTES_PER_DAY)
        edge_local = datetime.combine(day, time((edge % MINUTES_PER_DAY) // 60, edge % 60))
        edge_utc = edge_local.replace(tzinfo=zone).astimezone(UTC)
        if edge_utc <= cursor:  # a wall-clock edge skipped by a DST jump: step past it
            edge_utc = cursor + timedelta(minutes=1)
        until_edge = _seconds(edge_utc - cursor)
        seconds = min(remaining, until_edge)
        name = band.name if band else REGULAR_BAND
        multiplier = band.multiplier if band else REGULAR_MULTIPLIER
        if merged and merged[-1].band == name and merged[-1].multiplier == multiplier:
            previous = merged.pop()
            seconds_total = previous.seconds + seconds
            merged.append(Segment(band=name, multiplier=multiplier, seconds=seconds_total))
        else:
            merged.append(Segment(band=name, multiplier=multiplier, seconds=seconds))
        remaining -= seconds
        cursor = edge_utc  # only used again when the play runs past this edge
    return merged


def round_money(value: Decimal) -> Decimal:
    return value.quantize(PESEWA, rounding=ROUND_HALF_UP)


def price_play(
    *,
    started_at: datetime,
    duration_seconds: Decimal,
    tz: str,
    rate_per_second: Decimal,
    bands: Sequence[Band],
) -> PlayPrice:
    """duration × base rate × band multiplier, band by band; rounded once at the end."""
    segments = split_into_bands(
        started_at=started_at, duration_seconds=duration_seconds, tz=tz, bands=bands
    )
    with localcontext() as ctx:
        ctx.prec = 50  # far beyond any product of these fields: the sum stays exact
        exact = sum(
            (s.seconds * Decimal(rate_per_second) * s.multiplier for s in segments), Decimal(0)
        )
    return PlayPrice(segments=tuple(segments), exact=exact, amount=round_money(exact))


def largest_remainder(total_cents: int, weights: Sequence[int]) -> list[int]:
    """Divides `total_cents` in proportion to integer `weights`; the parts sum to the total.

    Each part gets the floor of its exact share; the cents left over go one each to
    the parts with the largest remainders (ties to the earlier part, so the result is
    deterministic for a given order). Works for negative totals too (symmetrically).
    """
    if not weights:
        raise ValueError("Nothing to divide among.")
    if any(w < 0 for w in weights):
        raise ValueError("Weights cannot be negative.")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("Weights sum to zero.")
    if total_cents < 0:
        return [-p for p in largest_remainder(-total_cents, weights)]
    floors, remainders = [], []
    for w in weights:
        q, r = divmod(total_cents * w, weight_sum)
        floors.append(q)
        remainders.append(r)
    left = total_cents - sum(floors)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return floors


def to_cents(amount: Decimal) -> int:
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of pesewas.")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(PESEWA)


def percent_to_bp(percent: Decimal) -> int:
    """15.5 % → 1550 bp; refuses finer precision than a hundredth of a percent."""
    bp = Decimal(percent) * 100
    if bp != bp.to_integral_value():
        raise ValueError("A percentage has at most two decimal places.")
    return int(bp)
