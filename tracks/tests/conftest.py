from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tracks.tests import audio_samples


@pytest.fixture(autouse=True)
def _no_recording_matcher(settings):
    """The fingerprint check is configured off unless a test turns the real one on;
    the other duplicate checks and the probe do not depend on it."""
    settings.TRACKS_RECORDING_MATCHER = ""


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


@pytest.fixture
def wav_upload():
    def _make(seed: int = 0, seconds: float = 3.0, name: str = "My Song (final).wav"):
        return upload(name, audio_samples.wav_bytes(seconds, seed=seed))

    return _make
