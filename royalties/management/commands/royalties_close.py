"""Closes one month: invoices, ledger postings, statements. Safe to re-run."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from royalties import services
from royalties.management.commands.royalties_calculate import parse_month
from zamio.errors import DomainError


class Command(BaseCommand):
    help = "Close the royalty period YYYY-MM (resumes a close that stopped half-way)."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="YYYY-MM")

    def handle(self, *args, period: str, **options):
        month = parse_month(period)
        found = services.period_get_or_create(month=month)
        try:
            closed = services.period_close(period_id=found.pk)
        except DomainError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from exc
        self.stdout.write(
            f"{closed.label}: {closed.status}; {closed.plays_count} plays, gross "
            f"{closed.gross_total}, CMO fee {closed.cmo_fee_total}, payees {closed.payees_total}"
        )
