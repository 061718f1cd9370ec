"""The Celery application. Tasks live in each app's tasks.py; the schedule in zamio.beat."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zamio.settings")

app = Celery("zamio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _load_schedule(sender, **kwargs):
    from zamio.beat import BEAT_SCHEDULE

    sender.conf.beat_schedule = BEAT_SCHEDULE


app.on_after_configure.connect(_load_schedule)
