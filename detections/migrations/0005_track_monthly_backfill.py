"""Sums the existing PlayDaily rows into TrackMonthly."""

from django.db import migrations
from django.db.models import Sum
from django.db.models.functions import TruncMonth


def backfill(apps, schema_editor):
    PlayDaily = apps.get_model("detections", "PlayDaily")
    TrackMonthly = apps.get_model("detections", "TrackMonthly")
    rows = (
        PlayDaily.objects.annotate(month=TruncMonth("day"))
        .values("month", "track_id")
        .annotate(n=Sum("plays"), airtime=Sum("airtime_seconds"))
        .order_by()
    )
    batch = []
    for row in rows.iterator(chunk_size=5000):
        batch.append(
            TrackMonthly(
                month=row["month"],
                track_id=row["track_id"],
                plays=row["n"],
                airtime_seconds=row["airtime"],
            )
        )
        if len(batch) >= 5000:
            TrackMonthly.objects.bulk_create(batch)
            batch = []
    TrackMonthly.objects.bulk_create(batch)


def forget(apps, schema_editor):
    apps.get_model("detections", "TrackMonthly").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0004_track_monthly")]

    operations = [migrations.RunPython(backfill, forget)]
