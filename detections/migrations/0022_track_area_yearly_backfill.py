"""Sums the existing TrackAreaMonthly rows over the months of each year into TrackAreaYearly."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import migrations


def backfill(apps, schema_editor):
    TrackAreaMonthly = apps.get_model("detections", "TrackAreaMonthly")
    TrackAreaYearly = apps.get_model("detections", "TrackAreaYearly")
    years: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    rows = TrackAreaMonthly.objects.values_list(
        "month", "region", "station_class", "track_id", "plays", "airtime_seconds"
    )
    for month, region, cls, track_id, plays, airtime in rows.order_by().iterator(chunk_size=5000):
        total = years[(date(month.year, 1, 1), region, cls, track_id)]
        total[0] += plays
        total[1] += airtime
    TrackAreaYearly.objects.bulk_create(
        (
            TrackAreaYearly(
                year=year,
                region=region,
                station_class=cls,
                track_id=track_id,
                plays=plays,
                airtime_seconds=airtime,
            )
            for (year, region, cls, track_id), (plays, airtime) in years.items()
            if plays > 0
        ),
        batch_size=5000,
    )


def forget(apps, schema_editor):
    apps.get_model("detections", "TrackAreaYearly").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0021_track_area_yearly")]

    operations = [migrations.RunPython(backfill, forget)]
