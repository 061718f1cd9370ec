"""Fills the artist summaries from the track summaries (each track under its primary
artist) and each track's first and last day with plays from TrackDaily."""

from django.db import migrations

FILL = [
    f"INSERT INTO detections_artist{name} ({period}, artist_id, plays, airtime_seconds) "
    f"SELECT cell.{period}, track.primary_artist_id, sum(cell.plays), sum(cell.airtime_seconds) "
    f"FROM detections_track{name} AS cell JOIN tracks_track AS track ON track.id = cell.track_id "
    "GROUP BY 1, 2"
    for name, period in (("daily", "day"), ("monthly", "month"), ("yearly", "year"))
] + [
    "INSERT INTO detections_trackspan (track_id, first_day, last_day) "
    "SELECT track_id, min(day), max(day) FROM detections_trackdaily GROUP BY track_id"
]
EMPTY = [
    f"DELETE FROM detections_{table}"
    for table in ("artistdaily", "artistmonthly", "artistyearly", "trackspan")
]


class Migration(migrations.Migration):
    dependencies = [("detections", "0019_artist_summaries_track_spans")]

    operations = [migrations.RunSQL(FILL, EMPTY)]
