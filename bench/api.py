"""Portal API benchmark: the endpoints artists, publishers, stations and staff use, over
real HTTP, against a year of plays.

    python bench/api.py [--plays 1000000] [--stations 200] [--tracks 10000]
                        [--clients 16] [--requests 200] [--workers CORES] [--only NAME]
                        [--keep] [--solo-only] [--env NAME=VALUE] [--out FILE]

Creates its own database, zamio_bench_api, on the PostgreSQL server of DATABASE_URL
(default postgres://postgres@127.0.0.1:5432), migrates it and seeds: 200 stations over
Ghana's regions and the five classes, each with a station account; 3,000 artists (2,000
with accounts), 50 publishers representing 600 of them; 10,000 tracks whose airplay
follows a Zipf curve (a few hits, a long tail, as on radio); 1,000,000 PlayLogs over the
12 months up to yesterday (COPY), the rollup rows counted from them in SQL (day x station
x track, day x station, month x track, plays waiting for review per station), a year of
detection-health rows (and their platform totals per day, week and month), and for 20
stations a week of their own logged entries plus the analysed windows (sampled capture)
that cover them. The database is dropped at the end unless --keep, which also reuses a
database an earlier --keep run seeded with the same parameters (seeding takes minutes).

It then starts Daphne workers (subprocesses on 127.0.0.1, clients spread over them in
turn as a proxy would spread them) and drives each portal endpoint over keep-alive HTTP,
every request as a randomly chosen account with random dates: one client alone, then 16
concurrent clients with the analytics cache off (every rollup computed from the rollup
rows) and on (Redis, as deployed). For each it prints p50/p95 and the CPU time per
request of the serving side (Daphne workers + this database's PostgreSQL backends +
redis-server, from /proc), and the load average; writes bench/results/api.json. Target:
p95 <= 200 ms for every endpoint.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "api.json"
BENCH_DB = "zamio_bench_api"
# --keep stores the seed parameters and their world in table bench_api_seed, written
# last, so a seed that failed half-way is never reused.
UNUSABLE = "!"
REGIONS = [
    "Greater Accra",
    "Ashanti",
    "Western",
    "Eastern",
    "Central",
    "Volta",
    "Northern",
    "Upper East",
    "Upper West",
    "Bono",
]
CLASSES = ["A", "B", "C", "community", "online"]
LOGGED_STATIONS = 20


def _admin_url() -> tuple[str, str]:
    """(URL of the benchmark database, URL of the server's `postgres` database)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    return (
        urlunsplit(parts._replace(path=f"/{BENCH_DB}")),
        urlunsplit(parts._replace(path="/postgres")),
    )


def _seed_parameters(args) -> dict:
    return {k: getattr(args, k) for k in ("plays", "stations", "tracks", "seed")}


def _stored_world(bench_url: str, parameters: dict) -> dict | None:
    """The world a previous --keep run seeded with the same parameters, or None."""
    import psycopg

    try:
        with psycopg.connect(bench_url) as conn:
            row = conn.execute("SELECT parameters, world FROM bench_api_seed").fetchone()
    except psycopg.Error:
        return None
    if row is None or json.loads(row[0]) != parameters:
        return None
    world = json.loads(row[1])
    for key in ("first_day", "today"):
        world[key] = date.fromisoformat(world[key])
    return world


