"""Sums the existing PlayDaily rows over stations into TrackDaily."""

from django.db import migrations
from django.db.models import Sum


def backfill(apps, schema_editor):
    PlayDaily = apps.get_model("detections", "PlayDaily")
    TrackDaily = apps.get_model("detections", "TrackDaily")
    TrackDaily.objects.bulk_create(
        (
            TrackDaily(day=r["day"], track_id=r["track_id"], plays=r["n"], airtime_seconds=r["s"])
            for r in PlayDaily.objects.values("day", "track_id")
            .annotate(n=Sum("plays"), s=Sum("airtime_seconds"))
            .order_by()
            .iterator(chunk_size=5000)
        ),
        batch_size=5000,
    )


def forget(apps, schema_editor):
    apps.get_model("detections", "TrackDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0013_track_daily")]

    operations = [migrations.RunPython(backfill, forget)]
