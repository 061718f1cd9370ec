"""Import a folder of audio files as tracks of one artist and fingerprint them."""

from __future__ import annotations

import hashlib
import json as jsonlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from artists.services import artist_get_or_create_by_name
from fingerprinting import services
from tracks.models import Track, TrackStatus
from tracks.services import track_create_from_file
from zamio.errors import DomainError

AUDIO_SUFFIXES = {".mp3", ".wav", ".flac", ".ogg", ".oga", ".m4a", ".aac", ".opus"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Create a track for every audio file under DIR (title = file stem) and fingerprint it."

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--artist", required=True, help="Stage name of the artist.")
        parser.add_argument("--json", action="store_true", help="Print a JSON list of results.")

    def handle(self, *args, directory: str, artist: str, json: bool, **options):
        root = Path(directory)
        if not root.is_dir():
            raise CommandError(f"{directory}: not a directory")
        files = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
        )
        if not files:
            raise CommandError(f"{directory}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
        owner = artist_get_or_create_by_name(stage_name=artist)
        results = []
        for path in files:
            results.append(self._import_one(path, owner))
            if not json:
                r = results[-1]
                self.stdout.write(
                    f"{r['status']:<8} {path.name}"
                    + (f"  → track #{r['track_id']}" if r["track_id"] else "")
                    + (f"  ({r['error']})" if r["error"] else "")
                )
        if json:
            self.stdout.write(jsonlib.dumps(results, ensure_ascii=False))
        else:
            counts = {
                s: sum(r["status"] == s for r in results) for s in ("created", "skipped", "failed")
            }
            self.stdout.write(
                self.style.SUCCESS(
                    f"{counts['created']} created, {counts['skipped']} already in the catalogue, "
                    f"{counts['failed']} failed."
                )
            )
        if any(r["status"] == "failed" for r in results):
            raise CommandError("some files could not be imported (see above)")

    def _import_one(self, path: Path, owner) -> dict:
        result = {
            "file": str(path),
            "status": "",
            "track_id": None,
            "title": path.stem,
            "error": "",
        }
        existing = Track.objects.filter(audio_hash=_sha256(path)).first()
        if existing is not None:
            result.update(status="skipped", track_id=existing.pk)
            return result
        try:
            track = track_create_from_file(
                path=str(path),
                title=path.stem,
                primary_artist=owner,
                status=TrackStatus.APPROVED,
            )
        except DomainError as exc:
            result.update(status="failed", error=f"{path}: {exc.message}")
            return result
        row = services.fingerprint_track(track_id=track.pk)
        track.refresh_from_db()
        if row is None:
            result.update(
                status="failed", track_id=track.pk, error=f"{path}: {track.fingerprint_error}"
            )
        else:
            result.update(status="created", track_id=track.pk)
        return result