def _database_drop(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def _prepare_environment(args) -> dict | None:
    """Points Django at the benchmark database; returns the stored world when --keep finds
    one seeded with the same parameters (else the database is created afresh)."""
    import psycopg

    bench_url, admin_url = _admin_url()
    world = _stored_world(bench_url, _seed_parameters(args)) if args.keep else None
    if world is None:
        _database_drop(admin_url)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ["JWT_ACCESS_MINUTES"] = "240"
    os.environ["THROTTLE_USER"] = "1000000/min"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")
    return world


def _world_store(world: dict, parameters: dict) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_api_seed (parameters text, world text)")
        cursor.execute(
            "INSERT INTO bench_api_seed VALUES (%s, %s)",
            [json.dumps(parameters), json.dumps(world, default=str)],
        )


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples) into a table in chunks; returns how many."""
    total, buffer = 0, io.StringIO()

    def flush():
        with cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        ) as copy:
            copy.write(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()

    for row in rows:
        buffer.write(",".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
        total += 1
        if total % 100_000 == 0:
            flush()
    flush()
    return total


def seed(args, rng: random.Random) -> dict:
    import numpy as np
    from django.db import connection, transaction
    from django.utils import timezone

    from artists.models import Artist, Publisher, PublisherArtistRelationship
    from detections import analytics
    from stations.models import Station, StationPlaylog, StationStaff
    from tracks.models import Track
    from users.models import User

    now = timezone.now()
    today = timezone.localdate()
    first_day = today - timedelta(days=365)
    np_rng = np.random.default_rng(args.seed)
    with transaction.atomic():
        staff = User.objects.create(
            email="support@bench.test",
            role="admin",
            staff_role="support",
            password=UNUSABLE,
            is_staff=True,
            email_verified_at=now,
        )
        station_users = User.objects.bulk_create(
            [
                User(
                    email=f"station{i}@bench.test",
                    role="station",
                    password=UNUSABLE,
                    email_verified_at=now,
                )
                for i in range(args.stations)
            ]
        )
        stations = Station.objects.bulk_create(
            [
                Station(
                    name=f"Bench FM {i}",
                    slug=f"bench-fm-{i}",
                    call_sign=f"B{i:03d}",
                    region=REGIONS[i % len(REGIONS)],
                    city=f"Town {i}",
                    station_class=CLASSES[i % len(CLASSES)],
                    monitoring_enabled=True,
                )
                for i in range(args.stations)
            ]
        )
        StationStaff.objects.bulk_create(
            [
                StationStaff(station=s, user=u, role="manager")
                for s, u in zip(stations, station_users, strict=True)
            ]
        )
        n_artists, with_accounts = 3000, 2000
        artist_users = User.objects.bulk_create(
            [
                User(
                    email=f"artist{i}@bench.test",
                    role="artist",
                    password=UNUSABLE,
                    email_verified_at=now,
                )
                for i in range(with_accounts)
            ],
            batch_size=5000,
        )
        artists = Artist.objects.bulk_create(
            [
                Artist(
                    stage_name=f"Artist {i}", user=artist_users[i] if i < with_accounts else None
                )
                for i in range(n_artists)
            ],
            batch_size=5000,
        )
        publisher_users = User.objects.bulk_create(
            [
                User(
                    email=f"publisher{i}@bench.test",
                    role="publisher",
                    password=UNUSABLE,
                    email_verified_at=now,
                )
                for i in range(50)
            ]
        )
        publishers = Publisher.objects.bulk_create(
            [Publisher(name=f"Publisher {i}", user=u) for i, u in enumerate(publisher_users)]
        )
        represented = rng.sample(range(n_artists), 600)
        PublisherArtistRelationship.objects.bulk_create(
            [
                PublisherArtistRelationship(
                    publisher=publishers[k % len(publishers)],
                    artist=artists[a],
                    kind="administration",
                    status="active",
                    share_bp=2000,
                    start_date=date(2020, 1, 1),
                    proposed_by="publisher",
                )
                for k, a in enumerate(represented)
            ]
        )
        tracks = Track.objects.bulk_create(
            [
                Track(
                    title=f"Song {i}",
                    primary_artist=artists[i % n_artists],
                    isrc=f"GHA{i // 100000:02d}{i % 100000:07d}"[:12],
                    duration_seconds=float(150 + i % 150),
                    status="approved",
                )
                for i in range(args.tracks)
            ],
            batch_size=5000,
        )
    track_ids = np.array([t.pk for t in tracks])
    durations = np.array([t.duration_seconds for t in tracks])
    station_ids = [s.pk for s in stations]

    # Zipf airplay: the track of rank r is aired in proportion to 1 / r.
    weights = 1.0 / np.arange(1, args.tracks + 1)
    weights /= weights.sum()
    per_station = args.plays // args.stations
    start_epoch = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC).timestamp()
    span = (today - first_day).days * 86400
    spacing = span / per_station
    stamp = now.isoformat()
    logged: dict[int, list] = {}
    recent_from = datetime.combine(
        today - timedelta(days=7), datetime.min.time(), tzinfo=UTC
    ).timestamp()

    def plays():
        for index, station_id in enumerate(station_ids):
            picks = np_rng.choice(args.tracks, size=per_station, p=weights)
            jitter = np_rng.uniform(0, spacing / 4, size=per_station)
            statuses = np_rng.choice(
                ["verified", "pending_review", "disputed", "rejected"],
                size=per_station,
                p=[0.93, 0.05, 0.01, 0.01],
            )
            for k in range(per_station):
                t = int(picks[k])
                begin = start_epoch + k * spacing + float(jitter[k])
                seconds = float(durations[t])
                if index < LOGGED_STATIONS and begin >= recent_from:
                    logged.setdefault(station_id, []).append((t, begin, seconds))
                started = datetime.fromtimestamp(begin, tz=UTC).isoformat()
                ended = datetime.fromtimestamp(begin + seconds, tz=UTC).isoformat()
                status = statuses[k]
                yield (
                    stamp,
                    stamp,
                    station_id,
                    int(track_ids[t]),
                    started,
                    ended,
                    f"{seconds:.2f}",
                    0.9,
                    0.95,
                    9.0,
                    10,
                    1.0,
                    "radio",
                    f"{begin:.3f}",
                    "f",
                    ended,
                    status,
                    "pending",
                    "withheld" if status == "disputed" else "pending",
                    "t",
                    "",
                )

    timings = {}
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        started = time.perf_counter()
        count = _copy(
            cursor,
            "detections_playlog",
            [
                "created_at",
                "updated_at",
                "station_id",
                "track_id",
                "started_at",
                "ended_at",
                "duration_seconds",
                "avg_confidence",
                "peak_confidence",
                "confidence_sum",
                "window_count",
                "speed",
                "source",
                "alignment",
                "is_open",
                "closed_at",
                "verification_status",
                "payment_status",
                "royalty_status",
                "royalty_bearing",
                "review_note",
            ],
            plays(),
        )
        timings["playlogs_copy_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        # The same counts rollups_rebuild makes, in one statement each (days in Accra time),
        # written in day order as the tracker writes them while the plays happen (so a day's
        # rows share pages, as in a live database).
        cursor.execute(
            "INSERT INTO detections_playdaily (day, station_id, track_id, plays, airtime_seconds) "
            "SELECT (started_at AT TIME ZONE 'Africa/Accra')::date, station_id, track_id, "
            "count(*), sum(duration_seconds) FROM detections_playlog "
            "WHERE verification_status <> 'rejected' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        cursor.execute(
            "INSERT INTO detections_stationdaily (day, station_id, plays, airtime_seconds, "
            "pending_review) "
            "SELECT cell.day, cell.station_id, cell.plays, cell.airtime, coalesce(waiting.n, 0) "
            "FROM (SELECT day, station_id, sum(plays) AS plays, sum(airtime_seconds) AS airtime "
            "FROM detections_playdaily GROUP BY 1, 2) AS cell LEFT JOIN "
            "(SELECT (started_at AT TIME ZONE 'Africa/Accra')::date AS day, station_id, "
            "count(*) AS n FROM detections_playlog WHERE verification_status = 'pending_review' "
            "GROUP BY 1, 2) AS waiting USING (day, station_id) ORDER BY 1, 2"
        )
        cursor.execute(
            "INSERT INTO detections_reviewbacklog (station_id, plays) "
            "SELECT station_id, sum(pending_review) FROM detections_stationdaily "
            "GROUP BY 1 HAVING sum(pending_review) > 0"
        )
        # The summaries of those (by track and day; by track, station, region and class
        # and month) as the service recounts them.
        analytics.summaries_recount(date_from=first_day, date_to=today)
        timings["rollups_s"] = round(time.perf_counter() - started, 1)

        def health():
            for station_id in station_ids:
                for d in range(366):
                    windows = int(np_rng.integers(1200, 1440))
                    matched = int(windows * np_rng.uniform(0.4, 0.7))
                    yield (
                        first_day + timedelta(days=d),
                        station_id,
                        windows,
                        matched,
                        int(matched * np_rng.uniform(0.02, 0.1)),
                        int(np_rng.integers(0, 20)),
                        windows * 20.0,
                        stamp,
                    )

        _copy(
            cursor,
            "detections_detectionhealthdaily",
            [
                "day",
                "station_id",
                "windows",
                "matched",
                "low_confidence",
                "failed",
                "audio_seconds",
                "refreshed_at",
            ],
            health(),
        )
        totals = (
            "sum(windows), sum(matched), sum(low_confidence), sum(failed), "
            "count(DISTINCT station_id) FROM detections_detectionhealthdaily GROUP BY 2"
        )
        cursor.execute(
            "INSERT INTO detections_detectionhealthperiod "
            "(kind, start, windows, matched, low_confidence, failed, stations) "
            f"SELECT 'day', day, {totals} "
            f"UNION ALL SELECT 'week', date_trunc('week', day)::date, {totals} "
            f"UNION ALL SELECT 'month', date_trunc('month', day)::date, {totals}"
        )

        # A week of the first stations' own logs: most plays logged (a little off in time
        # and length), some not, and some logged songs we did not hear; sampled capture
        # (20 s a minute) covered the week except for a six-hour outage a day.
        entries, windows = [], []
        for station_id, aired in logged.items():
            playlog = StationPlaylog.objects.create(
                station_id=station_id,
                file_format="csv",
                original_name="week.csv",
                size_bytes=0,
                rows_total=len(aired),
                rows_accepted=0,
                rows_rejected=0,
            )
            for t, begin, seconds in aired:
                if rng.random() < 0.85:
                    shift = rng.uniform(-40, 40)
                    entries.append(
                        (
                            playlog.pk,
                            station_id,
                            len(entries) + 2,
                            f"Song {t}",
                            f"Artist {t % 3000}",
                            "",
                            datetime.fromtimestamp(begin + shift, tz=UTC).isoformat(),
                            f"{seconds + rng.choice([0, 0, 0, 30]):.2f}",
                            datetime.fromtimestamp(begin + shift + seconds, tz=UTC).isoformat(),
                        )
                    )
                if rng.random() < 0.08:
                    ghost = begin + seconds + 60
                    entries.append(
                        (
                            playlog.pk,
                            station_id,
                            len(entries) + 2,
                            f"Unheard {t}",
                            "Somebody",
                            "",
                            datetime.fromtimestamp(ghost, tz=UTC).isoformat(),
                            "120.00",
                            datetime.fromtimestamp(ghost + 120, tz=UTC).isoformat(),
                        )
                    )
            at = recent_from
            while at < recent_from + 7 * 86400:
                if (at - recent_from) % 86400 >= 6 * 3600:
                    iso = datetime.fromtimestamp(at, tz=UTC).isoformat()
                    windows.append(
                        (
                            station_id,
                            iso,
                            20.0,
                            f"radio:{iso}:20.00",
                            "radio",
                            0.0,
                            0,
                            "no_match",
                            "",
                            stamp,
                        )
                    )
                at += 60
        _copy(
            cursor,
            "stations_stationplaylogentry",
            [
                "playlog_id",
                "station_id",
                "row_number",
                "title",
                "artist",
                "isrc",
                "started_at",
                "duration_seconds",
                "ended_at",
            ],
            entries,
        )
        _copy(
            cursor,
            "detections_matchcache",
            [
                "station_id",
                "captured_at",
                "window_seconds",
                "window_key",
                "source",
                "confidence",
                "match_count",
                "status",
                "error",
                "created_at",
            ],
            windows,
        )
    # The steady state of a live database: autovacuum has set the visibility map (index-only
    # counts) and the statistics. (Django runs in autocommit here, as VACUUM needs.)
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = round(time.perf_counter() - started, 1)
    from detections.models import PlayDaily

    return {
        "plays": count,
        "rollup_rows": PlayDaily.objects.count(),
        "entries": len(entries),
        "windows": len(windows),
        "timings": timings,
        "staff_id": staff.pk,
        "logged_station_ids": list(logged),
        "first_day": first_day,
        "today": today,
    }


def _tokens(user_ids: list[int]) -> dict[int, str]:
    from users.models import User
    from users.services import tokens_for_user

    return {u.pk: tokens_for_user(u)["access"] for u in User.objects.filter(pk__in=user_ids)}


def scenarios(world: dict, rng: random.Random) -> dict:
    """Per endpoint: a function returning (token, path) for one request."""
    from django.db.models import Count

    from artists.models import PublisherArtistRelationship
    from detections.models import PlayDaily
    from stations.models import StationStaff

    today, first = world["today"], world["first_day"]
    station_users = dict(StationStaff.objects.values_list("station_id", "user_id"))
    aired_artists = list(
        PlayDaily.objects.filter(track__primary_artist__user__isnull=False)
        .values("track__primary_artist__user")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("track__primary_artist__user", flat=True)[:300]
    )
    publishers = list(
        PublisherArtistRelationship.objects.values_list("publisher__user", flat=True).distinct()
    )
    staff = world["staff_id"]
    tokens = _tokens([*station_users.values(), *aired_artists, *publishers, staff])
    logged = world["logged_station_ids"]
    station_ids = list(station_users)

    def window(days: int) -> tuple[date, date]:
        end = first + timedelta(days=rng.randrange(days, (today - first).days + 1))
        return end - timedelta(days=days - 1), end

    def q(path: str, **params) -> str:
        return f"{path}?{urlencode(params)}"

    def plays_station():
        s = rng.choice(station_ids)
        a, b = window(7)
        return tokens[station_users[s]], q("/api/v1/plays/", date_from=a, date_to=b)

    def plays_artist():
        a, b = window(90)
        return tokens[rng.choice(aired_artists)], q("/api/v1/plays/", date_from=a, date_to=b)

    def plays_publisher():
        a, b = window(30)
        return tokens[rng.choice(publishers)], q("/api/v1/plays/", date_from=a, date_to=b)

    def plays_staff():
        a, b = window(7)
        return tokens[staff], q(
            "/api/v1/plays/",
            station=rng.choice(station_ids),
            verification_status="verified",
            date_from=a,
            date_to=b,
        )

    def rollup_artist():
        return tokens[rng.choice(aired_artists)], q(
            "/api/v1/analytics/plays/",
            granularity="month",
            date_from=today - timedelta(days=364),
            date_to=today,
        )

    def rollup_publisher():
        a, b = window(90)
        return tokens[rng.choice(publishers)], q(
            "/api/v1/analytics/plays/", granularity="week", date_from=a, date_to=b
        )

    def rollup_station():
        a, b = window(30)
        return tokens[station_users[rng.choice(station_ids)]], q(
            "/api/v1/analytics/plays/", granularity="day", date_from=a, date_to=b
        )

    def rollup_staff():
        # Staff dashboards ask for the usual ranges up to today, with or without a region.
        days, granularity = rng.choice([(7, "day"), (30, "day"), (90, "week"), (365, "month")])
        params = {
            "granularity": granularity,
            "date_from": today - timedelta(days=days - 1),
            "date_to": today,
        }
        if rng.random() < 0.5:
            params["region"] = rng.choice(REGIONS)
        return tokens[staff], q("/api/v1/analytics/plays/", **params)

    def rollup_csv_station():
        a, b = window(30)
        return tokens[station_users[rng.choice(station_ids)]], q(
            "/api/v1/analytics/plays/export/", section="top_tracks", date_from=a, date_to=b
        )

    def health_staff():
        a, b = window(rng.choice([30, 90]))
        return tokens[staff], q(
            "/api/v1/analytics/detection-health/", granularity="week", date_from=a, date_to=b
        )

    def comparison():
        s = rng.choice(logged)
        d = today - timedelta(days=rng.randrange(1, 7))
        return tokens[station_users[s]], q(
            "/api/v1/playlog-comparison/", station=s, date_from=d, date_to=d
        )

    def comparison_csv():
        s = rng.choice(logged)
        d = today - timedelta(days=rng.randrange(1, 7))
        return tokens[station_users[s]], q(
            "/api/v1/playlog-comparison/export/", station=s, date_from=d, date_to=d
        )

    return {
        "plays list · station (7 days)": plays_station,
        "plays list · artist (90 days)": plays_artist,
        "plays list · publisher (30 days)": plays_publisher,
        "plays list · staff (station + status + 7 days)": plays_staff,
        "rollup · artist (12 months by month)": rollup_artist,
        "rollup · publisher (90 days by week)": rollup_publisher,
        "rollup · station (30 days by day)": rollup_station,
        "rollup · staff (platform, 30–365 days, ±region)": rollup_staff,
        "rollup CSV · station top tracks": rollup_csv_station,
        "detection health · staff": health_staff,
        "comparison · station day (JSON)": comparison,
        "comparison · station day (CSV)": comparison_csv,
    }


def start_servers(
    workers: int, env: dict
) -> tuple[list[subprocess.Popen], list[int], list[socket.socket]]:
    """Daphne workers, each on a listening socket of its own (its port is returned).

    Clients are spread over the workers' ports in turn, as a proxy spreads requests: on one
    shared socket the worker that woke first accepted every connection waiting (Twisted
    accepts up to 100 at a time), and 16 clients were split 12/4 as often as 8/8."""
    listeners, ports = [], []
    for _ in range(workers):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(256)
        listeners.append(listener)
        ports.append(listener.getsockname()[1])
    log = open(ROOT / "bench" / "results" / "api-daphne.log", "ab")  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "--fd",
                str(listener.fileno()),
                "-v",
                "0",
                "zamio.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            pass_fds=[listener.fileno()],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for listener in listeners
    ]
    deadline = time.time() + 60
    waiting = list(ports)
    while waiting and time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", waiting[0], timeout=5)
            conn.request("GET", "/health/")
            conn.getresponse().read()
            waiting.pop(0)
        except OSError:
            time.sleep(0.5)
    if waiting:
        stop_servers(procs)
        sys.exit("Daphne did not start.")
    return procs, ports, listeners


def stop_servers(procs) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads, in clock ticks) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_ns(pid: int) -> int | None:
    """Nanoseconds on CPU of a single-threaded process (a PostgreSQL backend): exact, where
    /proc/<pid>/stat counts 10 ms ticks and a backend of one request lives milliseconds."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _server_pids() -> tuple[int | None, int | None]:
    """(PostgreSQL postmaster, redis-server) process ids when they run on this machine."""
    import redis
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        postmaster = None
    redis_pid = redis.Redis.from_url(settings.REDIS_URL).info("server")["process_id"]
    return postmaster, (redis_pid if Path(f"/proc/{redis_pid}").exists() else None)


