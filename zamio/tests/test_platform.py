"""Settings, health and the error shape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k7#Vq2!pLm9@zX4$wR8&nB3^tY6*uE1(oI5)aS0-dF7+gH2=jK9",
    "ALLOWED_HOSTS": "zamio.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://zamio.example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _python(code: str, *, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`code` run by a fresh interpreter after django.setup() with these settings."""
    setup = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='zamio.settings';django.setup();"
    )
    return subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_boot_without_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


@pytest.mark.django_db
def test_health_reports_database_and_cache(api_client):
    response = api_client.get("/api/v1/health/")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["database"]["vendor"] == "postgresql"
    assert checks["cache"] == {**checks["cache"], "status": "ok", "backend": "RedisCache"}


@pytest.mark.django_db
def test_trace_id_is_echoed_and_accepted_from_proxy(api_client):
    response = api_client.get("/api/v1/health/", HTTP_X_REQUEST_ID="abcdef12-3456")
    assert response["X-Trace-Id"] == "abcdef12-3456"

    generated = api_client.get("/api/v1/health/", HTTP_X_REQUEST_ID="bad id; drop")
    assert generated["X-Trace-Id"] != "bad id; drop"
    assert len(generated["X-Trace-Id"]) == 32


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/auth/login/" in paths
    assert "/api/v1/health/" in paths
    assert api_client.get("/api/docs/").status_code == 200


def test_settings_without_environment_are_the_embedded_default():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER")
    }
    result = _python(
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER,"
        " s.CHANNEL_LAYERS['default']['BACKEND'], s.TIME_ZONE, s.CURRENCY)",
        env=env,
    )

    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "True",
        "channels.layers.InMemoryChannelLayer",
        "Africa/Accra",
        "GHS",
    ], result.stderr


@pytest.mark.django_db
def test_postgresql_queries_run_serially_and_a_urls_own_options_are_kept():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone() == ("0",)

    url = os.environ["DATABASE_URL"]
    env = {
        **os.environ,
        "DATABASE_URL": url + ("&" if "?" in url else "?") + "options=-c%20work_mem%3D8MB",
        "DATABASE_PARALLEL_WORKERS": "1",
    }
    result = _python(
        "from django.db import connection; c = connection.cursor();"
        "c.execute('SHOW max_parallel_workers_per_gather'); print(c.fetchone()[0]);"
        "c.execute('SHOW work_mem'); print(c.fetchone()[0])",
        env=env,
    )
    assert result.stdout.split() == ["1", "8MB"], result.stderr

    refused = _manage("check", env={"DATABASE_PARALLEL_WORKERS": "-1"})
    assert refused.returncode != 0
    assert "DATABASE_PARALLEL_WORKERS must be 0 or more" in refused.stderr
