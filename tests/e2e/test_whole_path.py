"""The whole path, as it runs in production: a radio station on air, sampled by Beat's
schedule, captured and matched by a real Celery worker, logged as plays, priced, closed
into a month, credited to the artist's wallet, withdrawn to mobile money through the
sandbox provider, and told to the people concerned.

The test process plays the users (finance, support, the artist) through the services and
the API; every task goes through Redis to a worker subprocess (`celery -A zamio worker`),
and the captures are queued by `celery -A zamio beat` running zamio/beat.py's schedule.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.utils import timezone

from conftest import make_user
from fingerprinting import synth
from tests.processes import celery_beat, celery_worker, process_env, running, wait_for

pytestmark = pytest.mark.slow

SR = 44100
SONG_SECONDS = 30
RATE_A = Decimal("0.500000")  # GHS per second, class A
MULTIPLIER = Decimal("1.5")  # the one band covers the whole day
CMO_FEE_PERCENT = Decimal("10")
ARTIST_SHARE_BP = {"Adowa Sunrise": 7000, "Kumasi Nights": 10000}
COMPOSER_SHARE_BP = 3000  # of Adowa Sunrise, to a songwriter with no account
BOUNDARY_TOLERANCE = 5.0  # seconds: a window this close to a change of item is not judged


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """The split rule, written out again from its definition: floors, then the leftover
    pesewas to the largest remainders (ties to the earlier weight)."""
    whole = sum(weights)
    floors = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[: total - sum(floors)]:
        floors[i] += 1
    return floors


def _programme():
    """Talk, two catalogue songs, talk between them, and a song not in the catalogue that
    runs long enough after the second song for the tracker to see it has ended."""
    songs = {
        "Adowa Sunrise": synth.song(101, SONG_SECONDS, sr=SR),
        "Kumasi Nights": synth.song(102, SONG_SECONDS, sr=SR),
    }
    seg = synth.Segment
    audio, aired = synth.programme(
        [
            seg(synth.talk(1, 5, sr=SR)),
            seg(songs["Adowa Sunrise"], "Adowa Sunrise"),
            seg(synth.talk(2, 4, sr=SR)),
            seg(songs["Kumasi Nights"], "Kumasi Nights"),
            # Seed 555 shares no 10 s stretch with the catalogue at the candidate threshold.
            # (Seed 999 does: windows 30-38 s of it match song 101 at 0.55 with one
            # alignment, and two such windows make a low-confidence false play.)
            seg(synth.song(555, 50, sr=SR), "not in the catalogue"),
        ],
        sr=SR,
    )
    return audio, aired, songs


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 20), (20, 33, 61)).save(buffer, format="PNG")
    return buffer.getvalue()


def _sms_code(path, phone_digits: str) -> str | None:
    if not path.exists():
        return None
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        message = json.loads(line)
        found = re.search(r"\b(\d{6})\b", message["body"])
        if found and message["to"].endswith(phone_digits):
            return found.group(1)
    return None


@pytest.mark.django_db(transaction=True)
def test_a_song_on_air_ends_as_mobile_money_for_its_artist(settings, tmp_path, client_for):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from artists.models import IdType, KycDocumentKind
    from artists.services import (
        KycFile,
        artist_get_or_create_by_name,
        artist_profile_create,
        kyc_approve,
        kyc_submit,
        payout_details_set,
    )
    from detections.models import MatchCache, PlayLog
    from notifications.models import Delivery, Notification
    from royalties.models import PlayRoyalty, RoyaltyLine, RoyaltyPeriod
    from royalties.services import month_of, rate_card_create
    from stations.models import StationClass
    from stations.services import (
        station_create,
        station_set_monitoring,
        station_update,
        station_verify,
        stream_link_create,
    )
    from stream_capture.models import CaptureAttempt
    from stream_capture.testing import serve_stream
    from tracks.models import Contributor, Track
    from tracks.services import ShareInput, splits_set, track_create_from_file
    from users.models import OtpPurpose
    from users.services import otp_request
    from wallets.models import SandboxTransfer, Withdrawal
    from wallets.selectors import wallet_balance
    from wallets.services import withdrawal_request
    from zamio.beat import BEAT_SCHEDULE
    from zamio.celery import app as celery_app

    if not settings.REDIS_URL or "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("the end-to-end test needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")

    # This process queues through the broker too, like a web process would.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    settings.STREAM_CAPTURE_ALLOW_LOOPBACK = True
    settings.TRACKS_RECORDING_MATCHER = ""  # synthesised songs are not duplicates
    settings.ROYALTIES_ALLOW_EARLY_CLOSE = True
    settings.WALLETS_PAYOUT_COOLING_OFF_HOURS = 0
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = tmp_path / "sms.log"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    env = process_env(
        tmp_path, ROYALTIES_ALLOW_EARLY_CLOSE="1", WALLETS_PAYOUT_COOLING_OFF_HOURS="0"
    )
    logs = tmp_path / "logs"
    began = time.monotonic()

    def phase(name: str) -> None:  # shown with the output of a failing run
        print(f"{time.monotonic() - began:6.1f} s  {name}")

    # --- Given: people, a rate card ------------------------------------------------------
    finance = make_user("admin", staff_role="finance", email="finance@e2e.test")
    support = make_user("admin", staff_role="support", email="support@e2e.test")
    artist_user = make_user("artist", email="kwame@e2e.test", phone="+233241110000")
    station_user = make_user("station", email="station@e2e.test")
    kwame = artist_profile_create(user=artist_user, stage_name="Kwame Highlife")
    composer = artist_get_or_create_by_name(stage_name="Efua Composer")
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rate_card_create(
        actor=finance,
        name="E2E card",
        effective_from=month_start,
        cmo_fee_percent=CMO_FEE_PERCENT,
        min_play_seconds=Decimal("10"),
        rates={c: (RATE_A if c == "A" else Decimal("0.1")) for c in StationClass.values},
        bands=[{"name": "all_day", "start_minute": 0, "end_minute": 1440, "multiplier": "1.5"}],
    )
    audio, aired, songs = _programme()
    catalogue_aired = [a for a in aired if a.label in songs]

    with running("worker", celery_worker("e2e"), env=env, logs=logs) as worker:
        # --- The catalogue: stored here, fingerprinted by the worker ----------------------
        tracks = {}
        for title, samples in songs.items():
            path = synth.write_wav(tmp_path / f"{title}.wav", samples, sr=SR)
            tracks[title] = track_create_from_file(
                path=str(path), title=title, primary_artist=kwame, created_by=support
            )
        splits_set(
            actor=support,
            track=tracks["Adowa Sunrise"],
            shares=[
                ShareInput(role="performer", basis_points=7000, artist_id=kwame.pk),
                ShareInput(role="composer", basis_points=3000, artist_id=composer.pk),
            ],
        )
        splits_set(
            actor=support,
            track=tracks["Kumasi Nights"],
            shares=[ShareInput(role="performer", basis_points=10000, artist_id=kwame.pk)],
        )
        wait_for(
            lambda: Track.objects.filter(fingerprint_status="ready").count() == 2,
            timeout=90,
            what="the worker to fingerprint the catalogue",
            procs=[worker],
        )
        phase("catalogue fingerprinted by the worker")

        with serve_stream(audio, SR, loop=True) as url:
            on_air_zero = url.started_at
            # --- A station registers its stream; support verifies it and sets sampling --
            station = station_create(
                actor=station_user, name="E2E FM", station_class="A", slug="e2e-fm"
            )
            station_verify(actor=support, station=station)
            station = station_update(
                actor=support, station=station, sample_seconds=20, sample_interval_seconds=20
            )
            station_set_monitoring(actor=support, station=station, enabled=True)
            link = stream_link_create(actor=station_user, station=station, url=str(url))

            # Beat runs zamio/beat.py's schedule unchanged (schedule_samples every 60 s,
            # queueing each capture due within the next minute). Its first tick would come
            # 60 s after Beat starts: the entry is recorded as last run a minute ago, as it
            # would be on a Beat that has been up for a while, so the first tick is now.
            entry = BEAT_SCHEDULE["stream-capture-schedule-samples"]
            every = IntervalSchedule.objects.create(
                every=int(entry["schedule"]), period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(
                name="stream-capture-schedule-samples",
                task=entry["task"],
                interval=every,
                last_run_at=timezone.now() - timedelta(seconds=entry["schedule"]),
            )
            with running("beat", celery_beat(), env=env, logs=logs) as beat:
                # --- Then: both songs are heard, logged, and ended --------------------
                wait_for(
                    lambda: PlayLog.objects.filter(station=station, is_open=False).count() >= 2,
                    timeout=170,
                    what="both airings to be logged and closed",
                    procs=[worker, beat],
                    every=2,
                )
            phase("both plays logged and closed")
            # Beat is stopped; switching monitoring off makes captures still queued exit
            # without capturing. Wait for the running ones to finish.
            station_set_monitoring(actor=support, station=station, enabled=False)
            inspector = celery_app.control.inspect(timeout=2)
            wait_for(
                lambda: (
                    not any(
                        task["name"] == "detections.capture_and_detect"
                        for tasks in (inspector.active() or {}).values()
                        for task in tasks
                    )
                ),
                timeout=60,
                what="the last capture to finish",
                procs=[worker],
                every=2,
            )

        phase("captures finished")

        # Windows: every capture of 20 s gives three 10 s windows (hop 5 s).
        samples = CaptureAttempt.objects.filter(link=link, ok=True, seconds__gte=15)
        windows = list(MatchCache.objects.filter(station=station).order_by("captured_at"))
        assert samples.count() >= 5
        assert len(windows) == 3 * samples.count()
        judged = dict.fromkeys([*songs, "other"], 0)
        for window in windows:
            start = (window.captured_at - on_air_zero).total_seconds() % (audio.size / SR)
            end = start + float(window.window_seconds)
            inside = [
                a
                for a in aired
                if a.start + BOUNDARY_TOLERANCE <= start and end <= a.end - BOUNDARY_TOLERANCE
            ]
            if not inside and any(
                abs(start - edge) < BOUNDARY_TOLERANCE or abs(end - edge) < BOUNDARY_TOLERANCE
                for a in aired
                for edge in (a.start, a.end)
            ):
                continue  # straddles a change of item: either answer is right
            matches = list(
                window.matches.order_by("-confidence").values_list("track__title", "confidence")
            )
            if inside and inside[0].label in songs:
                # The song, verified, is the best match of a window inside it.
                assert matches and matches[0][0] == inside[0].label, (start, end, matches)
                assert matches[0][1] >= settings.FINGERPRINT_VERIFIED_THRESHOLD, matches
                judged[inside[0].label] += 1
            else:
                # Talk and other music: at most a low-confidence candidate, kept for review.
                assert all(c < settings.FINGERPRINT_VERIFIED_THRESHOLD for _, c in matches), (
                    start,
                    end,
                    matches,
                )
                judged["other"] += 1
        assert min(judged.values()) >= 1, judged  # how many depends on the sampling phase
        phase(f"windows judged: {judged}")

        # Plays: one per airing, start and end within 5 s of the truth.
        plays = list(PlayLog.objects.filter(station=station).order_by("started_at"))
        assert [(p.track.title, p.verification_status) for p in plays] == [
            (a.label, "verified") for a in catalogue_aired
        ], [(p.track.title, p.started_at, p.verification_status) for p in plays]
        for play, truth in zip(plays, catalogue_aired, strict=True):
            aired_start = on_air_zero + timedelta(seconds=truth.start)
            aired_end = on_air_zero + timedelta(seconds=truth.end)
            assert abs((play.started_at - aired_start).total_seconds()) <= 5, play.started_at
            assert abs((play.ended_at - aired_end).total_seconds()) <= 5, play.ended_at
            assert play.verification_status == "verified"
            assert play.royalty_bearing is True
            assert play.duration_seconds == Decimal(
                (play.ended_at - play.started_at).total_seconds()
            ).quantize(play.duration_seconds)

        # --- Royalties: the Beat task that prices plays, run now through the broker ---
        result = celery_app.send_task(BEAT_SCHEDULE["royalties-calculate-plays"]["task"])
        # This process is no worker, but an in-process worker in an earlier test of the
        # session leaves Celery's "would block inside a task" guard set.
        result.get(timeout=60, disable_sync_subtasks=False)
        fee_bp = int(CMO_FEE_PERCENT * 100)
        kwame_contributor = Contributor.objects.get(artist=kwame)
        composer_contributor = Contributor.objects.get(artist=composer)
        artist_total = Decimal(0)
        for play in plays:
            royalty = PlayRoyalty.objects.get(play=play)
            exact = play.duration_seconds * RATE_A * MULTIPLIER
            gross = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            assert royalty.gross == gross
            cents = int(gross * 100)
            net_bp = 10000 - fee_bp
            shares = [ARTIST_SHARE_BP[play.track.title]]
            if play.track.title == "Adowa Sunrise":
                shares.append(COMPOSER_SHARE_BP)
            parts = largest_remainder(cents, [fee_bp * 10000] + [net_bp * bp for bp in shares])
            lines = {
                (line.payee_type, line.role, line.contributor_id): line.amount
                for line in RoyaltyLine.objects.filter(play=play).select_related("contributor")
            }
            expected = {
                ("cmo", "cmo_fee", None): Decimal(parts[0]) / 100,
                ("contributor", "performer", kwame_contributor.pk): Decimal(parts[1]) / 100,
            }
            if len(parts) == 3:
                expected[("contributor", "composer", composer_contributor.pk)] = (
                    Decimal(parts[2]) / 100
                )
            assert lines == expected
            assert sum(lines.values()) == gross
            artist_total += Decimal(parts[1]) / 100
        assert PlayLog.objects.filter(royalty_status="calculated").count() == 2

        phase("plays priced")

        # --- Finance closes the month over the API; the worker does the close ---------
        period = RoyaltyPeriod.objects.get(month=month_of(plays[0].started_at))
        response = client_for(finance).post(f"/api/v1/royalties/periods/{period.pk}/close/")
        assert response.status_code == 202, response.content
        wait_for(
            lambda: RoyaltyPeriod.objects.filter(pk=period.pk, status="closed").exists(),
            timeout=60,
            what="the period to close",
            procs=[worker],
        )
        period.refresh_from_db()
        gross_total = PlayRoyalty.objects.filter(period=period).aggregate(s=Sum("gross"))["s"]
        assert period.gross_total == gross_total
        assert period.plays_count == 2
        assert period.payees_total + period.cmo_fee_total == gross_total
        assert set(PlayLog.objects.values_list("royalty_status", flat=True)) == {"distributed"}
        balance = wallet_balance(user=artist_user)
        assert balance.available == artist_total

        phase("period closed")

        # --- The artist: KYC, a MoMo number confirmed by SMS, a withdrawal -------------
        submission = kyc_submit(
            user=artist_user,
            id_type=IdType.GHANA_CARD,
            id_number="GHA-123456789-0",
            documents=[
                KycFile(
                    kind=KycDocumentKind.ID_FRONT,
                    file=SimpleUploadedFile("card.png", _png(), content_type="image/png"),
                )
            ],
        )
        kyc_approve(actor=support, submission=submission)
        otp_request(user=artist_user, purpose=OtpPurpose.PAYOUT_DETAILS)
        code = wait_for(
            lambda: _sms_code(settings.SMS_FILE_PATH, "241110000"),
            timeout=30,
            what="the worker to text the payout-details code",
            procs=[worker],
        )
        payout_details_set(user=artist_user, msisdn="0241110000", network="mtn", otp_code=code)
        withdrawal = withdrawal_request(user=artist_user, amount=artist_total, request_key="e2e")
        assert withdrawal.requires_approval is False  # below the approval threshold
        wait_for(
            lambda: Withdrawal.objects.filter(pk=withdrawal.pk, status="succeeded").exists(),
            timeout=60,
            what="the sandbox payout to succeed",
            procs=[worker],
        )
        transfer = SandboxTransfer.objects.get()
        assert (transfer.amount, transfer.msisdn) == (artist_total, "233241110000")
        after = wallet_balance(user=artist_user)
        assert (after.available, after.paid_out) == (Decimal("0.00"), artist_total)

        phase("withdrawal paid out")

        # --- Notifications: written for each event and delivered by the worker ---------
        def delivered() -> bool:
            return not Delivery.objects.exclude(status__in=["sent", "skipped"]).exists()

        wait_for(delivered, timeout=60, what="every notification to be delivered")
        kinds = set(Notification.objects.filter(user=artist_user).values_list("kind", flat=True))
        assert {
            "royalty_statement_ready",
            "withdrawal_status",
            "kyc_decision",
            "payout_details_changed",
            "first_play_on_station",
        } <= kinds
        assert Notification.objects.filter(user=station_user, kind="invoice_issued").count() == 1
        told = Notification.objects.filter(user=artist_user, kind="withdrawal_status")
        assert list(told.order_by("created_at", "pk").values_list("title", flat=True)) == [
            "Withdrawal approved",
            "Withdrawal on its way",
            "Withdrawal paid",
        ]
        succeeded = told.get(title="Withdrawal paid")
        assert succeeded.body.startswith(f"GHS {artist_total:,.2f} was paid to MTN ")
        assert Delivery.objects.filter(notification=succeeded, status="sent").count() == 3
        phase("notifications delivered")
