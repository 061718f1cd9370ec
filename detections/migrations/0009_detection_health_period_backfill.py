"""Counts the platform's health per day, week and month from the DetectionHealthDaily rows
written before DetectionHealthPeriod existed."""

from django.db import migrations
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncMonth, TruncWeek


def backfill(apps, schema_editor):
    Daily = apps.get_model("detections", "DetectionHealthDaily")
    Period = apps.get_model("detections", "DetectionHealthPeriod")
    for kind, period in (
        ("day", F("day")),
        ("week", TruncWeek("day")),
        ("month", TruncMonth("day")),
    ):
        counts = (
            Daily.objects.annotate(period=period)
            .values("period")
            .annotate(
                w=Sum("windows"),
                m=Sum("matched"),
                lc=Sum("low_confidence"),
                f=Sum("failed"),
                s=Count("station_id", distinct=True),
            )
            .order_by()
        )
        Period.objects.bulk_create(
            (
                Period(
                    kind=kind,
                    start=row["period"],
                    windows=row["w"],
                    matched=row["m"],
                    low_confidence=row["lc"],
                    failed=row["f"],
                    stations=row["s"],
                )
                for row in counts.iterator()
            ),
            batch_size=2000,
        )


def forget(apps, schema_editor):
    apps.get_model("detections", "DetectionHealthPeriod").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0008_detection_health_period")]

    operations = [migrations.RunPython(backfill, forget)]
