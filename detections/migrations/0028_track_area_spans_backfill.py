"""Fills TrackAreaSpan from the existing PlayDaily rows, each station under the region
and class StationArea records for it."""

from django.db import migrations

_FILL = (
    "INSERT INTO detections_trackareaspan (region, station_class, track_id, first_day, last_day) "
    "SELECT area.region, area.station_class, cell.track_id, min(cell.day), max(cell.day) "
    "FROM detections_playdaily AS cell "
    "JOIN detections_stationarea AS area ON area.station_id = cell.station_id "
    "WHERE cell.plays > 0 GROUP BY 1, 2, 3"
)


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_FILL)


def forget(apps, schema_editor):
    apps.get_model("detections", "TrackAreaSpan").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0027_track_area_spans")]

    operations = [migrations.RunPython(backfill, forget)]
