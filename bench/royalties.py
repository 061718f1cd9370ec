"""Royalties benchmark: calculate and close a month of verified plays on PostgreSQL.

    python bench/royalties.py [--plays 300000] [--tracks 10000] [--quick]

Creates (drops first) its own database, zamio_bench_royalties, on the PostgreSQL
server of DATABASE_URL (default postgres://postgres@127.0.0.1:5432), migrates it,
seeds a catalogue (tracks with 3–6 contributors, publishing deals, stations, a rate
card) and a month of verified plays, then times `plays_calculate` and `period_close`
and counts their SQL queries. A warm-up month with a tenth of the plays runs first,
so the two query counts show whether queries grow with plays (they should not: work
is batched). Notifications are timed on their own: in production they are a
separate task. Writes a table to stdout and bench/results/royalties.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "royalties.json"
BENCH_DB = "zamio_bench_royalties"
UNUSABLE = "!"  # Django's marker of an account that cannot log in with a password


def _prepare_environment() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    bench_url = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = bench_url
    # Tasks queued on commit (notifications) go to an in-process broker nobody consumes.
    os.environ["REDIS_URL"] = ""
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")
    return bench_url


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _bp_parts(rng: random.Random, n: int) -> list[int]:
    cuts = sorted(rng.sample(range(1, 10_000), n - 1))
    edges = [0, *cuts, 10_000]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


def seed_catalogue(rng: random.Random, *, tracks: int) -> dict:
    from django.db import transaction

    from artists.models import (
        Artist,
        Publisher,
        PublisherArtistRelationship,
        RelationshipStatusChange,
    )
    from royalties import services as royalties
    from stations.models import Station
    from tracks.models import Contributor, SplitVersion, Track, TrackSplit
    from users.models import User

    n_artists = max(60, tracks * 6 // 10)
    with_accounts = n_artists * 2 // 3
    n_publishers = max(5, tracks // 50)
    epoch = datetime(2020, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        users = User.objects.bulk_create(
            [
                User(email=f"artist{i}@bench.test", role="artist", password=UNUSABLE)
                for i in range(with_accounts)
            ]
            + [
                User(email=f"publisher{i}@bench.test", role="publisher", password=UNUSABLE)
                for i in range(n_publishers)
            ],
            batch_size=5000,
        )
        artist_users, publisher_users = users[:with_accounts], users[with_accounts:]
        artists = Artist.objects.bulk_create(
            [
                Artist(
                    stage_name=f"Artist {i}",
                    user=artist_users[i] if i < with_accounts else None,
                    ipi_number=f"{i:011d}",
                )
                for i in range(n_artists)
            ],
            batch_size=5000,
        )
        publishers = Publisher.objects.bulk_create(
            [
                Publisher(name=f"Publisher {i}", user=publisher_users[i], ipi_number=f"9{i:010d}")
                for i in range(n_publishers)
            ]
        )
        contributors = Contributor.objects.bulk_create(
            [Contributor(name=a.stage_name, artist=a) for a in artists]
            + [Contributor(name=f"Writer {i}", ipi=f"5{i:010d}") for i in range(n_artists // 3)]
            + [Contributor(name=p.name, kind="publisher", publisher=p) for p in publishers],
            batch_size=5000,
        )
        by_artist = {c.artist_id: c for c in contributors if c.artist_id}
        deals = PublisherArtistRelationship.objects.bulk_create(
            [
                PublisherArtistRelationship(
                    publisher=rng.choice(publishers),
                    artist=artist,
                    kind="administration",
                    status="active",
                    share_bp=rng.choice([1000, 2000, 2500, 3000, 5000]),
                    start_date=epoch.date(),
                    proposed_by="publisher",
                )
                for artist in rng.sample(artists, len(artists) // 6)
            ],
            batch_size=5000,
        )
        RelationshipStatusChange.objects.bulk_create(
            [RelationshipStatusChange(relationship=d, status="active", at=epoch) for d in deals],
            batch_size=5000,
        )
        track_rows = Track.objects.bulk_create(
            [
                Track(
                    title=f"Song {i}",
                    primary_artist=rng.choice(artists),
                    isrc=f"GHA01{i:07d}",
                    iswc=f"T{i:09d}0",
                    status="approved",
                    duration_seconds=200.0,
                )
                for i in range(tracks)
            ],
            batch_size=5000,
        )
        versions, shares = [], []
        roles = ["composer", "lyricist", "producer", "arranger", "featured_performer"]
        for track in track_rows:
            effective = [epoch]
            if rng.random() < 0.2:  # a fifth of the tracks change splits mid-month
                effective.append(datetime(2026, 9, 15, tzinfo=UTC))
            for number, at in enumerate(effective, start=1):
                version = SplitVersion(track=track, number=number, effective_from=at)
                versions.append(version)
                n = rng.randint(3, 6)
                people = [by_artist[track.primary_artist_id]]
                while len(people) < n:
                    c = rng.choice(contributors)
                    if c not in people:
                        people.append(c)
                for c, bp, role in zip(
                    people,
                    _bp_parts(rng, n),
                    ["performer", *rng.sample(roles, n - 1)],
                    strict=False,
                ):
                    shares.append((version, c, "publisher" if c.publisher_id else role, bp))
        SplitVersion.objects.bulk_create(versions, batch_size=5000)
        TrackSplit.objects.bulk_create(
            [
                TrackSplit(version=v, contributor=c, role=role, basis_points=bp)
                for v, c, role, bp in shares
            ],
            batch_size=10000,
        )
        classes = ["A", "B", "C", "community", "online"]
        stations = Station.objects.bulk_create(
            [
                Station(
                    name=f"Station {i}",
                    slug=f"station-{i}",
                    station_class=classes[i % len(classes)],
                    timezone="Africa/Accra",
                )
                for i in range(60)
            ]
        )
    royalties.rate_card_create(
        actor=None,
        name="Bench card",
        effective_from=epoch,
        cmo_fee_percent=Decimal("10.00"),
        min_play_seconds=Decimal("20.00"),
        rates={
            "A": Decimal("0.010"),
            "B": Decimal("0.008"),
            "C": Decimal("0.005"),
            "community": Decimal("0.002"),
            "online": Decimal("0.004"),
        },
        bands=[
            {"name": "off_peak", "start_minute": 0, "end_minute": 360, "multiplier": "0.5"},
            {"name": "prime_am", "start_minute": 360, "end_minute": 600, "multiplier": "1.5"},
            {"name": "prime_pm", "start_minute": 960, "end_minute": 1200, "multiplier": "1.5"},
        ],
    )
    return {
        "tracks": [t.pk for t in track_rows],
        "stations": [s.pk for s in stations],
        "artists": n_artists,
        "contributors": len(contributors),
        "split_shares": len(shares),
        "split_versions": len(versions),
        "deals": len(deals),
    }


def seed_plays(rng: random.Random, catalogue: dict, *, month: date, plays: int) -> None:
    """Each station airs songs back to back (with talk between) through the month."""
    from detections.models import PlayLog

    stations, tracks = catalogue["stations"], catalogue["tracks"]
    per_station = plays // len(stations)
    # A few hits, a long tail: weights ~ 1/rank.
    weights = [1 / (rank + 10) for rank in range(len(tracks))]
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    for index, station_id in enumerate(stations):
        rows = []
        count = per_station + (1 if index < plays - per_station * len(stations) else 0)
        cursor = start + timedelta(seconds=rng.randint(0, 600))
        for track_id in rng.choices(tracks, weights=weights, k=count):
            duration = Decimal(rng.randint(3000, 30000)) / 100
            rows.append(
                PlayLog(
                    station_id=station_id,
                    track_id=track_id,
                    started_at=cursor,
                    ended_at=cursor + timedelta(seconds=float(duration)),
                    duration_seconds=duration,
                    avg_confidence=0.9,
                    peak_confidence=0.95,
                    confidence_sum=0.9,
                    window_count=3,
                    source="radio",
                    alignment=cursor.timestamp(),
                    is_open=False,
                    verification_status="verified",
                    royalty_bearing=True,
                )
            )
            cursor += timedelta(seconds=float(duration) + rng.randint(20, 240))
        PlayLog.objects.bulk_create(rows, batch_size=5000)


def run_month(*, month: date) -> dict:
    from django.db import connection

    from royalties import services
    from royalties.models import PlayRoyalty, RoyaltyLine, RoyaltyPosting, StationInvoice
    from wallets.models import JournalEntry
    from wallets.services import platform_account

    period = services.period_get_or_create(month=month)
    calc_counter, close_counter = QueryCounter(), QueryCounter()
    t0 = time.perf_counter()
    with connection.execute_wrapper(calc_counter):
        report = services.plays_calculate(until=period.ends_at)
    t1 = time.perf_counter()
    entries_before = JournalEntry.objects.count()
    with connection.execute_wrapper(close_counter):
        closed = services.period_close(period_id=period.pk)
    t2 = time.perf_counter()
    services.period_notify_closed(period_id=closed.pk)
    t3 = time.perf_counter()
    plays = report.calculated
    lines = RoyaltyLine.objects.filter(period=closed).count()
    postings = RoyaltyPosting.objects.filter(period=closed).count()
    invoiced = sum(i.subtotal for i in StationInvoice.objects.filter(period=closed))
    gross = sum(
        PlayRoyalty.objects.filter(period=closed).values_list("gross", flat=True), Decimal(0)
    )
    pool = platform_account("royalty_pool")
    pool.refresh_from_db()
    return {
        "month": f"{month:%Y-%m}",
        "plays": plays,
        "unpriced": len(report.unpriced),
        "royalty_lines": lines,
        "ledger_entries": JournalEntry.objects.count() - entries_before,
        "payee_postings": postings,
        "calculate_seconds": round(t1 - t0, 2),
        "calculate_queries": calc_counter.count,
        "calculate_queries_per_play": round(calc_counter.count / max(plays, 1), 5),
        "close_seconds": round(t2 - t1, 2),
        "close_queries": close_counter.count,
        "close_queries_per_play": round(close_counter.count / max(plays, 1), 5),
        "notify_seconds": round(t3 - t2, 2),
        "gross_total": str(closed.gross_total),
        "checks": {
            "invoices_equal_gross": invoiced == gross == closed.gross_total,
            "lines_equal_gross": closed.cmo_fee_total + closed.payees_total == gross,
            "royalty_pool_balance": str(pool.balance),
            "status": closed.status,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plays", type=int, default=300_000)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="30,000 plays, 1,000 tracks")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.plays, args.tracks = 30_000, 1_000
    _prepare_environment()
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    rng = random.Random(args.seed)
    catalogue = seed_catalogue(rng, tracks=args.tracks)
    warm_month, main_month = date(2026, 8, 1), date(2026, 9, 1)
    seed_plays(rng, catalogue, month=warm_month, plays=max(args.plays // 10, 600))
    seed_plays(rng, catalogue, month=main_month, plays=args.plays)
    seeded = time.perf_counter()
    warm = run_month(month=warm_month)
    main_run = run_month(month=main_month)
    result = {
        "benchmark": "royalties",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "tracks": args.tracks,
        "stations": len(catalogue["stations"]),
        "contributors": catalogue["contributors"],
        "split_versions": catalogue["split_versions"],
        "split_shares": catalogue["split_shares"],
        "publishing_deals": catalogue["deals"],
        "migrate_seconds": round(migrated - started, 1),
        "seed_seconds": round(seeded - migrated, 1),
        "warm_up_month": warm,
        "month": main_run,
        "target_close_seconds": 300,
        "close_within_target": main_run["close_seconds"] <= 300,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"catalogue: {args.tracks} tracks, {catalogue['split_shares']} shares in "
        f"{catalogue['split_versions']} split versions, {catalogue['deals']} deals, 60 stations"
    )
    print(f"seeded in {result['seed_seconds']} s (migrate {result['migrate_seconds']} s)\n")
    header = (
        f"{'month':8} {'plays':>8} {'lines':>9} {'calc s':>8} {'calc q':>7} {'q/play':>8} "
        f"{'close s':>8} {'close q':>8} {'q/play':>8} {'entries':>8}"
    )
    print(header)
    print("-" * len(header))
    for run in (warm, main_run):
        print(
            f"{run['month']:8} {run['plays']:>8} {run['royalty_lines']:>9} "
            f"{run['calculate_seconds']:>8} {run['calculate_queries']:>7} "
            f"{run['calculate_queries_per_play']:>8} {run['close_seconds']:>8} "
            f"{run['close_queries']:>8} {run['close_queries_per_play']:>8} "
            f"{run['ledger_entries']:>8}"
        )
    print(
        f"\nclose of {main_run['plays']} plays: {main_run['close_seconds']} s "
        f"(target 300 s: {'met' if result['close_within_target'] else 'MISSED'}); checks: "
        f"{main_run['checks']}"
    )
    print(f"results: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
