"""Prices verified plays now (a backfill, or the Beat task run by hand)."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from royalties import services


def parse_month(value: str) -> date:
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise CommandError(f"--period must look like YYYY-MM, not {value!r}.") from None


class Command(BaseCommand):
    help = "Price every verified, royalty-bearing, pending play (up to the end of --period)."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="YYYY-MM: only plays that started before its end.")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, period=None, batch_size=None, **options):
        until = None
        if period:
            _start, until = services.month_bounds(parse_month(period))
        report = services.plays_calculate(until=until, batch_size=batch_size)
        self.stdout.write(
            f"calculated {report.calculated} plays in {report.batches} batches; "
            f"{report.adjusted} adjusted; {len(report.unpriced)} without a rate card"
        )
        if report.unpriced:
            self.stderr.write(f"unpriced play ids (first 20): {report.unpriced[:20]}")
