"""Celery faults: real workers killed mid-task, rolled-back transactions, delays vs. visibility.

Workers are real `celery -A zamio worker` processes on the Redis broker and the test
database (so every row the test commits is theirs to see, and the other way round),
started with a 10 s Redis visibility timeout so a message a killed worker held comes
back within the test. Each worker uses the solo pool: the task runs in the worker's own
process, and SIGKILL takes the task down with it, with no chance to ack or requeue.

What makes redelivery safe is configuration (acks_late: a message is acked only after
its task returned; reject_on_worker_lost: a pool child lost mid-task is requeued; a
prefetch of 1: a worker holds no message it is not running) plus idempotent tasks. The
first test reads that configuration back from a running worker; the next two kill a
worker in the middle of a detection task and of a payout and count the outcome.
"""

from __future__ import annotations

import ast
import inspect
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings as django_settings
from django.db import connection, transaction

from detections.models import MatchCache, PlayLog
from detections.tests.factories import StationFactory
from notifications.models import Notification
from stations.models import StreamLink
from stream_capture.testing import serve_stream
from tests.hardening.conftest import SR, make_catalogue, talk
from wallets import selectors as wallet_selectors
from wallets import services as wallet_services
from wallets.models import JournalEntry, Withdrawal, WithdrawalStatus
from wallets.tests import mtn_server
from wallets.tests.factories import fund, make_payee
from wallets.tests.mtn_server import FakeMtnServer
from zamio.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
VISIBILITY_TIMEOUT = 10
QUEUES = ("default", "capture", "fingerprint", "royalties", "payouts")

if not os.environ.get("REDIS_URL", "").startswith("redis"):
    pytest.skip("the Celery fault tests need Redis (REDIS_URL)", allow_module_level=True)


