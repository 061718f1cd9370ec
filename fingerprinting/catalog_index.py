"""The process-wide in-memory index of the catalogue, kept in step with PostgreSQL.

PostgreSQL holds the truth (TrackFingerprint rows); each matcher process holds
an `engine.Index` built from them. A refresh is incremental: it reads only
(track_id, updated_at) pairs, loads the blobs of tracks that are new or changed
and drops tracks whose fingerprint is gone. It runs when another process says the
catalogue changed (a generation counter in the cache, bumped on commit) and, as a
safety net for deletes made behind our back, at least every
FINGERPRINT_INDEX_REFRESH_SECONDS.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections, transaction

from fingerprinting.engine import FINGERPRINT_VERSION, FingerprintError, Index
from fingerprinting.models import TrackFingerprint

logger = logging.getLogger(__name__)

GENERATION_KEY = "fingerprinting:index-generation"


def generation_bump_on_commit() -> None:
    """Tells every matcher process, once the current transaction commits, to refresh."""

    def _bump() -> None:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:
            cache.set(GENERATION_KEY, 1, timeout=None)

    transaction.on_commit(_bump)


class CatalogIndex:
    def __init__(self) -> None:
        self.index = Index()
        self.synced: dict[int, datetime] = {}
        self.generation: int | None = None
        self.checked_at = 0.0
        self.lock = threading.Lock()

    def refresh(self, *, force: bool = False) -> bool:
        """Brings the index up to date if the catalogue changed; True when it did change."""
        generation = cache.get(GENERATION_KEY, 0)
        stale = time.monotonic() - self.checked_at > settings.FINGERPRINT_INDEX_REFRESH_SECONDS
        if not (force or stale or generation != self.generation):
            return False
        with self.lock:
            current = dict(
                TrackFingerprint.objects.filter(version=FINGERPRINT_VERSION).values_list(
                    "track_id", "updated_at"
                )
            )
            gone = [tid for tid in self.synced if tid not in current]
            changed = [tid for tid, at in current.items() if self.synced.get(tid) != at]
            for track_id in gone:
                self.index.remove(track_id)
                del self.synced[track_id]
            if changed:
                rows = TrackFingerprint.objects.filter(
                    version=FINGERPRINT_VERSION, track_id__in=changed
                ).values_list("track_id", "data", "updated_at")
                for track_id, data, updated_at in rows.iterator(chunk_size=500):
                    if track_id in self.index:
                        self.index.remove(track_id)
                    self.index.add(track_id, bytes(data))
                    self.synced[track_id] = updated_at
            if gone or changed:
                self.index.flush()
            self.generation = generation
            self.checked_at = time.monotonic()
            if gone or changed:
                logger.info(
                    "fingerprint index refreshed: +%d -%d, %d tracks",
                    len(changed),
                    len(gone),
                    len(self.synced),
                )
            return bool(gone or changed)

    def save(self, path: str | Path) -> None:
        """Writes the index and the state it reflects, so a worker starts from it fast."""
        with self.lock:
            self.index.save(path)
            Path(f"{path}.state.json").write_text(
                json.dumps(
                    {
                        "version": FINGERPRINT_VERSION,
                        "synced": {str(k): v.isoformat() for k, v in self.synced.items()},
                    }
                )
            )

    @classmethod
    def load(cls, path: str | Path) -> CatalogIndex:
        state = json.loads(Path(f"{path}.state.json").read_text())
        if state["version"] != FINGERPRINT_VERSION:
            raise ValueError(f"snapshot is of fingerprint version {state['version']}")
        loaded = cls()
        loaded.index = Index.load(path)
        loaded.synced = {int(k): datetime.fromisoformat(v) for k, v in state["synced"].items()}
        return loaded


_shared: CatalogIndex | None = None
_shared_lock = threading.Lock()


def catalog_index() -> CatalogIndex:
    """The process's index, loaded from the snapshot when one is configured, then refreshed."""
    global _shared
    with _shared_lock:
        if _shared is None:
            snapshot = settings.FINGERPRINT_INDEX_SNAPSHOT
            if snapshot and Path(snapshot).exists():
                try:
                    _shared = CatalogIndex.load(snapshot)
                    logger.info("fingerprint index loaded from snapshot %s", snapshot)
                except (OSError, ValueError, FingerprintError) as exc:
                    logger.warning(
                        "fingerprint snapshot %s unusable (%s); building from the database",
                        snapshot,
                        exc,
                    )
            if _shared is None:
                _shared = CatalogIndex()
    _shared.refresh()
    return _shared


def catalog_index_preload() -> int | None:
    """Loads the process's index now, for a worker about to take matching work or to fork
    the processes that will: its first window then does not wait for the catalogue
    (minutes of blobs for a large one without a snapshot), and forked processes inherit
    the index, sharing its arrays copy-on-write instead of each building its own.

    Closes this thread's database connections afterwards, so that no forked process
    inherits a connection in use. Returns how many tracks are indexed, or None when the
    database could not be read (the index then loads on the first match, as before)."""
    try:
        index = catalog_index().index
        index.flush()  # (the slot table too, which a loaded snapshot does not have yet)
        indexed = len(index)
    except DatabaseError as exc:
        logger.warning("fingerprint index not preloaded (%s); it loads on the first match", exc)
        return None
    finally:
        connections.close_all()
    logger.info("fingerprint index preloaded: %d tracks", indexed)
    return indexed


def catalog_index_reset() -> None:
    """Forgets the process's index (tests and the snapshot command use it)."""
    global _shared
    with _shared_lock:
        _shared = None
