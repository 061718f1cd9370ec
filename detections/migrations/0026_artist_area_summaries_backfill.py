"""Sums the existing TrackAreaMonthly and TrackAreaYearly rows over each primary artist's
tracks into ArtistAreaMonthly and ArtistAreaYearly."""

from django.db import migrations

_FILL = (
    "INSERT INTO detections_artistarea{name} "
    "({period}, region, station_class, artist_id, plays, airtime_seconds) "
    "SELECT cell.{period}, cell.region, cell.station_class, track.primary_artist_id, "
    "sum(cell.plays), sum(cell.airtime_seconds) FROM detections_trackarea{name} AS cell "
    "JOIN tracks_track AS track ON track.id = cell.track_id GROUP BY 1, 2, 3, 4"
)


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for name, period in (("monthly", "month"), ("yearly", "year")):
            cursor.execute(_FILL.format(name=name, period=period))


def forget(apps, schema_editor):
    for model in ("ArtistAreaMonthly", "ArtistAreaYearly"):
        apps.get_model("detections", model).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0025_artist_area_summaries")]

    operations = [migrations.RunPython(backfill, forget)]
