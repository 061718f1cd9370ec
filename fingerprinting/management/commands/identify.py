"""Identify the catalogue tracks heard in an audio clip."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fingerprinting import services
from fingerprinting.engine import FingerprintError


class Command(BaseCommand):
    help = "Print the catalogue tracks recognised in FILE."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="Print a JSON list.")
        parser.add_argument(
            "--threshold",
            type=float,
            default=None,
            help="Minimum confidence (default: the verified threshold).",
        )

    def handle(self, *args, file: str, json: bool, threshold: float | None, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        if threshold is None:
            threshold = settings.FINGERPRINT_VERIFIED_THRESHOLD
        try:
            matches = services.source_identify(path, name=str(path), threshold=threshold)
        except FingerprintError as exc:
            raise CommandError(str(exc)) from None
        found = services.identifications_for(matches)
        if json:
            self.stdout.write(_json_dumps([f.as_dict() for f in found]))
            return
        if not found:
            self.stdout.write("No match.")
            return
        for f in found:
            self.stdout.write(
                f"{f.confidence:.2f}  #{f.track_id} {f.artist} – {f.title}"
                f"{' [' + f.isrc + ']' if f.isrc else ''}  track {f.track_offset:.1f}s at clip "
                f"{f.query_offset:.1f}s, speed {f.speed:.3f}"
            )


def _json_dumps(value) -> str:
    return jsonlib.dumps(value, ensure_ascii=False)
