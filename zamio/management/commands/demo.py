"""`make demo`: the whole of ZamIO on the embedded default, from a song to a payout.

1. seeds demo accounts and a catalogue of synthesised songs (artists, a publisher deal,
   contributor splits), fingerprinted by the real engine;
2. starts a local "radio station": a generated programme of those songs with talk, a DJ
   over an intro, crossfades and a song that is not in the catalogue, streamed as MP3 over
   HTTP on 127.0.0.1, and registers it as a station with a stream link;
3. captures it live with the production continuous-capture worker, while a local Beat
   runs the periodic tasks of zamio/beat.py; prints each play as it is detected;
4. prices the plays, closes the month, pays the artist's balance out through the sandbox
   MoMo provider, prints a report, and serves the API, the live monitor and the admin
   while the station keeps broadcasting and being monitored.

Runs on SQLite with Celery eager and an in-memory channel layer; nothing to install.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, transaction
from django.db.models import Sum
from django.utils import timezone

from users.models import Role, StaffRole, User

DEMO_PASSWORD = "zamio-demo-2026"  # noqa: S105 - printed on purpose; demo data only
SR = 44100
SONG_SECONDS = 55

DEMO_ACCOUNTS = [
    ("admin@zamio.demo", Role.ADMIN, StaffRole.SUPERADMIN, "Ama Superadmin"),
    ("finance@zamio.demo", Role.ADMIN, StaffRole.FINANCE, "Kofi Finance"),
    ("support@zamio.demo", Role.ADMIN, StaffRole.SUPPORT, "Esi Support"),
    ("artist@zamio.demo", Role.ARTIST, "", "Kwame Mensah"),
    ("publisher@zamio.demo", Role.PUBLISHER, "", "Abena Owusu"),
    ("station@zamio.demo", Role.STATION, "", "Yaw Boateng"),
]

# title, synth seed, primary artist, shares: (role, basis points, contributor)
CATALOGUE = [
    (
        "Adowa Sunrise",
        101,
        "Kwame Highlife",
        [
            ("performer", 6000, "Kwame Highlife"),
            ("composer", 2500, "Akosua Adjei"),
            ("producer", 1500, "Nii Producer"),
        ],
    ),
    (
        "Kumasi Nights",
        102,
        "Kwame Highlife",
        [("performer", 5000, "Kwame Highlife"), ("lyricist", 5000, "Akosua Adjei")],
    ),
    (
        "Volta Breeze",
        103,
        "Akosua Adjei",
        [("performer", 7000, "Akosua Adjei"), ("composer", 3000, "Kwame Highlife")],
    ),
    ("Osu Groove", 104, "Kwame Highlife", [("performer", 10000, "Kwame Highlife")]),
]
NOT_IN_CATALOGUE_SEED = 999

# Illustrative rates in GHS per second of airplay (a real card comes from the CMO).
DEMO_RATES = {
    "A": "0.200000",
    "B": "0.150000",
    "C": "0.100000",
    "community": "0.050000",
    "online": "0.080000",
}
# Time outside every band is "regular" (×1).
DEMO_BANDS = [
    {"name": "off_peak", "start_minute": 0, "end_minute": 360, "multiplier": Decimal("0.5")},
    {"name": "prime_am", "start_minute": 360, "end_minute": 600, "multiplier": Decimal("1.5")},
    {"name": "prime_pm", "start_minute": 960, "end_minute": 1200, "multiplier": Decimal("1.5")},
]
DEMO_REQUIRED_SETTINGS = {
    "STREAM_CAPTURE_ALLOW_LOOPBACK": True,
    "ROYALTIES_ALLOW_EARLY_CLOSE": True,
    "SMS_BACKEND": "file",
}

logger = logging.getLogger("zamio.demo")


def seed_demo_accounts() -> list[User]:
    """Creates the demo accounts once; running it again changes nothing."""
    users = []
    with transaction.atomic():
        for email, role, staff_role, name in DEMO_ACCOUNTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email,
                    DEMO_PASSWORD,
                    role=role,
                    staff_role=staff_role,
                    full_name=name,
                    is_staff=role == Role.ADMIN,
                    is_superuser=staff_role == StaffRole.SUPERADMIN,
                    email_verified_at=timezone.now(),
                    phone="+233241234567",
                )
            users.append(user)
    return users


def _user(email: str) -> User:
    return User.objects.get(email=email)


# --- Audio ------------------------------------------------------------------------------
def _speech(text: str, seed: int, seconds: float) -> np.ndarray:
    """DJ talk: espeak-ng when it is installed, else synthesised speech-like noise."""
    espeak = shutil.which("espeak-ng")
    if espeak:
        from fingerprinting.engine.decode import ffmpeg_binary

        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "talk.wav"
            subprocess.run(
                [espeak, "-s", "150", "-w", str(wav), text],
                check=True,
                capture_output=True,
                timeout=60,
            )
            pcm = subprocess.run(
                [
                    ffmpeg_binary(),
                    "-v",
                    "error",
                    "-i",
                    str(wav),
                    "-f",
                    "f32le",
                    "-ac",
                    "1",
                    "-ar",
                    str(SR),
                    "-",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            ).stdout
        audio = np.frombuffer(pcm, dtype=np.float32)
        if audio.size:
            return (0.45 * audio / (np.max(np.abs(audio)) or 1.0)).astype(np.float32)
    from fingerprinting import synth

    return synth.talk(seed, seconds, sr=SR)


def build_programme():
    """The broadcast and the truth of what aired when (seconds from its first sample)."""
    from fingerprinting import synth

    songs = {title: synth.song(seed, SONG_SECONDS, sr=SR) for title, seed, *_ in CATALOGUE}
    over_intro = songs["Kumasi Nights"].copy()
    dj = _speech("That was Adowa Sunrise. Here is Kumasi Nights, on Demo F M.", 2, 8)
    over_intro[: dj.size] += dj[: over_intro.size]
    stranger = synth.song(NOT_IN_CATALOGUE_SEED, 30, sr=SR)
    seg = synth.Segment
    return synth.programme(
        [
            seg(
                _speech(
                    "Good morning Accra, you are listening to Demo F M, ninety nine point seven.",
                    1,
                    6,
                )
            ),
            seg(songs["Adowa Sunrise"], "Adowa Sunrise"),
            seg(_speech("Beautiful. Stay with us.", 3, 4)),
            seg(over_intro, "Kumasi Nights"),
            seg(stranger, crossfade=3.0),  # not in the catalogue: must not be logged
            seg(songs["Volta Breeze"], "Volta Breeze", crossfade=3.0),
            seg(_speech("Traffic on the Spintex road is heavy this morning.", 4, 5)),
            seg(songs["Osu Groove"], "Osu Groove"),
            seg(_speech("It is eight o'clock. News after the break.", 5, 5)),
        ],
        sr=SR,
    ), songs


# --- Catalogue, station, rates -------------------------------------------------------------
def build_catalogue(songs: dict[str, np.ndarray], folder: Path, log) -> None:
    from artists.models import Artist, PublisherArtistRelationship
    from artists.services import (
        artist_get_or_create_by_name,
        artist_profile_create,
        publisher_profile_create,
        relationship_accept,
        relationship_propose,
    )
    from fingerprinting import synth
    from tracks.models import Contributor, Track
    from tracks.services import ShareInput, splits_set, track_create_from_file

    artist_user, publisher_user = _user("artist@zamio.demo"), _user("publisher@zamio.demo")
    support = _user("support@zamio.demo")
    kwame = Artist.objects.filter(user=artist_user).first() or artist_profile_create(
        user=artist_user,
        stage_name="Kwame Highlife",
        bio="Highlife from Kumasi.",
    )
    akosua = artist_get_or_create_by_name(stage_name="Akosua Adjei")
    publisher = getattr(publisher_user, "publisher", None) or publisher_profile_create(
        user=publisher_user, name="Accra Songs Publishing"
    )
    if not PublisherArtistRelationship.objects.filter(artist=kwame, publisher=publisher).exists():
        deal = relationship_propose(
            actor=publisher_user,
            kind="administration",
            share_bp=2500,
            artist=kwame,
            start_date=timezone.localdate() - timedelta(days=60),
        )
        relationship_accept(actor=artist_user, relationship=deal)
    artists = {"Kwame Highlife": kwame, "Akosua Adjei": akosua}
    folder.mkdir(parents=True, exist_ok=True)
    for title, _seed, primary, shares in CATALOGUE:
        if Track.objects.filter(title=title).exists():
            continue
        path = synth.write_wav(folder / f"{title}.wav", songs[title], sr=SR)
        track = track_create_from_file(
            path=str(path),
            title=title,
            primary_artist=artists[primary],
            created_by=support,
            genre="Highlife",
        )
        share_inputs = []
        for role, bp, name in shares:
            if name in artists:
                share_inputs.append(
                    ShareInput(role=role, basis_points=bp, artist_id=artists[name].pk)
                )
            else:
                share_inputs.append(ShareInput(role=role, basis_points=bp, name=name))
        splits_set(actor=support, track=track, shares=share_inputs, note="Demo split sheet")
        track.refresh_from_db()
        log(
            f"  ♪ {title:<15} {primary:<15} fingerprint {track.fingerprint_status}, "
            f"splits {', '.join(f'{n} {r} {bp / 100:.0f}%' for r, bp, n in shares)}"
        )
    log(
        f"  {Track.objects.count()} tracks, {Contributor.objects.count()} contributors, "
        f"publisher deal: Accra Songs Publishing administers Kwame Highlife (25 %)"
    )


def build_station(url: str):
    from stations.models import Station
    from stations.services import (
        station_create,
        station_set_monitoring,
        station_verify,
        stream_link_create,
        stream_link_delete,
    )

    station_user, support = _user("station@zamio.demo"), _user("support@zamio.demo")
    station = Station.objects.filter(slug="demo-fm").first()
    if station is None:
        station = station_create(
            actor=station_user,
            name="Demo FM 99.7",
            station_class="A",
            slug="demo-fm",
            frequency="99.7 FM",
            city="Accra",
            region="Greater Accra",
            call_sign="DEMO",
        )
        station_verify(actor=support, station=station)
    station.refresh_from_db()
    if not station.monitoring_enabled:
        station_set_monitoring(actor=support, station=station, enabled=True)
    # Each run serves the radio on a new port: retire old links, add the current one.
    for link in station.stream_links.all():
        stream_link_delete(actor=support, link=link)
    stream_link_create(actor=station_user, station=station, url=url, kind="primary")
    station.refresh_from_db()
    return station


def ensure_rate_card() -> None:
    from royalties.models import RateCard
    from royalties.services import rate_card_create

    if RateCard.objects.exists():
        return
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rate_card_create(
        actor=_user("finance@zamio.demo"),
        name="Demo rate card (illustrative)",
        effective_from=month_start,
        cmo_fee_percent=Decimal("10"),
        min_play_seconds=Decimal("20"),
        rates={k: Decimal(v) for k, v in DEMO_RATES.items()},
        bands=DEMO_BANDS,
    )


# --- A local Beat: the periodic tasks of zamio/beat.py, run in this process ---------------
class LocalBeat(threading.Thread):
    """Runs every interval entry of the Beat schedule at its interval (eager Celery has no
    Beat process). Daily crontab entries are left out: the demo does not run for a day."""

    def __init__(self) -> None:
        super().__init__(name="demo-beat", daemon=True)
        self.stop = threading.Event()

    def run(self) -> None:
        from zamio.beat import BEAT_SCHEDULE
        from zamio.celery import app

        app.loader.import_default_modules()
        entries = {
            name: float(e["schedule"])
            for name, e in BEAT_SCHEDULE.items()
            if isinstance(e["schedule"], (int, float))
        }
        due = dict.fromkeys(entries, time.monotonic() + 10)
        while not self.stop.wait(2):
            now = time.monotonic()
            for name, every in entries.items():
                if now < due[name]:
                    continue
                due[name] = now + every
                task = BEAT_SCHEDULE[name]["task"]
                try:
                    app.tasks[task].apply()
                except Exception:
                    logger.exception("periodic task %s failed", task)
                finally:
                    close_old_connections()


# --- The report ---------------------------------------------------------------------------
@dataclass
class Row:
    title: str
    aired_start: datetime
    aired_end: datetime
    play: object | None


def match_plays(station, on_air_zero: datetime, aired) -> tuple[list[Row], list]:
    from detections.models import PlayLog

    plays = list(
        PlayLog.objects.filter(station=station).select_related("track").order_by("started_at")
    )
    used: set[int] = set()
    rows = []
    for item in aired:
        start = on_air_zero + timedelta(seconds=item.start)
        end = on_air_zero + timedelta(seconds=item.end)
        found = next(
            (
                p
                for p in plays
                if p.pk not in used
                and p.track.title == item.label
                and abs((p.started_at - start).total_seconds()) < 30
            ),
            None,
        )
        if found:
            used.add(found.pk)
        rows.append(Row(item.label, start, end, found))
    window_end = on_air_zero + timedelta(seconds=aired[-1].end + 5)
    extra = [p for p in plays if p.pk not in used and p.started_at < window_end]
    return rows, extra


class Command(BaseCommand):
    help = "Runs the whole ZamIO path on the embedded database and serves it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Run the pipeline and report, then exit instead of serving.",
        )
        parser.add_argument(
            "--accounts-only",
            action="store_true",
            help="Only seed the demo accounts (no radio, no capture).",
        )

    def log(self, message: str = "") -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def step(self, message: str) -> None:
        self.log("")
        self.log(self.style.MIGRATE_HEADING(message))

    def handle(self, *args, host: str, port: int, no_serve: bool, accounts_only: bool, **options):
        started = time.monotonic()
        self.log(
            self.style.MIGRATE_HEADING("ZamIO demo — from a song on air to a mobile-money payout")
        )
        users = seed_demo_accounts()
        if not accounts_only:
            missing = [k for k, v in DEMO_REQUIRED_SETTINGS.items() if getattr(settings, k) != v]
            if missing:
                wanted = ", ".join(
                    f"{k}={'1' if v is True else v}"
                    for k, v in DEMO_REQUIRED_SETTINGS.items()
                    if k in missing
                )
                raise CommandError(
                    f"The demo needs {wanted} in the environment (its radio station streams "
                    "from 127.0.0.1, it closes the current month, and it reads the payout SMS "
                    "code from the file gateway); `make demo` sets them."
                )
            self.run_pipeline(started)
        self.print_logins(users, host, port)
        if no_serve:
            return
        self.log(self.style.SUCCESS(f"Serving on http://{host}:{port}/ (Ctrl-C to stop)"))
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(["-b", host, "-p", str(port), "zamio.asgi:application"])

    def run_pipeline(self, started: float) -> None:
        from detections.management.commands.capture import CaptureWorker
        from detections.models import PlayLog
        from fingerprinting.engine import warm_up
        from stream_capture.testing import serve_stream

        self.step("1. Catalogue: synthesised songs, artists, a publisher, splits")
        (audio, aired), songs = build_programme()
        build_catalogue(songs, settings.VAR_DIR / "demo" / "catalogue", self.log)
        ensure_rate_card()

        # The capture worker compiles the matcher before it leases a station (seconds of
        # CPU); done here, before the station goes on air, so that the worker is
        # listening when the first song starts, as one already running would be.
        warm_up()

        self.step("2. A local radio station streaming over HTTP")
        radio = serve_stream(audio, SR, loop=True)
        url = radio.__enter__()  # stays on air while the server runs
        station = build_station(str(url))
        programme_seconds = audio.size / SR
        self.log(
            f"  Demo FM 99.7 is on air at {url} — a {programme_seconds / 60:.1f}-minute "
            f"programme, looping: {len(aired)} catalogue songs, a song not in the "
            "catalogue, DJ talk (one over an intro) and crossfades"
        )

        self.step("3. Live capture with the continuous worker (the production path)")
        beat = LocalBeat()
        beat.start()
        stop = threading.Event()
        worker = CaptureWorker(
            worker_id="demo-worker", slugs=["demo-fm"], max_stations=1, log=lambda m: logger.info(m)
        )
        threading.Thread(
            target=worker.run, kwargs={"stop": stop}, name="demo-capture", daemon=True
        ).start()
        on_air_zero = url.started_at
        # Wait for one whole pass of the programme, plus time for its last windows.
        finish = on_air_zero + timedelta(seconds=programme_seconds + 25)
        seen: dict[int, bool] = {}
        while timezone.now() < finish:
            for play in (
                PlayLog.objects.filter(station=station)
                .select_related("track__primary_artist")
                .order_by("started_at")
            ):
                if play.started_at > finish:
                    continue
                offset = (play.started_at - on_air_zero).total_seconds()
                if play.pk not in seen:
                    self.log(
                        f"  ▶ {offset:6.1f}s  {play.track.title:<15} "
                        f"{play.track.primary_artist.stage_name:<15} "
                        f"confidence {play.avg_confidence:.2f}"
                    )
                    seen[play.pk] = play.is_open
                elif seen[play.pk] and not play.is_open:
                    self.log(
                        f"  ■ {offset:6.1f}s  {play.track.title:<15} ended after "
                        f"{play.duration_seconds} s ({play.get_verification_status_display()})"
                    )
                    seen[play.pk] = False
            left = (finish - timezone.now()).total_seconds()
            time.sleep(min(3.0, max(left, 0.1)))
        from detections.services import plays_close_stale

        # Plays of the first pass end when the next song is heard; close any still open.
        plays_close_stale(now=timezone.now() + timedelta(minutes=10))
        self.report_detection(station, on_air_zero, aired)

        self.step("4. Royalties: price the plays, close the month")
        self.settle(station)

        self.step("5. Payout: KYC, a MoMo number confirmed by SMS code, a withdrawal")
        self.pay_out()
        self.log("")
        self.log(
            f"Pipeline done in {time.monotonic() - started:.0f} s. The station keeps "
            "broadcasting and being monitored: watch the live monitor."
        )

    def report_detection(self, station, on_air_zero, aired) -> None:
        rows, extra = match_plays(station, on_air_zero, aired)
        self.log("")
        self.log("  aired song        aired at   detected at   Δstart   Δend   duration")
        for row in rows:
            a0 = (row.aired_start - on_air_zero).total_seconds()
            if row.play is None:
                self.log(f"  {row.title:<16} {a0:7.1f}s   MISSED")
                continue
            p = row.play
            d0 = (p.started_at - on_air_zero).total_seconds()
            ds = (p.started_at - row.aired_start).total_seconds()
            de = (p.ended_at - row.aired_end).total_seconds()
            self.log(
                f"  {row.title:<16} {a0:7.1f}s   {d0:9.1f}s  {ds:+6.1f}s {de:+6.1f}s  "
                f"{p.duration_seconds:>7} s"
            )
        detected = sum(r.play is not None for r in rows)
        self.log(
            f"  Detected {detected} of {len(rows)} catalogue airings; "
            f"{len(extra)} play(s) logged that did not air (the non-catalogue song and "
            "the talk must give none)."
        )

    def settle(self, station) -> None:
        from royalties.models import RoyaltyLine
        from royalties.services import period_close, period_get_or_create, plays_calculate

        finance = _user("finance@zamio.demo")
        report = plays_calculate()
        self.log(f"  priced {report.calculated} play(s)")
        period = period_get_or_create(month=timezone.localdate().replace(day=1))
        period = period_close(period_id=period.pk, actor=finance)
        period.refresh_from_db()
        self.log(
            f"  {period.label}: {period.get_status_display()}, gross GHS "
            f"{_money(period.gross_total)}; shares by payee:"
        )
        totals = (
            RoyaltyLine.objects.filter(period=period)
            .values("payee_key", "payee_type", "contributor__name", "publisher__name", "role")
            .annotate(amount=Sum("amount"))
            .order_by("-amount")
        )
        for row in totals:
            name = row["publisher__name"] or row["contributor__name"]
            if not name:
                cmo = row["role"] == "cmo_fee"
                name = f"{settings.ROYALTIES_CMO_NAME} (CMO)" if cmo else row["payee_key"]
            self.log(f"    {name:<26} {row['role']:<16} GHS {_money(row['amount']):>8}")

    def pay_out(self) -> None:
        from artists.models import IdType, KycDocumentKind
        from artists.services import KycFile, kyc_approve, kyc_submit, payout_details_set
        from users.models import OtpPurpose
        from users.services import otp_request
        from wallets.models import Withdrawal
        from wallets.selectors import wallet_balance
        from wallets.services import withdrawal_request

        artist = _user("artist@zamio.demo")
        support = _user("support@zamio.demo")
        submission = kyc_submit(
            user=artist,
            id_type=IdType.GHANA_CARD,
            id_number="GHA-123456789-0",
            documents=[
                KycFile(
                    kind=KycDocumentKind.ID_FRONT,
                    file=SimpleUploadedFile("ghana-card.png", _png(), content_type="image/png"),
                )
            ],
        )
        kyc_approve(actor=support, submission=submission)
        self.log("  KYC: Ghana Card submitted by Kwame, approved by support")
        with transaction.atomic():
            otp_request(user=artist, purpose=OtpPurpose.PAYOUT_DETAILS)
        code = _last_sms_code()
        payout_details_set(user=artist, msisdn="0241234567", network="mtn", otp_code=code)
        self.log(f"  MoMo number 024 123 4567 (MTN) confirmed with SMS code {code}")
        balance = wallet_balance(user=artist)
        amount = balance.available.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        self.log(f"  Kwame's wallet: GHS {_money(balance.available)} available")
        if amount < settings.WALLETS_MIN_WITHDRAWAL:
            self.log(f"  (below the GHS {settings.WALLETS_MIN_WITHDRAWAL} minimum: no withdrawal)")
            return
        withdrawal = withdrawal_request(user=artist, amount=amount, request_key="demo-payout")
        withdrawal = Withdrawal.objects.get(pk=withdrawal.pk)
        self.log(
            f"  Withdrawal of GHS {_money(withdrawal.amount)} to MoMo: {withdrawal.status} "
            f"(provider {withdrawal.provider}, reference {withdrawal.reference_id})"
        )
        after = wallet_balance(user=artist)
        self.log(
            f"  Wallet now GHS {_money(after.available)} available, "
            f"GHS {_money(after.paid_out)} paid out"
        )

    def print_logins(self, users, host: str, port: int) -> None:
        base = f"http://{host}:{port}"
        self.log("")
        self.log(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for user in users:
            label = user.role + (f" / {user.staff_role}" if user.staff_role else "")
            self.log(f"  {user.email:<24} {label}")
        self.log("")
        self.log(f"  Live monitor  {base}/            (station@ or a staff login)")
        self.log(f"  API docs      {base}/api/docs/")
        self.log(f"  Health        {base}/api/v1/health/")
        self.log(f"  Django admin  {base}/admin/")


def _money(value) -> Decimal:
    # SQLite sums decimals in floating point; show pesewas, as the ledger keeps them.
    return Decimal(value).quantize(Decimal("0.01"))


def _last_sms_code() -> str:
    """The code of the last SMS the file gateway wrote (the demo's phone)."""
    import json
    import re

    lines = settings.SMS_FILE_PATH.read_text(encoding="utf-8").splitlines()
    for line in reversed(lines):
        found = re.search(r"\b(\d{6})\b", json.loads(line)["body"])
        if found:
            return found.group(1)
    raise CommandError(f"No SMS code found in {settings.SMS_FILE_PATH}.")


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 40), (20, 33, 61)).save(buffer, format="PNG")
    return buffer.getvalue()
