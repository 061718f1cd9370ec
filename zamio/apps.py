from django.apps import AppConfig


class ZamioConfig(AppConfig):
    name = "zamio"
    verbose_name = "ZamIO platform"

    def ready(self) -> None:
        from zamio import database, lookups  # noqa: F401  (connection setup, field__any)
