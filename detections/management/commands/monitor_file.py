"""Runs a recorded broadcast through the live detection path, as if captured from --start."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from detections import services
from detections.models import MatchCache, PlayLog, PlaySource
from fingerprinting.engine import FingerprintError, decode
from stations.models import Station


def _parse_start(value: str) -> datetime:
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--start {value!r} is not an ISO 8601 date and time") from None
    if start.tzinfo is None:
        raise CommandError("--start needs a time zone offset (e.g. 2025-01-31T06:00:00+00:00)")
    return start.astimezone(UTC)


class Command(BaseCommand):
    help = (
        "Detects the catalogue tracks aired in a recording of a station's broadcast and logs "
        "them as plays, exactly as live capture would (for backfills and logger files). "
        "Running it again over the same recording and start adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="an audio file ffmpeg can read")
        parser.add_argument("--station", required=True, help="the station's slug")
        parser.add_argument(
            "--start", required=True, help="when the recording's first sample was on air"
        )
        parser.add_argument("--json", action="store_true", help="print the plays as JSON")

    def handle(self, *args, **options):
        station = Station.objects.filter(slug=options["station"]).first()
        if station is None:
            raise CommandError(f"no station with slug {options['station']!r}")
        start = _parse_start(options["start"])
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        try:
            samples = decode(path, name=path.name)
        except FingerprintError as exc:
            raise CommandError(str(exc)) from None
        rows = services.audio_analyse(
            station_id=station.pk, started_at=start, samples=samples, source=PlaySource.RECORDING
        )
        seconds = samples.size / services.sample_rate()
        services.plays_close_open(station_id=station.pk, until=start + timedelta(seconds=seconds))
        window_ids = [row.pk for row in rows]
        plays = (
            PlayLog.objects.filter(matches__window_id__in=window_ids)
            .select_related("track", "track__primary_artist")
            .distinct()
            .order_by("started_at", "id")
        )
        failed = MatchCache.objects.filter(pk__in=window_ids, status="failed").count()
        if options["json"]:
            self.stdout.write(json.dumps([_play_json(p) for p in plays], indent=2))
            return
        self.stdout.write(
            f"{len(rows)} windows of {seconds:.0f} s analysed ({failed} failed), "
            f"{plays.count()} plays:"
        )
        for play in plays:
            item = _play_json(play)
            self.stdout.write(
                f"  {item['start']}  {item['duration']:>8.2f} s  {item['artist']} — "
                f"{item['title']}  ({item['confidence']:.2f}, {item['verification_status']})"
            )


def _play_json(play: PlayLog) -> dict:
    return {
        "play_id": play.pk,
        "track_id": play.track_id,
        "title": play.track.title,
        "artist": play.track.primary_artist.stage_name,
        "start": play.started_at.astimezone(UTC).isoformat(),
        "end": play.ended_at.astimezone(UTC).isoformat(),
        "duration": float(play.duration_seconds),
        "confidence": round(play.avg_confidence, 4),
        "verification_status": play.verification_status,
        "royalty_bearing": play.royalty_bearing,
    }
