from django.apps import AppConfig


class ZamioConfig(AppConfig):
    name = "zamio"
    verbose_name = "ZamIO platform"

    def ready(self) -> None:
        from zamio import lookups  # noqa: F401  (registers field__any)
