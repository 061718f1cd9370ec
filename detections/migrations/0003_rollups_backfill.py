"""Counts the plays logged before the rollups existed into PlayDaily and StationDaily."""

from collections import defaultdict
from decimal import Decimal

from django.db import migrations
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate


def backfill(apps, schema_editor):
    PlayLog = apps.get_model("detections", "PlayLog")
    PlayDaily = apps.get_model("detections", "PlayDaily")
    StationDaily = apps.get_model("detections", "StationDaily")
    rows = (
        PlayLog.objects.exclude(verification_status="rejected")
        .annotate(day=TruncDate("started_at"))
        .values("day", "station_id", "track_id")
        .annotate(n=Count("id"), airtime=Sum("duration_seconds"))
        .order_by()
    )
    per_station = defaultdict(lambda: [0, Decimal(0)])
    batch = []
    for row in rows.iterator(chunk_size=5000):
        batch.append(
            PlayDaily(
                day=row["day"],
                station_id=row["station_id"],
                track_id=row["track_id"],
                plays=row["n"],
                airtime_seconds=row["airtime"],
            )
        )
        per_station[(row["day"], row["station_id"])][0] += row["n"]
        per_station[(row["day"], row["station_id"])][1] += row["airtime"]
        if len(batch) >= 5000:
            PlayDaily.objects.bulk_create(batch)
            batch = []
    PlayDaily.objects.bulk_create(batch)
    StationDaily.objects.bulk_create(
        [
            StationDaily(day=day, station_id=station_id, plays=n, airtime_seconds=airtime)
            for (day, station_id), (n, airtime) in per_station.items()
        ],
        batch_size=5000,
    )


def forget(apps, schema_editor):
    apps.get_model("detections", "PlayDaily").objects.all().delete()
    apps.get_model("detections", "StationDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0002_disputes_rollups")]

    operations = [migrations.RunPython(backfill, forget)]
