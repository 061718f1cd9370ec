"""PlayDaily: the track index holds the cells a track-scoped rollup reads (index-only
scans); the foreign keys' own indexes repeat the cell constraint and the track index."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("detections", "0009_detection_health_period_backfill"),
        ("stations", "0002_playlogs_compliance"),
        ("tracks", "0002_split_total_trigger"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="playdaily",
            index=models.Index(
                fields=["track", "day", "station", "plays", "airtime_seconds"],
                name="play_daily_track_cells",
            ),
        ),
        migrations.RemoveIndex(
            model_name="playdaily",
            name="detections__track_i_8e94b0_idx",
        ),
        migrations.AlterField(
            model_name="playdaily",
            name="station",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="stations.station",
            ),
        ),
        migrations.AlterField(
            model_name="playdaily",
            name="track",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tracks.track",
            ),
        ),
    ]
