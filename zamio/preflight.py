"""`make test` runs this first: it stops at once, saying how to fix it, when PostgreSQL
or Redis cannot be reached. The test suite never silently falls back to SQLite."""

from __future__ import annotations

import os
import sys

import dj_database_url

HOW_TO_START = (
    "Start them with `docker compose up -d db redis`, or point DATABASE_URL and REDIS_URL "
    "at running servers."
)


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    problems = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append(f"DATABASE_URL must name a PostgreSQL server (got {database_url!r}).")
    else:
        import psycopg

        cfg = dj_database_url.parse(database_url)
        try:
            # The suite makes its own test_<name> database, but `makemigrations --check`
            # reads the named one: create it on a fresh server so that check is clean.
            with psycopg.connect(
                dbname="postgres",
                user=cfg["USER"] or None,
                password=cfg["PASSWORD"] or None,
                host=cfg["HOST"] or None,
                port=cfg["PORT"] or None,
                connect_timeout=3,
                autocommit=True,
            ) as server:
                found = server.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]
                ).fetchone()
                if found is None:
                    server.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
        except psycopg.Error as exc:
            problems.append(
                f"PostgreSQL at {cfg['HOST']}:{cfg['PORT']} is unreachable: {str(exc).strip()}"
            )
    if not redis_url.startswith(("redis://", "rediss://")):
        problems.append(f"REDIS_URL must name a Redis server (got {redis_url!r}).")
    else:
        import redis

        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis at {redis_url} is unreachable: {exc}")
    if problems:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        print(HOW_TO_START, file=sys.stderr)
        return 1
    print("PostgreSQL and Redis are reachable.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
