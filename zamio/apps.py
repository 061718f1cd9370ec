from django.apps import AppConfig


class ZamioConfig(AppConfig):
    name = "zamio"
    verbose_name = "ZamIO platform"
