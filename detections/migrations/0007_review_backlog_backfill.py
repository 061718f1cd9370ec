"""Counts the plays waiting for review into StationDaily.pending_review and ReviewBacklog."""

from django.db import migrations
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate


def backfill(apps, schema_editor):
    PlayLog = apps.get_model("detections", "PlayLog")
    StationDaily = apps.get_model("detections", "StationDaily")
    ReviewBacklog = apps.get_model("detections", "ReviewBacklog")
    pending = (
        PlayLog.objects.filter(verification_status="pending_review")
        .annotate(day=TruncDate("started_at"))
        .values("day", "station_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(row["day"], row["station_id"]): row["n"] for row in pending.iterator()}
    cells = StationDaily.objects.filter(day__in={day for day, _station in counts}).only(
        "pk", "day", "station_id", "plays"
    )
    changed = []
    for cell in cells.iterator(chunk_size=5000):
        n = counts.get((cell.day, cell.station_id))
        if n:
            # A cell counted before plays were added by other means holds fewer plays than
            # are pending; its next recount brings both up to date.
            cell.pending_review = min(n, cell.plays)
            changed.append(cell)
    StationDaily.objects.bulk_update(changed, ["pending_review"], batch_size=2000)
    ReviewBacklog.objects.bulk_create(
        ReviewBacklog(station_id=row["station_id"], plays=row["n"])
        for row in StationDaily.objects.filter(pending_review__gt=0)
        .values("station_id")
        .annotate(n=Sum("pending_review"))
        .order_by()
    )


def forget(apps, schema_editor):
    apps.get_model("detections", "ReviewBacklog").objects.all().delete()
    apps.get_model("detections", "StationDaily").objects.update(pending_review=0)


class Migration(migrations.Migration):
    dependencies = [("detections", "0006_review_backlog")]

    operations = [migrations.RunPython(backfill, forget)]
