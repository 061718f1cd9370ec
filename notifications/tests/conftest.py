from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _eager_celery():
    """Runs queued tasks in-process. The root conftest asks for this through the environment,
    but pytest-django has loaded the settings by then, so it is set on the app here."""
    from zamio.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
