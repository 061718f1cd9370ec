"""Sums the existing TrackMonthly rows over the months of each year into TrackYearly."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import migrations


def backfill(apps, schema_editor):
    TrackMonthly = apps.get_model("detections", "TrackMonthly")
    TrackYearly = apps.get_model("detections", "TrackYearly")
    years: dict[tuple[date, int], list] = defaultdict(lambda: [0, Decimal(0)])
    rows = TrackMonthly.objects.values_list("month", "track_id", "plays", "airtime_seconds")
    for month, track_id, plays, airtime in rows.order_by().iterator(chunk_size=5000):
        total = years[(date(month.year, 1, 1), track_id)]
        total[0] += plays
        total[1] += airtime
    TrackYearly.objects.bulk_create(
        (
            TrackYearly(year=year, track_id=track_id, plays=plays, airtime_seconds=airtime)
            for (year, track_id), (plays, airtime) in years.items()
            if plays > 0
        ),
        batch_size=5000,
    )


def forget(apps, schema_editor):
    apps.get_model("detections", "TrackYearly").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0017_track_yearly")]

    operations = [migrations.RunPython(backfill, forget)]
