"""Sums the existing StationDaily rows over the days of each week into StationWeekly."""

from django.db import migrations

# The Monday of a day row's week, in each database's SQL ('weekday 0' moves to the next
# Sunday, or stays on one).
_WEEK_OF_DAY = {
    "postgresql": "date_trunc('week', day)::date",
    "sqlite": "date(day, 'weekday 0', '-6 days')",
}
_FILL = (
    "INSERT INTO detections_stationweekly (week, station_id, plays, airtime_seconds) "
    "SELECT {week}, station_id, sum(plays), sum(airtime_seconds) "
    "FROM detections_stationdaily GROUP BY 1, 2"
)


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_FILL.format(week=_WEEK_OF_DAY[schema_editor.connection.vendor]))


def forget(apps, schema_editor):
    apps.get_model("detections", "StationWeekly").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("detections", "0023_station_weekly")]

    operations = [migrations.RunPython(backfill, forget)]
