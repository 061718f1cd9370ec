"""The same recording under another file: found by the fingerprinting engine's matcher."""

from __future__ import annotations

import pytest

from artists.tests.factories import ArtistFactory
from conftest import make_user
from tracks import services
from tracks.models import Track
from tracks.services import DuplicateTrack
from tracks.tests import audio_samples
from tracks.tests.conftest import upload

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def real_matcher(settings):
    settings.TRACKS_RECORDING_MATCHER = "fingerprinting.services.recording_find_matches"


def test_the_same_recording_reencoded_as_64kbps_mp3_is_refused(
    real_matcher, django_capture_on_commit_callbacks
):
    owner = ArtistFactory(user=make_user("artist"))
    master = audio_samples.wav_bytes(20, seed=200)
    with django_capture_on_commit_callbacks(execute=True):  # runs the fingerprinting task
        original = services.track_create(
            actor=owner.user, primary_artist=owner, audio=upload("master.wav", master), title="Odo"
        )
    original.refresh_from_db()
    assert original.fingerprint_status == "ready"

    reencoded = audio_samples.encode(master, "mp3", "-b:a", "64k")
    with pytest.raises(DuplicateTrack) as duplicate:
        services.track_create(
            actor=owner.user,
            primary_artist=owner,
            audio=upload("odo radio edit.mp3", reencoded),
            title="Odo (radio)",
        )
    assert duplicate.value.details["reason"] == "same_recording"
    assert duplicate.value.details["existing_track"]["id"] == original.pk
    assert duplicate.value.details["confidence"] >= 0.8
    assert Track.objects.count() == 1

    # A different recording is not a duplicate.
    other = audio_samples.encode(audio_samples.wav_bytes(20, seed=201), "mp3", "-b:a", "64k")
    track = services.track_create(
        actor=owner.user, primary_artist=owner, audio=upload("new.mp3", other), title="New"
    )
    assert Track.objects.count() == 2
    assert track.title == "New"
