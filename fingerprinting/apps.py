from django.apps import AppConfig


class FingerprintingConfig(AppConfig):
    name = "fingerprinting"
