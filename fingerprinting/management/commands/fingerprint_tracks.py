"""Backfill: fingerprint tracks with the current engine version."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from fingerprinting import services
from fingerprinting.engine import FINGERPRINT_VERSION


class Command(BaseCommand):
    help = "Fingerprint tracks: the ones missing a current fingerprint (default), all, or those "
    "still on an older engine version."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # `--version N` is this command's own option; let it replace Django's --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--missing",
            action="store_true",
            help="Tracks without a current-version fingerprint (default).",
        )
        group.add_argument("--all", action="store_true", help="Every track with audio.")
        group.add_argument(
            "--version",
            type=int,
            metavar="N",
            help="Rebuild tracks fingerprinted with engine version N.",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Afterwards delete fingerprints of other engine versions.",
        )

    def handle(self, *args, missing: bool, all: bool, version: int | None, prune: bool, **options):
        if version is not None and version == FINGERPRINT_VERSION:
            raise CommandError(f"version {version} is the current one; use --all to redo it")
        mode = "all" if all else "version" if version is not None else "missing"
        track_ids = list(services.tracks_needing_fingerprints(mode=mode, version=version))
        self.stdout.write(
            f"Fingerprinting {len(track_ids)} track(s) with engine version "
            f"{FINGERPRINT_VERSION} ({mode})."
        )
        done = failed = 0
        for track_id in tqdm(track_ids, unit="track", disable=not track_ids, file=self.stderr._out):
            row = services.fingerprint_track(track_id=track_id, force=mode != "missing")
            if row is None:
                failed += 1
            else:
                done += 1
        self.stdout.write(self.style.SUCCESS(f"{done} fingerprinted, {failed} failed."))
        if prune:
            deleted = services.fingerprints_delete_other_versions()
            self.stdout.write(f"Deleted {deleted} fingerprint(s) of other engine versions.")
        if failed:
            raise CommandError(f"{failed} track(s) failed; see each track's fingerprint_error.")
