"""Project-wide test fixtures. Tests run on real PostgreSQL and Redis (see Makefile)."""

from __future__ import annotations

import os

# Under pytest-xdist each worker gets its own Redis database: Django's cache.clear()
# flushes a whole database, and workers must not wipe each other's state.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.environ.get("REDIS_URL"):
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    if _db.isdigit():
        _own = f"{_base}/{int(_db) + 1 + int(_worker.removeprefix('gw'))}"
        os.environ["REDIS_URL"] = _own
        # pytest-django has read the settings before this file runs, so what they built
        # from REDIS_URL must be pointed at the worker's database too (nothing has
        # connected yet: the cache, channel layer and Celery connect on first use).
        from django.conf import settings as _settings

        _shared = _settings.REDIS_URL
        _settings.REDIS_URL = _own
        for _name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            if getattr(_settings, _name) == _shared:
                setattr(_settings, _name, _own)
        if _settings.CACHES["default"].get("LOCATION") == _shared:
            _settings.CACHES["default"]["LOCATION"] = _own
        _layer = _settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
        if _layer.get("hosts") == [_shared]:
            _layer["hosts"] = [_own]

import pytest  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_state(settings, tmp_path):
    """Fresh cache (throttles), SMS outbox and media folders for every test."""
    from django.core.cache import cache

    from notifications import sms
    from zamio.celery import app as celery_app

    # Tasks run inline unless a test starts a real worker. Set on the Celery app itself:
    # pytest-django loads settings before this file runs, and Celery caches its config.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    eager_before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    settings.SMS_BACKEND = "locmem"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None},
        },
    }
    from fingerprinting.catalog_index import catalog_index_reset

    cache.clear()
    sms.outbox.clear()
    catalog_index_reset()  # the in-memory index must not outlive the test's rows
    yield
    cache.clear()
    celery_app.conf.task_always_eager = eager_before


class CommittingAPIClient(APIClient):
    """An API client whose requests end like real ones: the on_commit callbacks they
    registered (queued tasks, emails, broadcasts) run when the request returns.

    pytest-django wraps each test in a transaction that never commits, so without
    this no on_commit callback would ever run in an API test.
    """

    def request(self, **kwargs):
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            return super().request(**kwargs)


@pytest.fixture
def api_client() -> APIClient:
    return CommittingAPIClient()


def make_user(
    role: str = "artist",
    *,
    staff_role: str = "",
    email: str | None = None,
    password: str = "Str0ng-pass-123",
    verified: bool = True,
    **extra,
):
    from django.utils import timezone

    from users.models import User

    count = User.objects.count()
    email = email or f"{role}{'-' + staff_role if staff_role else ''}-{count}@example.test"
    return User.objects.create_user(
        email,
        password,
        role=role,
        staff_role=staff_role,
        is_staff=role == "admin",
        is_superuser=staff_role == "superadmin",
        email_verified_at=timezone.now() if verified else None,
        **extra,
    )


@pytest.fixture
def user_factory(db):
    return make_user


@pytest.fixture
def client_for(db):
    """An API client authenticated with a real JWT for the given user."""

    def _client(user) -> APIClient:
        from users.services import tokens_for_user

        client = CommittingAPIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user)['access']}")
        return client

    return _client
