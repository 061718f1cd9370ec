from django.apps import AppConfig


class StreamCaptureConfig(AppConfig):
    name = "stream_capture"