def _memory() -> dict:
    """PostgreSQL's shared_buffers and the benchmark database's size, in MB. A database
    larger than the buffers is read through the operating system's page cache; on a
    machine that pages out cold memory (seen here: a DAMON `pageout` scheme kept the cache
    at ~1.1 GB) the requests then wait on the disk, and the figures measure it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings "
            "WHERE name = 'shared_buffers'), pg_database_size(current_database())"
        )
        buffers, size = cursor.fetchone()
    return {"shared_buffers_mb": round(buffers / 2**20), "database_mb": round(size / 2**20)}


class CpuMeter:
    """CPU time of the serving side: the Daphne workers, this database's PostgreSQL
    backends and redis-server (shared with other users of that server: an upper bound).

    Backends are the postmaster's children whose process title names the bench database.
    A thread samples them every `interval` seconds and keeps each one's last reading: with
    a connection per request a backend lives for one request, and what it spends after the
    last sample, on its way out, is missed (a lower bound in that mode; exact for a pool)."""

    def __init__(
        self,
        daphne_pids: list[int],
        postmaster: int | None,
        redis_pid: int | None,
        *,
        interval: float = 0.002,
    ) -> None:
        self.daphne_pids = daphne_pids
        self.postmaster = postmaster
        self.redis_pid = redis_pid
        self.interval = interval
        self._ours: dict[int, bool] = {}
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()

    def _children(self) -> list[int]:
        path = f"/proc/{self.postmaster}/task/{self.postmaster}/children"
        try:
            return [int(pid) for pid in Path(path).read_text().split()]
        except OSError:
            return []

    def _is_ours(self, pid: int) -> bool | None:
        known = self._ours.get(pid)
        if known is not None:
            return known
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return None
        if not title.startswith("postgres:"):
            return None  # just forked: the title is set once the startup packet is read
        self._ours[pid] = f" {BENCH_DB} " in title
        return self._ours[pid]

    def _sample(self, *, first: bool = False) -> None:
        for pid in self._children():
            if not self._is_ours(pid):
                continue
            ns = _run_ns(pid)
            if ns is None:
                continue
            if first:
                self._first[pid] = ns
            self._last[pid] = ns

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        self._first, self._last = {}, {}
        self._stop.clear()
        self._python0 = sum(_proc_cpu(pid) for pid in self.daphne_pids)
        self._redis0 = _proc_cpu(self.redis_pid) if self.redis_pid else 0.0
        if self.postmaster:
            self._sample(first=True)
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def stop(self) -> dict:
        python = sum(_proc_cpu(pid) for pid in self.daphne_pids) - self._python0
        redis_s = (_proc_cpu(self.redis_pid) - self._redis0) if self.redis_pid else 0.0
        if self.postmaster:
            self._stop.set()
            self._thread.join()
            self._sample()
        postgres = sum(ns - self._first.get(pid, 0) for pid, ns in self._last.items()) / 1e9
        return {
            "python_s": round(python, 3),
            "postgres_s": round(postgres, 3),
            "redis_s": round(redis_s, 3),
            "backends": len(self._last),
        }


def _per_request(cpu: dict, requests: int) -> dict:
    ms = {k[:-2]: cpu[k] * 1000 / requests for k in ("python_s", "postgres_s", "redis_s")}
    return {
        "cpu_ms": round(sum(ms.values()), 1),
        **{f"{k}_ms": round(v, 1) for k, v in ms.items()},
        "backends_per_request": round(cpu["backends"] / requests, 2),
    }


def drive(
    ports: list[int], make, *, clients: int, requests: int, warmup: int, on_measured=None
) -> dict:
    """`requests` requests (after `warmup` unmeasured ones) from `clients` threads, each with
    its own keep-alive connection (client i to ports[i % len(ports)]); `on_measured()` is
    called before the first measured request is sent. Returns latency percentiles in ms and
    status counts."""
    lock = threading.Lock()
    todo = {"n": requests + warmup}
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def client(port: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if todo["n"] <= 0:
                    break
                todo["n"] -= 1
                measured = todo["n"] < requests
                if measured and todo["n"] == requests - 1 and on_measured is not None:
                    on_measured()
                token, path = make()
            started = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if measured:
                    latencies.append(elapsed)
        conn.close()

    threads = [
        threading.Thread(target=client, args=(ports[i % len(ports)],)) for i in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if not latencies:  # warm-up only
        return {"statuses": statuses}
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {
        "requests": len(latencies),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "max_ms": round(latencies[-1], 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "rps": round((requests + warmup) / wall, 1),
        "statuses": statuses,
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _serve(ports: list[int], name: str, scenario, args, meter: CpuMeter, *, clients: int) -> dict:
    """One phase of one endpoint: warm-up, then the measured requests under the CPU meter."""
    requests = args.solo if clients == 1 else args.requests
    # Sampled often enough to see a backend that lives for one request; less often under
    # load, where the sampler would compete with the clients (a pool's backends live on).
    meter.interval = 0.002 if clients == 1 else 0.05
    if clients == 1:
        # Warm-up on the measured keep-alive connection, so the worker that serves the
        # measured requests is the one that was warmed up (a first request on a worker
        # builds what later ones reuse: tens of ms spread over the measured ones).
        result = drive(
            ports, scenario, clients=1, requests=requests, warmup=6, on_measured=meter.start
        )
    else:
        drive(ports, scenario, clients=clients, requests=0, warmup=clients)
        meter.start()
        result = drive(ports, scenario, clients=clients, requests=requests, warmup=0)
    cpu = meter.stop()
    result.update(_per_request(cpu, requests), cpu=cpu, load=_load())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="measured, per endpoint")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="Daphne processes (cores)"
    )
    parser.add_argument("--solo", type=int, default=40, help="single-client requests per endpoint")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="run endpoints whose name contains this")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse zamio_bench_api if it was seeded with the same parameters; keep it after",
    )
    parser.add_argument(
        "--solo-only", action="store_true", help="only the single-client phase (CPU per request)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the Daphne workers (repeatable), e.g. DATABASE_POOL=0",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()
    stored = _prepare_environment(args)

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connections

    rng = random.Random(args.seed)
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = round(time.perf_counter() - started, 1)
    if stored is None:
        started = time.perf_counter()
        world = seed(args, rng)
        seed_s = round(time.perf_counter() - started, 1)
        world["seed_s"] = seed_s
        if args.keep:
            _world_store(world, _seed_parameters(args))
        print(
            f"migrated in {migrate_s} s; seeded {world['plays']:,} plays, "
            f"{world['rollup_rows']:,} rollup rows, {world['entries']:,} logged entries and "
            f"{world['windows']:,} windows in {seed_s} s {world['timings']}",
            flush=True,
        )
    else:
        world = stored
        # Tables a new migration filled have no statistics yet (autovacuum would add them).
        with connections["default"].cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"reusing {BENCH_DB} seeded with {_seed_parameters(args)}", flush=True)
    make = scenarios(world, rng)
    postmaster, redis_pid = _server_pids()
    memory = _memory()
    print(
        f"PostgreSQL shared_buffers {memory['shared_buffers_mb']:,} MB, "
        f"database {memory['database_mb']:,} MB",
        flush=True,
    )
    if memory["shared_buffers_mb"] < memory["database_mb"]:
        print(
            "warning: the database does not fit in shared_buffers; if this machine evicts "
            "its page cache, requests wait on the disk (see bench/README.md, Portal API)",
            flush=True,
        )
    connections.close_all()
    results: dict[str, dict] = {}
    phases = [("cache off", "0")] if args.solo_only else [("cache off", "0"), ("cache on", "600")]
    extra = dict(item.split("=", 1) for item in args.env)
    for phase, cache_seconds in phases:
        cache.clear()
        env = {**os.environ, "ANALYTICS_CACHE_SECONDS": cache_seconds, **extra}
        procs, ports, listeners = start_servers(args.workers, env)
        meter = CpuMeter([proc.pid for proc in procs], postmaster, redis_pid)
        try:
            for name, scenario in make.items():
                if args.only and args.only not in name:
                    continue
                runs = [("one client", 1)] if phase == "cache off" else []
                if not args.solo_only:
                    runs.append((phase, args.clients))
                for label, clients in runs:
                    result = _serve(ports, name, scenario, args, meter, clients=clients)
                    results.setdefault(name, {})[label] = result
                    print(
                        f"{label:10} {name:50} p50 {result['p50_ms']:7.1f} ms  "
                        f"p95 {result['p95_ms']:7.1f} ms  cpu {result['cpu_ms']:5.1f} ms "
                        f"(py {result['python_ms']}, pg {result['postgres_ms']}, "
                        f"redis {result['redis_ms']}, backends/req "
                        f"{result['backends_per_request']})  load {result['load'][0]}  "
                        f"{result['statuses']}",
                        flush=True,
                    )
        finally:
            stop_servers(procs)
            for listener in listeners:
                listener.close()

    print()
    print(
        f"| endpoint | 1 client p50 | CPU/request | {args.clients} clients, cache off: p50 | "
        f"p95 | cache on: p50 | p95 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        solo = result.get("one client", {})
        off, on = result.get("cache off", {}), result.get("cache on", {})
        print(
            f"| {name} | {solo.get('p50_ms')} | {solo.get('cpu_ms')} | {off.get('p50_ms')} | "
            f"{off.get('p95_ms')} | {on.get('p50_ms')} | {on.get('p95_ms')} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "postgres": memory,
                },
                "parameters": {**vars(args), "out": str(args.out.name)},
                "seed": {
                    k: v
                    for k, v in world.items()
                    if k in ("plays", "rollup_rows", "entries", "windows", "timings", "seed_s")
                },
                "migrate_s": migrate_s,
                "target_p95_ms": 200,
                "endpoints": results,
            },
            indent=2,
            default=str,
        )
    )
    connections.close_all()
    if not args.keep:
        _database_drop(_admin_url()[1])


if __name__ == "__main__":
    main()
