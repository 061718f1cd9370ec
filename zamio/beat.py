"""The whole Celery Beat schedule, in one place.

Each entry names a task by its stable `name=`; apps add their periodic tasks
here rather than declaring schedules of their own.
"""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    "users-purge-expired-tokens": {
        "task": "users.purge_expired_tokens",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "notifications-requeue-stuck-deliveries": {
        "task": "notifications.requeue_stuck_deliveries",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
    "notifications-purge-old": {
        "task": "notifications.purge_old_notifications",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3600},
    },
    "tracks-requeue-stale-imports": {
        "task": "tracks.requeue_stale_imports",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    "stream-capture-schedule-samples": {
        "task": "stream_capture.schedule_samples",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "stream-capture-prune-attempts": {
        "task": "stream_capture.prune_attempts",
        "schedule": crontab(hour=3, minute=50),
        "options": {"expires": 3600},
    },
    "wallets-poll-stuck-withdrawals": {
        "task": "wallets.poll_stuck_withdrawals",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
    "wallets-reconcile-ledger": {
        "task": "wallets.reconcile_ledger",
        "schedule": crontab(hour=2, minute=15),
        "options": {"expires": 3600},
    },
    # Detections: end plays of stations that went quiet; drop analysed windows past retention.
    "detections-close-stale-plays": {
        "task": "detections.close_stale_plays",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
    "detections-prune-match-cache": {
        "task": "detections.prune_match_cache",
        "schedule": crontab(hour=4, minute=10),
        "options": {"expires": 3600},
    },
    # Detections analytics: recount detection health; the opt-in airplay digest at 07:00 Accra
    # (the Celery timezone is settings.TIME_ZONE).
    "detections-refresh-detection-health": {
        "task": "detections.refresh_detection_health",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    # A station whose region or class staff changed is counted under the new ones.
    "detections-restate-area-months": {
        "task": "detections.restate_area_months",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    "detections-send-airplay-digests": {
        "task": "detections.send_airplay_digests",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 3 * 3600},
    },
    # Royalties: price newly verified plays; close last month on the 1st; flag overdue invoices.
    "royalties-calculate-plays": {
        "task": "royalties.calculate_plays",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
    "royalties-close-due-periods": {
        "task": "royalties.close_due_periods",
        "schedule": crontab(day_of_month=1, hour=2, minute=0),
        "options": {"expires": 6 * 3600},
    },
    "royalties-mark-overdue-invoices": {
        "task": "royalties.mark_overdue_invoices",
        "schedule": crontab(hour=6, minute=30),
        "options": {"expires": 3600},
    },
    # Fingerprinting: re-queue tracks left pending or processing by a worker that died.
    "fingerprinting-requeue-stuck": {
        "task": "fingerprinting.requeue_stuck",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
}
