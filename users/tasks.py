from celery import shared_task

from users import services


@shared_task(name="users.purge_expired_tokens", time_limit=120)
def purge_expired_tokens() -> int:
    # Deleting already-expired rows twice deletes nothing the second time.
    return services.purge_expired_tokens()