def _test_database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{credentials}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """One `celery -A zamio worker` process on the test database: the solo pool (the task
    runs in the worker process itself) or a prefork pool of one child."""

    def __init__(self, name: str, log_dir: Path, env: dict[str, str], pool: str = "solo"):
        self.name = f"{name}@faults"
        self.log_path = log_dir / f"{name}.log"
        self.env = env
        self.pool = pool
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "zamio",
                "worker",
                "--pool",
                self.pool,
                "--concurrency",
                "1",
                "--queues",
                ",".join(QUEUES),
                "--hostname",
                self.name,
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing it starts outlives it
        )
        log.close()
        # Before "ready." a worker preloads the index and gets the matcher's kernels ready:
        # compiled (15-20 s of CPU on a slow machine) when the kernel cache is empty, as in
        # a fresh clone, while the other test process runs too.
        deadline = time.monotonic() + 120
        while b" ready." not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {self.name} did not start:\n{self.log()}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def pool_children(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no ack, no requeue; the broker keeps the message."""
        assert self.process is not None and self.process.poll() is None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def broker(transactional_db, settings):
    """Tasks go to Redis for real (the root fixture makes them eager), and start empty."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    _purge()
    yield celery_app
    _purge()


def _purge() -> None:
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            channel.queue_purge(queue)


def _queued() -> dict[str, int]:
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        return {
            queue: channel.queue_declare(queue=queue, passive=False).message_count
            for queue in QUEUES
        }


@pytest.fixture
def workers(broker, tmp_path):
    """Starts workers on demand (with extra env); every one is stopped at the end, before
    the test database is flushed."""
    started: list[Worker] = []
    base = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SMS_BACKEND": "locmem",
        "PYTHONUNBUFFERED": "1",
    }

    def start(name: str, pool: str = "solo", **env: str) -> Worker:
        worker = Worker(name, tmp_path, {**base, **env}, pool=pool)
        # Listed before it starts: one that never gets ready is stopped too (left running,
        # it would take later tests' messages from the same Redis database).
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def _wait_for(condition, *, timeout: float, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{worker.log()}" if worker else ""))


def _wait_past_visibility(since: float) -> None:
    """Until a message delivered before `since` is old enough for Redis to hand it out again.

    A starting worker restores such messages at once; one that starts earlier would only
    sweep again a restore interval later."""
    remaining = since + VISIBILITY_TIMEOUT + 1 - time.time()
    if remaining > 0:
        time.sleep(remaining)


# --- configuration -----------------------------------------------------------------------------
def test_redelivery_settings_are_in_settings_and_effective_in_a_running_worker(workers):
    assert django_settings.CELERY_TASK_ACKS_LATE is True
    assert django_settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert django_settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    worker = workers("config")

    replies = celery_app.control.inspect(destination=[worker.name], timeout=10).conf()

    # The worker reports its settings under their Django names (namespace CELERY).
    conf = replies[worker.name]
    assert conf["CELERY_TASK_ACKS_LATE"] is True
    assert conf["CELERY_TASK_REJECT_ON_WORKER_LOST"] is True
    assert conf["CELERY_WORKER_PREFETCH_MULTIPLIER"] == 1
    assert conf["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] == VISIBILITY_TIMEOUT
    assert conf["CELERY_TASK_ALWAYS_EAGER"] is False
    # No task opts out of late acks (a task-level acks_late=False would lose its message).
    for name, task in celery_app.tasks.items():
        if not name.startswith("celery."):
            assert task.acks_late is True, name


# --- a worker killed in the middle of a detection task ---------------------------------------
def test_a_detection_task_killed_mid_capture_is_redelivered_and_logs_one_play(
    workers, tmp_path, settings
):
    settings.TRACKS_RECORDING_MATCHER = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the catalogue is fingerprinted in-process
    celery_app.conf.task_always_eager = True
    song = make_catalogue(tmp_path / "catalogue", {"Highlife": (401, 80.0)})["Highlife"]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    station = StationFactory(sample_seconds=8, sample_interval_seconds=60)
    env = {
        "STREAM_CAPTURE_ALLOW_LOOPBACK": "1",
        "DETECTIONS_WINDOW_SECONDS": "6",
        "DETECTIONS_HOP_SECONDS": "3",
    }
    programme = np.concatenate([talk(11, 2), song.audio])

    with serve_stream(programme, SR, realtime=True) as url:
        StreamLink.objects.create(station=station, url=str(url), kind="primary")
        first = workers("detect-1", **env)
        # Given: one capture already logged the airing (8 s sample: three 6 s windows, at
        # 0, 1 and 2 s: a sample holds enough windows to confirm an airing).
        done = celery_app.send_task(
            "detections.capture_and_detect", kwargs={"station_id": station.pk}
        )
        # This process is no worker, but an in-process worker in an earlier test of the
        # session can leave Celery's "would block inside a task" guard set.
        assert done.get(timeout=60, disable_sync_subtasks=False) == 3
        play = PlayLog.objects.get(station=station)
        assert (play.track_id, play.window_count) == (song.track.pk, 3)

        # When: the next capture is killed while it records (it has connected to the stream).
        killed = celery_app.send_task(
            "detections.capture_and_detect", kwargs={"station_id": station.pk}
        )
        _wait_for(lambda: len(url.connections) == 2, timeout=30, what="capture 2", worker=first)
        delivered_by = time.time()
        time.sleep(2)
        first.kill()
        assert MatchCache.objects.filter(station=station).count() == 3  # it wrote nothing
        assert killed.state == "PENDING"
        assert _queued()["fingerprint"] == 0  # unacked: held aside, not back in the queue yet

        # Then: after the visibility timeout a second worker gets the same message again.
        _wait_past_visibility(delivered_by)
        second = workers("detect-2", **env)
        assert killed.get(timeout=60, disable_sync_subtasks=False) == 3

    assert len(url.connections) == 3  # capture 1, capture 2 killed, capture 2 redelivered
    assert "detections.capture_and_detect" in second.log()
    # One airing, one PlayLog: the redelivered capture heard later audio of the same airing
    # and extended the play instead of logging a second one.
    play = PlayLog.objects.get(station=station)
    assert (play.track_id, play.window_count) == (song.track.pk, 6)
    windows = list(MatchCache.objects.filter(station=station).values_list("captured_at", "play"))
    assert len(windows) == 6
    assert len({captured_at for captured_at, _ in windows}) == 6
    assert {play_id for _, play_id in windows} == {play.pk}
    # The song's second 0 aired 2 s into the programme; the play runs from the first
    # window that heard it to the end of the redelivered capture's last window.
    assert abs(play.alignment - (url.started_at.timestamp() + 2.0)) <= 1.0
    heard = sorted(captured_at for captured_at, _ in windows)
    # From the first window that heard it, or from the song's second 0 if the first capture
    # connected before the song began (how soon it connects depends on the machine's load).
    song_start = datetime.fromtimestamp(play.alignment, tz=UTC)
    assert abs((play.started_at - max(heard[0], song_start)).total_seconds()) < 0.001
    assert abs((play.ended_at - heard[-1]).total_seconds() - 6.0) <= 1.0
    assert (heard[3] - heard[2]).total_seconds() >= VISIBILITY_TIMEOUT  # the redelivery wait


# --- a worker killed in the middle of a payout ----------------------------------------------
@pytest.fixture
def mtn(settings):
    server = FakeMtnServer().start()
    settings.WALLETS_PAYOUT_PROVIDER = "momo_mtn"
    settings.WALLETS_PAYOUT_COOLING_OFF_HOURS = 0
    settings.WALLETS_APPROVAL_THRESHOLD = Decimal("1000.00")
    settings.WALLETS_MIN_WITHDRAWAL = Decimal("10.00")
    settings.MOMO_BASE_URL = server.url
    settings.MOMO_SUBSCRIPTION_KEY = mtn_server.SUBSCRIPTION_KEY
    settings.MOMO_API_USER = mtn_server.API_USER
    settings.MOMO_API_KEY = mtn_server.API_KEY
    settings.MOMO_TARGET_ENVIRONMENT = mtn_server.TARGET_ENVIRONMENT
    settings.MOMO_CURRENCY = "GHS"
    server.env = {
        "WALLETS_PAYOUT_PROVIDER": "momo_mtn",
        "WALLETS_PAYOUT_COOLING_OFF_HOURS": "0",
        "MOMO_BASE_URL": server.url,
        "MOMO_SUBSCRIPTION_KEY": mtn_server.SUBSCRIPTION_KEY,
        "MOMO_API_USER": mtn_server.API_USER,
        "MOMO_API_KEY": mtn_server.API_KEY,
        "MOMO_TARGET_ENVIRONMENT": mtn_server.TARGET_ENVIRONMENT,
        "MOMO_CURRENCY": "GHS",
        "MOMO_CONNECT_TIMEOUT_SECONDS": "2",
        # Longer than the test waits before the kill: the worker is still in the POST.
        "MOMO_TIMEOUT_SECONDS": "30",
    }
    yield server
    server.stop()


def _payee(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the OTP SMS is read back in-process
    celery_app.conf.task_always_eager = True
    payee = make_payee(msisdn="0241234567")
    fund(payee, "500.00")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    return payee


def _entries(withdrawal: Withdrawal, kind: str) -> int:
    return JournalEntry.objects.filter(idempotency_key=f"withdrawal:{withdrawal.pk}:{kind}").count()


def test_a_payout_killed_mid_transfer_is_redelivered_and_paid_once(workers, mtn, settings):
    payee = _payee(settings)
    # The provider takes the transfer, then hangs before answering: the worker is killed
    # with the money sent and no answer seen.
    mtn.fail_next("transfer", delay=60, after_processing=True)
    first = workers("payout-1", **mtn.env)

    withdrawal = wallet_services.withdrawal_request(user=payee, amount=Decimal("50.00"))
    assert withdrawal.status == WithdrawalStatus.APPROVED  # send task queued on commit
    reference = str(withdrawal.reference_id)
    _wait_for(lambda: mtn.state.created[reference] == 1, timeout=30, what="POST", worker=first)
    delivered_by = time.time()
    first.kill()
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.send_attempts) == (WithdrawalStatus.SENDING, 1)
    assert (_entries(withdrawal, "settle"), _entries(withdrawal, "release")) == (0, 0)

    _wait_past_visibility(delivered_by)
    second = workers("payout-2", **mtn.env)
    _wait_for(
        lambda: Withdrawal.objects.filter(
            pk=withdrawal.pk, status=WithdrawalStatus.SUCCEEDED
        ).exists(),
        timeout=60,
        what="the redelivered payout",
        worker=second,
    )

    withdrawal.refresh_from_db()
    transfer = mtn.state.transfers[reference]
    # The same transfer asked for twice (the redelivered POST got 409 and read the status),
    # made once: one payout at the provider, one settlement in the ledger.
    assert (mtn.state.posts[reference], mtn.state.created[reference]) == (2, 1)
    assert len(mtn.state.transfers) == 1
    assert (transfer["amount"], transfer["payee"]["partyId"]) == ("50.00", "233241234567")
    assert withdrawal.send_attempts == 2
    assert withdrawal.provider_transaction_id == transfer["financialTransactionId"]
    assert (_entries(withdrawal, "settle"), _entries(withdrawal, "release")) == (1, 0)
    assert wallet_selectors.wallet_balance(user=payee).available == Decimal("450.00")
    # The payee heard of each step once, the redelivery included.
    statuses = Notification.objects.filter(user=payee, kind="withdrawal_status").order_by("pk")
    assert list(statuses.values_list("context__status", flat=True)) == [
        "Approved",
        "Sending to provider",
        "Paid",
    ]


def test_a_pool_child_killed_mid_payout_is_requeued_at_once_and_paid_once(workers, mtn, settings):
    # reject_on_worker_lost at work: the worker's parent process sees its pool child die
    # mid-task and puts the message back in the queue itself, without waiting for Redis.
    payee = _payee(settings)
    mtn.fail_next("transfer", delay=60, after_processing=True)
    worker = workers("payout-prefork", pool="prefork", **mtn.env)
    [child] = worker.pool_children()

    withdrawal = wallet_services.withdrawal_request(user=payee, amount=Decimal("75.00"))
    reference = str(withdrawal.reference_id)
    _wait_for(lambda: mtn.state.created[reference] == 1, timeout=30, what="POST", worker=worker)
    killed_at = time.monotonic()
    os.kill(child, signal.SIGKILL)
    _wait_for(
        lambda: Withdrawal.objects.filter(
            pk=withdrawal.pk, status=WithdrawalStatus.SUCCEEDED
        ).exists(),
        timeout=30,
        what="the requeued payout",
        worker=worker,
    )

    # Sooner than the visibility timeout: the parent requeued it, Redis did not restore it.
    assert time.monotonic() - killed_at < VISIBILITY_TIMEOUT
    assert worker.process.poll() is None  # the worker lived on with a new child
    assert child not in worker.pool_children()
    assert "WorkerLostError" in worker.log()
    withdrawal.refresh_from_db()
    assert (mtn.state.posts[reference], mtn.state.created[reference]) == (2, 1)
    assert withdrawal.send_attempts == 2
    assert (_entries(withdrawal, "settle"), _entries(withdrawal, "release")) == (1, 0)
    assert wallet_selectors.wallet_balance(user=payee).available == Decimal("425.00")


# --- a rolled-back transaction queues nothing ----------------------------------------------------
def test_a_rolled_back_transaction_queues_no_task(broker, mtn, settings):
    payee = _payee(settings)
    assert _queued() == dict.fromkeys(QUEUES, 0)

    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        wallet_services.withdrawal_request(user=payee, amount=Decimal("50.00"))
        raise Refused  # e.g. a later step of the same request failed

    assert Withdrawal.objects.count() == 0
    assert _queued() == dict.fromkeys(QUEUES, 0)  # no payout, no notification delivery

    # The same call committed does queue its payout: the broker check above can fail.
    wallet_services.withdrawal_request(user=payee, amount=Decimal("50.00"))
    assert _queued()["payouts"] == 1


# --- no delay outlives the visibility timeout --------------------------------------------------
OUR_APPS = (
    "users",
    "artists",
    "stations",
    "tracks",
    "fingerprinting",
    "detections",
    "royalties",
    "wallets",
    "streaming",
    "stream_capture",
    "notifications",
    "zamio",
)


def _delays_in_code() -> set[tuple[str, str]]:
    """(module, function) of every call in app code that passes `countdown=` or `eta=`, or
    calls `.retry(` — each a message Redis holds unacked until it is due."""
    found = set()
    for app in OUR_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef):
                    continue
                for node in ast.walk(function):
                    if not isinstance(node, ast.Call):
                        continue
                    keywords = {kw.arg for kw in node.keywords}
                    is_retry = isinstance(node.func, ast.Attribute) and node.func.attr == "retry"
                    if keywords & {"countdown", "eta"} or is_retry:
                        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                        found.add((module, function.name))
    return found


def test_no_eta_retry_delay_or_run_time_exceeds_the_visibility_timeout(settings):
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    celery_app.loader.import_default_modules()
    tasks = {
        name: task for name, task in celery_app.tasks.items() if name.split(".")[0] in OUR_APPS
    }
    assert len(tasks) >= 20  # every app's tasks.py was found

    # Celery's own retries, computed as celery.app.autoretry does (without jitter, which only
    # shortens a delay): exponential backoff capped by retry_backoff_max (600 when unset),
    # else the retry_kwargs countdown or default_retry_delay.
    retrying = set()
    for name, task in tasks.items():
        if getattr(task, "autoretry_for", ()):
            retrying.add(name)
            backoff = float(getattr(task, "retry_backoff", False))
            if backoff:
                longest = max(
                    get_exponential_backoff_interval(
                        factor=int(max(1.0, backoff)),
                        retries=retries,
                        maximum=int(getattr(task, "retry_backoff_max", 600)),
                        full_jitter=False,
                    )
                    for retries in range(task.max_retries + 1)
                )
            else:
                retry_kwargs = getattr(task, "retry_kwargs", {})
                longest = retry_kwargs.get("countdown", task.default_retry_delay)
            assert longest < visibility, f"{name} may wait {longest} s before a retry"
        # A task still running when the timeout passes is handed to a second worker.
        limit = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        assert limit < visibility, f"{name} may run {limit} s"

    assert retrying == {
        "notifications.send_email",
        "notifications.send_sms",
        "royalties.recalculate_play",
        "wallets.refresh_withdrawal",
        "wallets.send_withdrawal",
    }

    # Delays computed in code. A new countdown/eta/retry call site fails here until its
    # bound is added to this table.
    from notifications.services import retry_delay
    from stream_capture.services import captures_schedule

    bounds = {
        ("notifications.tasks", "deliver"): max(
            retry_delay(attempt) for attempt in range(1, settings.NOTIFICATIONS_MAX_ATTEMPTS + 1)
        ),
        # countdown = a capture's due time within the schedule's horizon.
        ("stream_capture.services", "_capture_enqueue_on_commit"): inspect.signature(
            captures_schedule
        )
        .parameters["horizon_seconds"]
        .default,
        ("stream_capture.services", "_send"): inspect.signature(captures_schedule)
        .parameters["horizon_seconds"]
        .default,
        ("stream_capture.services", "captures_schedule"): inspect.signature(captures_schedule)
        .parameters["horizon_seconds"]
        .default,
    }
    sites = _delays_in_code()
    unaudited = sites - set(bounds)
    assert not unaudited, f"delays with no audited bound: {sorted(unaudited)}"
    assert ("notifications.tasks", "deliver") in sites
    for site, longest in bounds.items():
        assert longest < visibility, f"{site} may delay {longest} s"


def test_the_delay_audit_notices_a_delay_it_does_not_know(tmp_path, monkeypatch):
    """The source scan finds countdown=, eta= and .retry( calls (so the audit can fail)."""
    module = tmp_path / "notifications" / "extra.py"
    module.parent.mkdir()
    module.write_text(
        "def later(task):\n"
        "    task.apply_async(countdown=7200)\n"
        "def again(self):\n"
        "    raise self.retry(exc=None)\n"
        "def at(task, when):\n"
        "    task.apply_async(eta=when)\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _delays_in_code() == {
        ("notifications.extra", "later"),
        ("notifications.extra", "again"),
        ("notifications.extra", "at"),
    }
