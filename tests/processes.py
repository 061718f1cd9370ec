"""Real processes for the cross-app tests: a Celery worker, Celery Beat, Daphne.

Each runs as a subprocess of the test, on the test's own PostgreSQL database (the
`test_…` one pytest-django created) and its Redis, so it sees what a
`django_db(transaction=True)` test commits and the test sees what it writes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from django.conf import settings
from django.db import close_old_connections

T = TypeVar("T")

QUEUES = "default,capture,fingerprint,royalties,payouts"
ROOT = Path(__file__).resolve().parent.parent


def current_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_ database)."""
    db = settings.DATABASES["default"]
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{db['NAME']}"


def process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess: the test's database and Redis, real (not eager)
    Celery, the test's media folders, and file gateways for email and SMS."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT),
            "STREAM_CAPTURE_ALLOW_LOOPBACK": "1",
            "SMS_BACKEND": "file",
            "SMS_FILE_PATH": str(tmp_path / "sms.log"),
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp_path / "mail"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def python_ok(
    script: str, *argv: str, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess:
    """Runs `python -c script argv...` from the repository with `env` (a fresh interpreter:
    what a newly started process does) and fails the test, with the tail of its stderr,
    unless it exits 0 with "ok" as the last line it printed."""
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1:] == ["ok"], done.stdout[-2000:]
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(
    name: str, args: list[str], *, env: dict[str, str], logs: Path
) -> Iterator[subprocess.Popen]:
    """Starts `python -m <args>` in its own process group; stops the group on exit, and on
    a failure inside the block prints the tail of its log."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        except BaseException:
            sys.stderr.write(f"\n--- {name} log (tail) ---\n{log_tail(log_path)}\n")
            raise
        finally:
            stop(proc)


def stop(proc: subprocess.Popen, *, timeout: float = 15) -> None:
    """SIGTERM to the process group (a Celery worker takes its pool children with it),
    SIGKILL if it has not gone within `timeout`."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def log_tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def celery_worker(name: str, *, concurrency: int = 3) -> list[str]:
    return [
        "celery",
        "-A",
        "zamio",
        "worker",
        "-l",
        "warning",
        "-Q",
        QUEUES,
        "--concurrency",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]


def celery_beat() -> list[str]:
    # The scheduler is settings.CELERY_BEAT_SCHEDULER (django_celery_beat's database one),
    # loaded from zamio/beat.py by the Celery app; --max-interval only makes it look often.
    return ["celery", "-A", "zamio", "beat", "-l", "warning", "--max-interval", "2"]


def wait_for(
    check: Callable[[], T], *, timeout: float, what: str, every: float = 0.5, procs=()
) -> T:
    """Polls `check` (reading the database afresh each time) until it returns something
    truthy; fails naming `what` after `timeout` seconds or when a watched process died."""
    deadline = time.monotonic() + timeout
    while True:
        close_old_connections()
        value = check()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"{proc.args[2:5]} exited ({proc.returncode}) while {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
