"""Calculation, periods, closing, adjustments and invoices against PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from artists.selectors import active_publisher_share
from detections.models import PlayLog
from notifications.models import Notification
from royalties import services
from royalties.models import (
    InvoiceStatus,
    PeriodStatus,
    PlayRoyalty,
    RateCard,
    RoyaltyLine,
    RoyaltyPeriod,
    RoyaltyPosting,
    StationInvoice,
)
from royalties.selectors import DealBook, SplitBook
from royalties.tests.factories import (
    StationFactory,
    accra,
    play,
    publishing_deal,
    rate_card,
    splits,
    station_account,
)
from tracks.selectors import splits_at
from users.models import User
from wallets.models import Account, JournalEntry
from wallets.services import account_for_station, account_for_user, platform_account
from zamio.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db


def _lines(play_log) -> dict[tuple[str, str], Decimal]:
    return {
        (line.payee_key, line.role): line.amount
        for line in RoyaltyLine.objects.filter(play=play_log).order_by("id")
    }


def _balance(account: Account) -> Decimal:
    account.refresh_from_db()
    return account.display_balance


def _close(month: date):
    period = services.period_get_or_create(month=month)
    return services.period_close(period_id=period.pk)


# --- Calculation ----------------------------------------------------------------------------
def test_a_verified_play_is_priced_and_split_among_its_contributors(world):
    p = play(world, accra(2025, 3, 5, 12, 0))

    report = services.plays_calculate()

    assert report.calculated == 1 and report.unpriced == []
    row = PlayRoyalty.objects.get(play=p)
    assert (row.kind, row.gross, row.station_class, row.rate_per_second) == (
        "regular",
        Decimal("2.00"),
        "A",
        Decimal("0.010000"),
    )
    assert row.band_seconds == {"regular": "200.00"}
    assert row.period.month == date(2025, 3, 1) and row.period.status == PeriodStatus.OPEN
    assert _lines(p) == {
        ("cmo", "cmo_fee"): Decimal("0.20"),
        (f"contributor:{world.c_kofi.pk}", "performer"): Decimal("0.90"),
        (f"contributor:{world.c_ama.pk}", "composer"): Decimal("0.54"),
        (f"contributor:{world.c_yaw.pk}", "producer"): Decimal("0.36"),
    }
    kofi_line = RoyaltyLine.objects.get(play=p, contributor=world.c_kofi)
    assert kofi_line.user == world.kofi_user
    assert RoyaltyLine.objects.get(play=p, contributor=world.c_yaw).user is None
    p.refresh_from_db()
    assert p.royalty_status == "calculated"


def test_a_play_crossing_into_prime_time_is_priced_per_band(world):
    # 05:59:00 for 120 s: 60 s off-peak (×0.5) + 60 s prime (×1.5) = 0.30 + 0.90.
    p = play(world, accra(2025, 3, 5, 5, 59), seconds="120")

    services.plays_calculate()

    row = PlayRoyalty.objects.get(play=p)
    assert row.band_seconds == {"off_peak": "60.00", "prime_am": "60.00"}
    assert row.gross == Decimal("1.20")


def test_plays_not_verified_or_disputed_or_short_are_not_priced(world):
    skipped = [
        play(world, accra(2025, 3, 5, 12, 0), verification_status="pending_review"),
        play(world, accra(2025, 3, 5, 13, 0), verification_status="disputed"),
        play(world, accra(2025, 3, 5, 14, 0), royalty_status="withheld"),
        play(world, accra(2025, 3, 5, 15, 0), royalty_bearing=False),
        play(world, accra(2025, 3, 5, 16, 0), is_open=True),
    ]

    report = services.plays_calculate()

    assert report.calculated == 0
    assert PlayRoyalty.objects.count() == 0
    assert [PlayLog.objects.get(pk=p.pk).royalty_status for p in skipped] == [
        "pending",
        "pending",
        "withheld",
        "pending",
        "pending",
    ]


def test_a_play_shorter_than_the_rate_card_minimum_carries_no_royalty(world):
    p = play(world, accra(2025, 3, 5, 12, 0), seconds="19.99")

    services.plays_calculate()

    row = PlayRoyalty.objects.get(play=p)
    assert (row.below_minimum, row.gross) == (True, Decimal("0.00"))
    assert RoyaltyLine.objects.filter(play=p).count() == 0


def test_a_rate_change_applies_from_its_effective_date_only(world):
    rate_card(
        effective_from=accra(2025, 3, 15),
        rates={
            **{k: Decimal("0.01") for k in ("B", "C", "community", "online")},
            "A": Decimal("0.02"),
        },
        name="March increase",
    )
    before = play(world, accra(2025, 3, 14, 23, 0))  # regular time
    after = play(world, accra(2025, 3, 15, 0, 0, 0))  # off-peak ×0.5

    services.plays_calculate()

    assert PlayRoyalty.objects.get(play=before).gross == Decimal("2.00")
    assert PlayRoyalty.objects.get(play=before).rate_card == world.card
    assert PlayRoyalty.objects.get(play=after).gross == Decimal("2.00")  # 200 × 0.02 × 0.5
    assert PlayRoyalty.objects.get(play=after).rate_card.name == "March increase"


def test_a_rate_card_cannot_reach_into_a_closed_period(world):
    _close(date(2025, 1, 1))
    cards = RateCard.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        rate_card(effective_from=accra(2025, 1, 20), name="Too late")

    assert "effective_from" in refused.value.details
    assert RateCard.objects.count() == cards


def test_a_backdated_rate_card_reprices_plays_of_the_open_period(world):
    p = play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    rate_card(
        effective_from=accra(2025, 3, 1),
        rates={k: Decimal("0.02") for k in ("A", "B", "C", "community", "online")},
    )

    assert services.plays_recalculate_since(since=accra(2025, 3, 1)) == 1

    assert PlayRoyalty.objects.get(play=p).gross == Decimal("4.00")
    assert sum(_lines(p).values()) == Decimal("4.00")


def test_split_versions_apply_to_plays_by_their_date(world):
    splits(
        world.track,
        [(world.c_kofi, "performer", 10_000)],
        effective_from=accra(2025, 3, 10),
    )
    old = play(world, accra(2025, 3, 9, 12, 0))
    new = play(world, accra(2025, 3, 10, 12, 0))

    services.plays_calculate()

    assert len(_lines(old)) == 4
    assert _lines(new) == {
        ("cmo", "cmo_fee"): Decimal("0.20"),
        (f"contributor:{world.c_kofi.pk}", "performer"): Decimal("1.80"),
    }


def test_a_track_without_splits_keeps_its_net_unallocated(world):
    from tracks.tests.factories import TrackFactory

    bare = TrackFactory(primary_artist=world.kofi)
    p = play(world, accra(2025, 3, 5, 12, 0), track=bare)

    services.plays_calculate()

    assert _lines(p) == {
        ("cmo", "cmo_fee"): Decimal("0.20"),
        ("unallocated", "unallocated"): Decimal("1.80"),
    }


def test_publisher_routing_follows_the_deal_in_force_at_the_play(world):
    publishing_deal(
        world.kofi,
        world.publisher,
        share_bp=2_500,
        active_from=accra(2025, 3, 10),
        terminated_at=accra(2025, 3, 20),
    )
    before = play(world, accra(2025, 3, 9, 12, 0))
    during = play(world, accra(2025, 3, 15, 12, 0))
    after = play(world, accra(2025, 3, 25, 12, 0))

    services.plays_calculate()

    kofi = f"contributor:{world.c_kofi.pk}"
    publisher = f"publisher:{world.publisher.pk}"
    assert _lines(before)[(kofi, "performer")] == Decimal("0.90")
    assert publisher not in {k for k, _ in _lines(before)}
    # Kofi's 0.90 during the deal: 75 % / 25 % is 0.675 / 0.225; the tied remainders give
    # the pesewa to the earlier part, the artist.
    assert _lines(during)[(kofi, "performer")] == Decimal("0.68")
    assert _lines(during)[(publisher, "publisher_share")] == Decimal("0.22")
    assert RoyaltyLine.objects.get(play=during, payee_key=publisher).user == world.publisher.user
    assert sum(_lines(during).values()) == Decimal("2.00")
    assert publisher not in {k for k, _ in _lines(after)}


def test_batched_reads_agree_with_the_catalogue_selectors(world):
    splits(world.track, [(world.c_ama, "composer", 10_000)], effective_from=accra(2025, 3, 10))
    publishing_deal(world.kofi, world.publisher, share_bp=4_000, active_from=accra(2025, 3, 12))
    times = [accra(2023, 1, 1), accra(2025, 3, 9), accra(2025, 3, 10), accra(2025, 3, 12, 1)]
    split_book = SplitBook([world.track.pk])
    deal_book = DealBook([world.kofi.pk])

    for at in times:
        assert split_book.shares_at(world.track.pk, at) == splits_at(track_id=world.track.pk, at=at)
        expected = active_publisher_share(artist_id=world.kofi.pk, at=at)
        got = deal_book.share_at(world.kofi.pk, at)
        assert (got[:2] if got else None) == expected


def test_running_the_calculation_twice_prices_each_play_once(world):
    p = play(world, accra(2025, 3, 5, 12, 0))

    services.plays_calculate()
    again = services.plays_calculate()

    assert again.calculated == 0
    assert PlayRoyalty.objects.filter(play=p).count() == 1
    assert RoyaltyLine.objects.filter(play=p).count() == 4


# --- Closing --------------------------------------------------------------------------------
def test_closing_a_month_invoices_stations_and_credits_each_payee_once(world):
    manager = User.objects.create_user("manager@station.test", "pw-12345678", role="station")
    station_account(world.station, manager)
    plays = [play(world, accra(2025, 3, d, 12, 0)) for d in (3, 4, 5)]
    services.plays_calculate()

    period = _close(date(2025, 3, 1))

    assert period.status == PeriodStatus.CLOSED
    assert (period.plays_count, period.gross_total) == (3, Decimal("6.00"))
    assert (period.cmo_fee_total, period.payees_total) == (Decimal("0.60"), Decimal("5.40"))
    invoice = StationInvoice.objects.get(period=period, station=world.station)
    assert (invoice.plays_count, invoice.airtime_seconds) == (3, Decimal("600.00"))
    assert (invoice.subtotal, invoice.vat_percent, invoice.vat_amount, invoice.total) == (
        Decimal("6.00"),
        Decimal("15.00"),
        Decimal("0.90"),
        Decimal("6.90"),
    )
    assert invoice.status == InvoiceStatus.ISSUED
    assert [(line.title, line.plays_count, line.amount) for line in invoice.lines.all()] == [
        ("Highlife Morning", 3, Decimal("6.00"))
    ]
    assert _balance(account_for_user(user_id=world.kofi_user.pk)) == Decimal("2.70")
    assert _balance(account_for_user(user_id=world.ama_user.pk)) == Decimal("1.62")
    assert _balance(platform_account("unclaimed_royalties")) == Decimal("1.08")
    assert _balance(platform_account("cmo_fee")) == Decimal("0.60")
    assert account_for_station(station_id=world.station.pk).balance == Decimal("6.00")
    assert platform_account("royalty_pool").balance == Decimal("0.00")
    assert {
        (p.royalty_status, p.payment_status)
        for p in PlayLog.objects.filter(pk__in=[x.pk for x in plays])
    } == {("distributed", "charged")}
    assert RoyaltyPeriod.objects.get(month=date(2025, 4, 1)).status == PeriodStatus.OPEN


def test_closing_twice_posts_nothing_twice(world):
    play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    first = _close(date(2025, 3, 1))
    entries = JournalEntry.objects.count()
    kofi_wallet = account_for_user(user_id=world.kofi_user.pk)

    second = services.period_close(period_id=first.pk)

    assert second.status == PeriodStatus.CLOSED
    assert JournalEntry.objects.count() == entries == 5  # station, cmo, kofi, ama, unclaimed
    assert _balance(kofi_wallet) == Decimal("0.90")
    assert RoyaltyPosting.objects.filter(period=first, posted_at__isnull=True).count() == 0


def test_a_close_that_crashed_after_posting_resumes_without_posting_again(world):
    from wallets import services as wallets

    play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    period = services.period_get_or_create(month=date(2025, 3, 1))
    # The first attempt locked the period, planned its postings and posted Kofi's entry,
    # then died before recording it.
    RoyaltyPeriod.objects.filter(pk=period.pk).update(status=PeriodStatus.CLOSING)
    period.refresh_from_db()
    services._issue_invoices(period)
    services._plan_postings(period)
    kofi_posting = RoyaltyPosting.objects.get(period=period, target=f"user:{world.kofi_user.pk}")
    wallets.ledger_post(
        idempotency_key=kofi_posting.idempotency_key,
        memo="first attempt",
        postings=[
            wallets.Posting.debit(platform_account("royalty_pool"), Decimal("0.90")),
            wallets.Posting.credit(account_for_user(user_id=world.kofi_user.pk), Decimal("0.90")),
        ],
    )

    closed = services.period_close(period_id=period.pk)

    assert closed.status == PeriodStatus.CLOSED
    assert JournalEntry.objects.filter(idempotency_key=kofi_posting.idempotency_key).count() == 1
    assert JournalEntry.objects.count() == 5
    assert _balance(account_for_user(user_id=world.kofi_user.pk)) == Decimal("0.90")


def test_a_closed_period_never_changes_and_corrections_land_in_the_next_one(world):
    p = play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    march = _close(date(2025, 3, 1))
    march_lines = list(RoyaltyLine.objects.filter(period=march).values_list("id", "amount"))
    # Found to be wrong after the close: the play is rejected.
    PlayLog.objects.filter(pk=p.pk).update(verification_status="rejected")

    services.play_recalculate(play_id=p.pk)

    assert list(RoyaltyLine.objects.filter(period=march).values_list("id", "amount")) == march_lines
    april = RoyaltyPeriod.objects.get(month=date(2025, 4, 1))
    adjustment = PlayRoyalty.objects.get(play=p, period=april)
    assert (adjustment.kind, adjustment.gross) == ("adjustment", Decimal("-2.00"))
    assert {(line.payee_key, line.amount) for line in RoyaltyLine.objects.filter(period=april)} == {
        ("cmo", Decimal("-0.20")),
        (f"contributor:{world.c_kofi.pk}", Decimal("-0.90")),
        (f"contributor:{world.c_ama.pk}", Decimal("-0.54")),
        (f"contributor:{world.c_yaw.pk}", Decimal("-0.36")),
    }
    # Re-running the correction books nothing more.
    services.play_recalculate(play_id=p.pk)
    assert RoyaltyLine.objects.filter(period=april).count() == 4

    _close(date(2025, 4, 1))

    assert _balance(account_for_user(user_id=world.kofi_user.pk)) == Decimal("0.00")
    assert account_for_station(station_id=world.station.pk).balance == Decimal("0.00")


def test_a_split_correction_after_close_books_only_the_difference(world):
    p = play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    _close(date(2025, 3, 1))
    # The split sheet was wrong: Ama wrote it all. A corrected version back-dated to 2024.
    splits(world.track, [(world.c_ama, "composer", 10_000)], effective_from=accra(2024, 1, 2))

    services.play_recalculate(play_id=p.pk)

    april = RoyaltyPeriod.objects.get(month=date(2025, 4, 1))
    assert {
        (line.payee_key, line.role, line.amount)
        for line in RoyaltyLine.objects.filter(period=april)
    } == {
        (f"contributor:{world.c_kofi.pk}", "performer", Decimal("-0.90")),
        (f"contributor:{world.c_ama.pk}", "composer", Decimal("1.26")),
        (f"contributor:{world.c_yaw.pk}", "producer", Decimal("-0.36")),
    }
    assert PlayRoyalty.objects.get(play=p, period=april).gross == Decimal("0.00")


def test_a_play_verified_after_its_month_closed_joins_the_open_period(world):
    services.plays_calculate()
    _close(date(2025, 3, 1))
    late = play(world, accra(2025, 3, 30, 12, 0))

    services.plays_calculate()

    row = PlayRoyalty.objects.get(play=late)
    assert (row.kind, row.period.month) == ("regular", date(2025, 4, 1))
    assert RoyaltyLine.objects.filter(play=late, period__month=date(2025, 3, 1)).count() == 0


def test_a_play_disputed_before_close_is_withheld_and_joins_the_period_of_its_release(world):
    kept = play(world, accra(2025, 3, 4, 12, 0))
    disputed = play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    PlayLog.objects.filter(pk=disputed.pk).update(
        verification_status="disputed", royalty_status="withheld"
    )

    march = _close(date(2025, 3, 1))

    assert list(PlayRoyalty.objects.filter(period=march).values_list("play_id", flat=True)) == [
        kept.pk
    ]
    assert march.gross_total == Decimal("2.00")
    assert PlayLog.objects.get(pk=disputed.pk).royalty_status == "withheld"

    # Resolved in the play's favour in April: released to pending.
    PlayLog.objects.filter(pk=disputed.pk).update(
        verification_status="verified", royalty_status="pending"
    )
    services.plays_calculate()

    row = PlayRoyalty.objects.get(play=disputed)
    assert (row.kind, row.period.month, row.gross) == ("regular", date(2025, 4, 1), Decimal("2.00"))


def test_a_month_with_plays_no_rate_card_prices_cannot_close(world):
    play(world, accra(2024, 12, 31, 12, 0))  # before the first rate card
    december = services.period_get_or_create(month=date(2024, 12, 1))

    with pytest.raises(Conflict) as refused:
        services.period_close(period_id=december.pk)

    assert refused.value.code == "unpriced_plays"
    december.refresh_from_db()
    assert december.status == PeriodStatus.OPEN
    assert JournalEntry.objects.count() == 0


def test_a_month_that_is_not_over_cannot_close(world):
    current = services.period_get_or_create(month=timezone.localdate().replace(day=1))

    with pytest.raises(Conflict) as refused:
        services.period_close(period_id=current.pk)

    assert refused.value.code == "period_not_over"
    current.refresh_from_db()
    assert current.status == PeriodStatus.OPEN


def test_demo_setting_lets_finance_close_the_current_month_early(world, settings):
    settings.ROYALTIES_ALLOW_EARLY_CLOSE = True
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    aired = play(world, max(timezone.now() - timedelta(hours=1), month_start + timedelta(1)))
    services.plays_calculate()
    current = services.period_get_or_create(month=timezone.localdate().replace(day=1))

    closed = services.period_close(period_id=current.pk)

    assert closed.status == PeriodStatus.CLOSED
    assert PlayRoyalty.objects.get(play=aired).period_id == current.pk
    # A play aired after the early close, in the same month, joins the next period.
    later = play(world, timezone.now() + timedelta(seconds=30))
    services.plays_calculate(until=later.ended_at + timedelta(seconds=1))
    row = PlayRoyalty.objects.get(play=later)
    assert row.period.month > current.month
    assert RoyaltyLine.objects.filter(play=later, period=current).count() == 0


def test_periods_close_in_order(world):
    services.period_get_or_create(month=date(2025, 2, 1))
    april = services.period_get_or_create(month=date(2025, 4, 1))

    with pytest.raises(Conflict) as refused:
        services.period_close(period_id=april.pk)

    assert refused.value.code == "earlier_period_open"


def test_the_scheduled_close_closes_every_finished_month(world):
    play(world, accra(2025, 2, 5, 12, 0))
    play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()

    closed = services.periods_close_due(today=date(2025, 4, 1))

    assert [RoyaltyPeriod.objects.get(pk=pk).label for pk in closed] == ["2025-02", "2025-03"]
    assert RoyaltyPeriod.objects.get(month=date(2025, 4, 1)).status == PeriodStatus.OPEN


def test_stations_and_payees_are_told_once_when_the_period_closes(world):
    manager = User.objects.create_user("m@station.test", "pw-12345678", role="station")
    station_account(world.station, manager)
    play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    period = _close(date(2025, 3, 1))

    sent = services.period_notify_closed(period_id=period.pk)
    again = services.period_notify_closed(period_id=period.pk)

    assert (sent, again) == (3, 0)
    assert set(Notification.objects.values_list("user_id", "kind")) == {
        (world.kofi_user.pk, "royalty_statement_ready"),
        (world.ama_user.pk, "royalty_statement_ready"),
        (manager.pk, "invoice_issued"),
    }


# --- Invoices -------------------------------------------------------------------------------
def test_paying_the_last_invoice_settles_the_receivable_and_marks_the_period_paid(world):
    finance = User.objects.create_user(
        "fin@zamio.test", "pw-12345678", role="admin", staff_role="finance"
    )
    other = StationFactory(station_class="B")
    play(world, accra(2025, 3, 5, 12, 0))
    play(world, accra(2025, 3, 5, 12, 0), station=other)
    services.plays_calculate()
    period = _close(date(2025, 3, 1))
    first, second = StationInvoice.objects.filter(period=period).order_by("station_id")

    services.invoice_mark_paid(actor=finance, invoice_id=first.pk, reference="GCB-001")
    period.refresh_from_db()
    assert period.status == PeriodStatus.CLOSED
    services.invoice_mark_paid(actor=finance, invoice_id=second.pk, reference="MOMO-77")

    period.refresh_from_db()
    assert period.status == PeriodStatus.PAID and period.paid_by == finance
    assert account_for_station(station_id=world.station.pk).balance == Decimal("0.00")
    first.refresh_from_db()
    assert (first.status, first.payment_reference) == ("paid", "GCB-001")


def test_unpaid_invoices_past_their_due_date_become_overdue_and_the_station_is_told(world):
    manager = User.objects.create_user("m2@station.test", "pw-12345678", role="station")
    station_account(world.station, manager)
    play(world, accra(2025, 3, 5, 12, 0))
    services.plays_calculate()
    period = _close(date(2025, 3, 1))
    invoice = StationInvoice.objects.get(period=period)

    assert services.invoices_mark_overdue(today=invoice.due_date) == 0
    assert services.invoices_mark_overdue(today=invoice.due_date + timedelta(days=1)) == 1
    assert services.invoices_mark_overdue(today=invoice.due_date + timedelta(days=2)) == 0

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE
    assert Notification.objects.filter(user=manager, kind="invoice_overdue").count() == 1


def test_an_invoice_total_off_by_one_pesewa_is_refused_by_the_database(world):
    from django.db import IntegrityError, transaction

    play(world, accra(2025, 3, 4, 12, 0))
    _close(date(2025, 3, 1))
    invoice = StationInvoice.objects.get(station=world.station)

    with pytest.raises(IntegrityError), transaction.atomic():
        StationInvoice.objects.filter(pk=invoice.pk).update(total=invoice.total + Decimal("0.01"))

    invoice.refresh_from_db()
    assert invoice.total == invoice.subtotal + invoice.vat_amount
