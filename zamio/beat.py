"""The whole Celery Beat schedule, in one place.

Each entry names a task by its stable `name=`; apps add their periodic tasks
here rather than declaring schedules of their own.
"""

from celery.schedules import crontab  # noqa: F401  (used as apps add entries)

BEAT_SCHEDULE: dict[str, dict] = {
    "users-purge-expired-tokens": {
        "task": "users.purge_expired_tokens",
        "schedule": 3600.0,
        "options": {"queue": "default", "expires": 3000},
    },
    "wallets-poll-stuck-withdrawals": {
        "task": "wallets.poll_stuck_withdrawals",
        "schedule": 300.0,
        "options": {"queue": "payouts", "expires": 280},
    },
    "wallets-reconcile-ledger": {
        "task": "wallets.reconcile_ledger",
        "schedule": crontab(hour=2, minute=15),
        "options": {"queue": "payouts", "expires": 3600},
    },
}
