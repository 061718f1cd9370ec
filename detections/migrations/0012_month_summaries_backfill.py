"""Sums the existing day rows into StationMonthly and TrackAreaMonthly, recording each
station's region and class in StationArea as they are now."""

from django.db import migrations
from django.db.models import Sum
from django.db.models.functions import TruncMonth


def backfill(apps, schema_editor):
    PlayDaily = apps.get_model("detections", "PlayDaily")
    StationDaily = apps.get_model("detections", "StationDaily")
    StationArea = apps.get_model("detections", "StationArea")
    StationMonthly = apps.get_model("detections", "StationMonthly")
    TrackAreaMonthly = apps.get_model("detections", "TrackAreaMonthly")
    Station = apps.get_model("stations", "Station")
    counted = StationDaily.objects.values("station_id").distinct()
    StationArea.objects.bulk_create(
        StationArea(station_id=pk, region=region, station_class=cls)
        for pk, region, cls in Station.objects.filter(pk__in=counted).values_list(
            "pk", "region", "station_class"
        )
    )
    StationMonthly.objects.bulk_create(
        (
            StationMonthly(
                month=r["month"],
                station_id=r["station_id"],
                plays=r["n"],
                airtime_seconds=r["airtime"],
            )
            for r in StationDaily.objects.annotate(month=TruncMonth("day"))
            .values("month", "station_id")
            .annotate(n=Sum("plays"), airtime=Sum("airtime_seconds"))
            .order_by()
            .iterator(chunk_size=5000)
        ),
        batch_size=5000,
    )
    areas = {a.station_id: (a.region, a.station_class) for a in StationArea.objects.all()}
    # Summed per station in the database, then folded per area here by StationArea's
    # region and class (what the services count a station under).
    per_area: dict[tuple, list] = {}
    rows = (
        PlayDaily.objects.annotate(month=TruncMonth("day"))
        .values("month", "station_id", "track_id")
        .annotate(n=Sum("plays"), airtime=Sum("airtime_seconds"))
        .order_by()
    )
    for r in rows.iterator(chunk_size=5000):
        sums = per_area.setdefault((r["month"], *areas[r["station_id"]], r["track_id"]), [0, 0])
        sums[0] += r["n"]
        sums[1] += r["airtime"]
    TrackAreaMonthly.objects.bulk_create(
        (
            TrackAreaMonthly(
                month=month,
                region=region,
                station_class=cls,
                track_id=track_id,
                plays=n,
                airtime_seconds=airtime,
            )
            for (month, region, cls, track_id), (n, airtime) in per_area.items()
        ),
        batch_size=5000,
    )


def forget(apps, schema_editor):
    for name in ("TrackAreaMonthly", "StationMonthly", "StationArea"):
        apps.get_model("detections", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0011_month_summaries_by_station_and_area")]

    operations = [migrations.RunPython(backfill, forget)]
