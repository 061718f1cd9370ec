"""What "nothing changed" means in the hardening suite: every row of every project table
(one digest per table, one query in all) and every stored file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection

# Our apps, plus the token tables that logout/refresh write.
_APPS = (
    "users",
    "artists",
    "tracks",
    "fingerprinting",
    "stations",
    "stream_capture",
    "detections",
    "royalties",
    "wallets",
    "notifications",
    "streaming",
    "token_blacklist",
)


def _tables() -> list[str]:
    tables = set()
    for config in apps.get_app_configs():
        if config.label in _APPS:
            for model in config.get_models(include_auto_created=True):
                if not model._meta.proxy and model._meta.managed:
                    tables.add(model._meta.db_table)
    return sorted(tables)


_SQL: str | None = None


def _sql() -> str:
    global _SQL
    if _SQL is None:
        # Table names come from the model registry, never from input.
        digest = "md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
        parts = [f"SELECT '{t}', count(*), {digest} FROM \"{t}\" x" for t in _tables()]  # noqa: S608
        _SQL = " UNION ALL ".join(parts)
    return _SQL


def db_state() -> dict[str, tuple[int, str]]:
    """{table: (row count, digest of all its rows)}."""
    with connection.cursor() as cursor:
        cursor.execute(_sql())
        return {table: (count, digest) for table, count, digest in cursor.fetchall()}


def files_state() -> dict[str, str]:
    """{path: sha256} of every file under MEDIA_ROOT and PRIVATE_MEDIA_ROOT."""
    found = {}
    for root in (Path(settings.MEDIA_ROOT), Path(settings.PRIVATE_MEDIA_ROOT)):
        if not root.exists():
            continue
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder, name)
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def state() -> tuple[dict, dict]:
    return db_state(), files_state()


def changes(before: tuple[dict, dict], after: tuple[dict, dict]) -> list[str]:
    """Human-readable differences: tables whose rows changed, files added/removed/changed."""
    out = []
    db_before, files_before = before
    db_after, files_after = after
    for table in sorted(set(db_before) | set(db_after)):
        if db_before.get(table) != db_after.get(table):
            b, a = db_before.get(table, (0, "")), db_after.get(table, (0, ""))
            out.append(
                f"table {table}: {b[0]} → {a[0]} rows" + (" (edited)" if b[0] == a[0] else "")
            )
    for path in sorted(set(files_before) | set(files_after)):
        if files_before.get(path) != files_after.get(path):
            out.append(f"file {path}")
    return out
