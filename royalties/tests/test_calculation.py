"""The arithmetic alone: bands, rounding, largest remainder (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from royalties.calculation import (
    Band,
    bands_validate,
    largest_remainder,
    price_play,
    split_into_bands,
)
from royalties.services import SHARE_UNITS_PER_BP, lines_divide
from tracks.selectors import SplitShare

BANDS = (
    Band("off_peak", 0, 360, Decimal("0.5")),
    Band("prime_am", 360, 600, Decimal("1.5")),
    Band("prime_pm", 960, 1200, Decimal("1.5")),
)


def _share(i: int, bp: int, *, artist_id: int | None = None) -> SplitShare:
    return SplitShare(
        contributor_id=i,
        name=f"C{i}",
        role="composer",
        basis_points=bp,
        artist_id=artist_id,
        publisher_id=None,
        user_id=100 + i,
        ipi="",
    )


def test_a_play_crossing_the_end_of_prime_time_is_priced_in_both_bands():
    # 09:58:30 Accra (= UTC) for 180 s: 90 s in prime (×1.5), 90 s regular (×1).
    start = datetime(2025, 3, 3, 9, 58, 30, tzinfo=UTC)

    price = price_play(
        started_at=start,
        duration_seconds=Decimal("180"),
        tz="Africa/Accra",
        rate_per_second=Decimal("0.01"),
        bands=BANDS,
    )

    assert [(s.band, s.seconds) for s in price.segments] == [
        ("prime_am", Decimal("90")),
        ("regular", Decimal("90")),
    ]
    assert price.exact == Decimal("90") * Decimal("0.01") * Decimal("1.5") + Decimal("0.90")
    assert price.amount == Decimal("2.25")


def test_band_edges_are_in_the_station_local_time_not_utc():
    # 08:59 UTC is 09:59 in Lagos (UTC+1): one minute of prime, then regular.
    start = datetime(2025, 3, 3, 8, 59, tzinfo=UTC)

    segments = split_into_bands(
        started_at=start, duration_seconds=Decimal("120"), tz="Africa/Lagos", bands=BANDS
    )

    assert [(s.band, s.seconds) for s in segments] == [
        ("prime_am", Decimal("60")),
        ("regular", Decimal("60")),
    ]


def test_a_play_across_midnight_enters_off_peak_and_segments_sum_to_the_duration():
    start = datetime(2025, 3, 3, 23, 59, 0, 250000, tzinfo=UTC)

    segments = split_into_bands(
        started_at=start, duration_seconds=Decimal("200.55"), tz="Africa/Accra", bands=BANDS
    )

    assert [(s.band, s.seconds) for s in segments] == [
        ("regular", Decimal("59.75")),
        ("off_peak", Decimal("140.80")),
    ]


def test_a_play_spanning_three_bands_counts_each():
    # 05:59 to 10:01 local: 1 min off-peak, 4 h prime, 1 min regular.
    start = datetime(2025, 3, 3, 5, 59, tzinfo=UTC)

    segments = split_into_bands(
        started_at=start, duration_seconds=Decimal(4 * 3600 + 120), tz="Africa/Accra", bands=BANDS
    )

    assert [(s.band, s.seconds) for s in segments] == [
        ("off_peak", Decimal("60")),
        ("prime_am", Decimal("14400")),
        ("regular", Decimal("60")),
    ]


def test_the_play_amount_is_rounded_once_half_up():
    # 1 s × 0.005 = 0.005 exactly: half-up gives 0.01 (half-even would give 0.00).
    price = price_play(
        started_at=datetime(2025, 3, 3, 12, 0, tzinfo=UTC),
        duration_seconds=Decimal("1"),
        tz="Africa/Accra",
        rate_per_second=Decimal("0.005"),
        bands=BANDS,
    )
    assert price.exact == Decimal("0.005")
    assert price.amount == Decimal("0.01")


def test_segments_are_not_rounded_separately():
    # 1 s off-peak (0.0045) + 1 s prime (0.0135): rounded apart 0.00 + 0.01, together 0.02.
    start = datetime(2025, 3, 3, 5, 59, 59, tzinfo=UTC)
    price = price_play(
        started_at=start,
        duration_seconds=Decimal("2"),
        tz="Africa/Accra",
        rate_per_second=Decimal("0.009"),
        bands=BANDS,
    )
    assert price.exact == Decimal("0.0180")
    assert price.amount == Decimal("0.02")


def test_overlapping_or_out_of_range_bands_are_refused():
    problems = bands_validate(
        [Band("a", 0, 400, Decimal(1)), Band("b", 360, 600, Decimal(1)), Band("c", 600, 1500, 1)]
    )
    assert "Bands 'a' and 'b' overlap." in problems
    assert any("'c'" in p and "1440" in p for p in problems)
    assert bands_validate(list(BANDS)) == []


def test_largest_remainder_gives_leftover_cents_to_the_largest_remainders():
    # 100 pesewas in thirds: 33.33… each; one cent left, to the first (ties to earlier).
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    # 10 pesewas as 1/6, 2/6, 3/6 = 1.67, 3.33, 5: 1, 3, 5 floors, the 0.67 gets the cent.
    assert largest_remainder(10, [1, 2, 3]) == [2, 3, 5]
    assert largest_remainder(-100, [1, 1, 1]) == [-34, -33, -33]


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(min_value=-10_000_000, max_value=10_000_000),
    weights=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12).filter(
        lambda w: sum(w) > 0
    ),
)
def test_largest_remainder_parts_always_sum_to_the_whole(total, weights):
    parts = largest_remainder(total, weights)

    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / sum(weights)
        assert abs(Decimal(part) - exact) < 1  # nobody is off by a whole pesewa


@st.composite
def split_sets(draw):
    """Random basis-point splits totalling 10,000 among 1–8 contributors."""
    n = draw(st.integers(min_value=1, max_value=8))
    cuts = sorted(
        draw(st.lists(st.integers(1, 9_999), min_size=n - 1, max_size=n - 1, unique=True))
    )
    edges = [0, *cuts, 10_000]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


@settings(max_examples=300, deadline=None)
@given(
    gross_cents=st.integers(min_value=0, max_value=50_000_000),
    fee_bp=st.integers(min_value=0, max_value=10_000),
    bps=split_sets(),
    deal_bp=st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)),
)
def test_lines_of_a_play_always_sum_exactly_to_its_gross(gross_cents, fee_bp, bps, deal_bp):
    # The first contributor is an artist with (maybe) a publishing deal.
    shares = [_share(i, bp, artist_id=1 if i == 0 else None) for i, bp in enumerate(bps)]

    def deal_for(artist_id):
        return None if deal_bp is None else (7, deal_bp, 77)

    lines = lines_divide(gross_cents=gross_cents, fee_bp=fee_bp, shares=shares, deal_for=deal_for)

    assert sum(line.amount_cents for line in lines) == gross_cents
    assert all(line.amount_cents > 0 for line in lines)
    assert len({(line.payee_key, line.role) for line in lines}) == len(lines)
    fee = sum(line.amount_cents for line in lines if line.payee_key == "cmo")
    assert abs(Decimal(fee) - Decimal(gross_cents) * fee_bp / 10_000) < 1


def test_publisher_routing_takes_its_share_of_the_artist_part_only():
    shares = [_share(0, 6_000, artist_id=1), _share(1, 4_000)]

    lines = lines_divide(
        gross_cents=1_000,
        fee_bp=1_000,
        shares=shares,
        deal_for=lambda artist_id: (9, 2_500, 99) if artist_id == 1 else None,
    )

    amounts = {(line.payee_key, line.role): line.amount_cents for line in lines}
    # 10.00 gross: 1.00 fee, 9.00 net; artist 60 % = 5.40 of which 25 % (1.35) to publisher.
    assert amounts == {
        ("cmo", "cmo_fee"): 100,
        ("contributor:0", "composer"): 405,
        ("publisher:9", "publisher_share"): 135,
        ("contributor:1", "composer"): 360,
    }
    publisher_line = next(line for line in lines if line.payee_key == "publisher:9")
    assert publisher_line.user_id == 99
    assert publisher_line.share_units == 1350 * SHARE_UNITS_PER_BP  # 90 % × 60 % × 25 %


def test_a_play_without_splits_keeps_its_net_unallocated():
    lines = lines_divide(gross_cents=999, fee_bp=1_500, shares=[], deal_for=lambda a: None)
    assert [(line.payee_key, line.amount_cents) for line in lines] == [
        ("cmo", 150),
        ("unallocated", 849),
    ]


@pytest.mark.parametrize("gross", [0])
def test_a_free_play_has_no_lines(gross):
    assert (
        lines_divide(
            gross_cents=gross, fee_bp=1000, shares=[_share(0, 10_000)], deal_for=lambda a: None
        )
        == []
    )
