"""Recounts the airplay rollups (PlayDaily, StationDaily) from PlayLog for a range of days.

    python manage.py rollups_rebuild --from 2025-01-01 --to 2025-03-31
    python manage.py rollups_rebuild --all

For a backfill after importing plays by other means than the tracker, or a repair; the
tracker keeps the rollups current on its own.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from django.utils import timezone

from detections.analytics import rollups_rebuild
from detections.models import PlayLog


class Command(BaseCommand):
    help = "Recount the airplay rollups from PlayLog for a range of days."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat)
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat)
        parser.add_argument("--all", action="store_true", help="Every day that has plays.")

    def handle(self, *args, date_from=None, date_to=None, all=False, **options):
        if all:
            span = PlayLog.objects.aggregate(first=Min("started_at"), last=Max("started_at"))
            if span["first"] is None:
                self.stdout.write("No plays.")
                return
            date_from = timezone.localtime(span["first"]).date()
            date_to = timezone.localtime(span["last"]).date()
        if date_from is None or date_to is None:
            raise CommandError("Give --from and --to, or --all.")
        if date_to < date_from:
            raise CommandError("--to is before --from.")
        total, day = 0, date_from
        while day <= date_to:  # a month at a time: each recount locks the tables briefly
            last = min(date_to, day + timedelta(days=30))
            total += rollups_rebuild(date_from=day, date_to=last)
            day = last + timedelta(days=1)
        self.stdout.write(f"{total} day/station/track rows from {date_from} to {date_to}.")
