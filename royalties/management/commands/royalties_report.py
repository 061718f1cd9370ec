"""Writes a period's reports to a folder: the summary, the CMO export, every station
invoice and every payee statement, in CSV or PDF."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from royalties import reports, selectors
from royalties.management.commands.royalties_calculate import parse_month
from royalties.models import ReportFile, ReportKind, StationInvoice
from users.models import User
from zamio.errors import NotFound


class Command(BaseCommand):
    help = "Write the reports of period YYYY-MM into --out (nothing is stored in the database)."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--format", required=True, choices=["csv", "pdf"])
        parser.add_argument("--out", required=True, help="Folder to write into (created).")

    def handle(self, *args, period: str, format: str, out: str, **options):
        try:
            found = selectors.period_by_month(month=parse_month(period))
        except NotFound as exc:
            raise CommandError(exc.message) from exc
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        # Unsaved rows: render() only reads their fields.
        jobs = [
            ReportFile(kind=ReportKind.SUMMARY, format=format, period=found),
            ReportFile(kind=ReportKind.CMO_EXPORT, format=format, period=found),
        ]
        for invoice in StationInvoice.objects.filter(period=found).order_by("number"):
            jobs.append(
                ReportFile(kind=ReportKind.INVOICE, format=format, period=found, invoice=invoice)
            )
        for user in User.objects.filter(
            pk__in=selectors.period_payee_user_ids(period_id=found.pk)
        ).order_by("pk"):
            jobs.append(
                ReportFile(
                    kind=ReportKind.STATEMENT, format=format, period=found, subject_user=user
                )
            )
        for job in jobs:
            content, filename = reports.render(job)
            (folder / filename).write_bytes(content)
        self.stdout.write(f"wrote {len(jobs)} {format} files to {folder}")
