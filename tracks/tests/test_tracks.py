"""Creating tracks: probing, storage under generated names, duplicates, review."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from artists.tests.factories import ArtistFactory
from conftest import make_user
from tracks import services
from tracks.audio import AudioRejected, CoverRejected
from tracks.models import FingerprintStatus, Track, TrackStatus
from tracks.services import DuplicateTrack, ShareInput
from tracks.tests import audio_samples
from tracks.tests.conftest import upload
from users.models import AuditLog
from zamio.errors import Forbidden, InvalidTransition, ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return ArtistFactory(user=make_user("artist"))


def _stored_files() -> list[Path]:
    root = Path(storages["private"].location)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_create_probes_hashes_and_stores_under_a_generated_name(
    owner, wav_upload, django_capture_on_commit_callbacks
):
    audio = wav_upload(seed=1)
    data = audio.read()
    with django_capture_on_commit_callbacks() as callbacks:
        track = services.track_create(
            actor=owner.user,
            primary_artist=owner,
            audio=audio,
            title="  Odo Nti ",
            isrc="gh-a01-24-00001",
            cover=upload("Cover Art.png", audio_samples.png_bytes()),
        )
    track.refresh_from_db()
    assert track.title == "Odo Nti"
    assert track.isrc == "GHA012400001"
    assert track.status == TrackStatus.DRAFT
    assert track.fingerprint_status == FingerprintStatus.PENDING
    assert track.duration_seconds == pytest.approx(3.0, abs=0.05)
    assert (track.audio_format, track.audio_codec) == ("wav", "pcm_s16le")
    assert track.audio_hash == hashlib.sha256(data).hexdigest()
    assert track.audio_size == len(data)
    assert track.audio.name.startswith("tracks/audio/") and track.audio.name.endswith(".wav")
    assert "Song" not in track.audio.name and "final" not in track.audio.name
    assert track.cover.name.startswith("tracks/covers/") and track.cover.name.endswith(".png")
    assert "Cover" not in track.cover.name
    with track.audio.open("rb") as stored:
        assert stored.read() == data
    # The fingerprinting task is queued once the row is committed.
    assert len(callbacks) == 1
    assert AuditLog.objects.filter(action="track.create", target_id=str(track.pk)).count() == 1


@pytest.mark.parametrize(
    ("extension", "args", "container", "codec"),
    [
        ("mp3", ("-b:a", "128k"), "mp3", "mp3"),
        ("flac", (), "flac", "flac"),
        ("ogg", ("-c:a", "libvorbis"), "ogg", "vorbis"),
        ("m4a", ("-c:a", "aac"), "m4a", "aac"),
        ("aac", ("-c:a", "aac"), "aac", "aac"),
    ],
)
def test_every_accepted_format(owner, extension, args, container, codec):
    data = audio_samples.encode(audio_samples.wav_bytes(3, seed=2), extension, *args)
    track = services.track_create(
        actor=owner.user,
        primary_artist=owner,
        audio=upload(f"song.{extension}", data),
        title="Format",
    )
    assert (track.audio_format, track.audio_codec) == (container, codec)
    assert track.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert track.audio.name.endswith(f".{container}")


def _truncated_mp3() -> bytes:
    data = audio_samples.encode(audio_samples.wav_bytes(4, seed=3), "mp3", "-b:a", "128k")
    return data[: len(data) // 2]


def _truncated_wav() -> bytes:
    data = audio_samples.wav_bytes(3, seed=3)
    return data[: len(data) // 2]


def _truncated_flac() -> bytes:
    data = audio_samples.encode(audio_samples.wav_bytes(3, seed=3), "flac")
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("notes.mp3", lambda: b"these are my lyrics, not audio\n" * 20, "not an audio file"),
        ("empty.wav", lambda: b"", "the file is empty"),
        ("picture.mp3", audio_samples.png_bytes, "no audio stream"),
        ("cut.wav", _truncated_wav, "truncated"),
        ("cut.mp3", _truncated_mp3, "truncated"),
        ("cut.flac", _truncated_flac, "corrupt or truncated"),
    ],
)
def test_bad_audio_is_refused_and_nothing_is_stored(owner, name, make, reason):
    with pytest.raises(AudioRejected) as refused:
        services.track_create(
            actor=owner.user, primary_artist=owner, audio=upload(name, make()), title="Bad"
        )
    assert reason in refused.value.reason
    assert refused.value.details == {"audio": [refused.value.reason]}
    assert name in refused.value.message
    assert Track.objects.count() == 0
    assert _stored_files() == []


def test_too_long_audio_is_refused(owner, settings, wav_upload):
    settings.TRACKS_MAX_DURATION_SECONDS = 2
    with pytest.raises(AudioRejected) as refused:
        services.track_create(
            actor=owner.user, primary_artist=owner, audio=wav_upload(seed=4), title="Long"
        )
    assert refused.value.reason == "the audio lasts 0.1 min; the limit is 0 min"
    assert Track.objects.count() == 0
    assert _stored_files() == []


def test_over_the_size_limit_is_refused(owner, settings, wav_upload):
    settings.TRACKS_MAX_UPLOAD_BYTES = 50_000
    with pytest.raises(AudioRejected) as refused:
        services.track_create(
            actor=owner.user, primary_artist=owner, audio=wav_upload(seed=5), title="Big"
        )
    assert refused.value.reason == "the file is 0.1 MB; the limit is 0 MB"
    assert Track.objects.count() == 0


def test_a_bad_cover_is_refused_before_anything_is_stored(owner, wav_upload):
    with pytest.raises(CoverRejected):
        services.track_create(
            actor=owner.user,
            primary_artist=owner,
            audio=wav_upload(seed=6),
            title="Cover",
            cover=upload("cover.png", b"GIF89a not really"),
        )
    assert Track.objects.count() == 0
    assert _stored_files() == []


def test_same_bytes_are_a_duplicate_every_time(owner, wav_upload):
    first = services.track_create(
        actor=owner.user, primary_artist=owner, audio=wav_upload(seed=7), title="Original"
    )
    answers = []
    for _ in range(3):
        with pytest.raises(DuplicateTrack) as duplicate:
            services.track_create(
                actor=owner.user,
                primary_artist=owner,
                audio=wav_upload(seed=7, name="renamed copy.wav"),
                title="Copy",
            )
        answers.append((duplicate.value.code, duplicate.value.details, duplicate.value.message))
    assert answers == [answers[0]] * 3
    code, details, _ = answers[0]
    assert code == "duplicate_track"
    assert details["reason"] == "same_file"
    assert details["existing_track"]["id"] == first.pk
    assert details["existing_track"]["title"] == "Original"
    assert Track.objects.count() == 1


def test_same_isrc_is_a_duplicate(owner, wav_upload):
    first = services.track_create(
        actor=owner.user,
        primary_artist=owner,
        audio=wav_upload(seed=8),
        title="First",
        isrc="GH-A01-24-00002",
    )
    with pytest.raises(DuplicateTrack) as duplicate:
        services.track_create(
            actor=owner.user,
            primary_artist=owner,
            audio=wav_upload(seed=9),
            title="Other audio",
            isrc="gha012400002",
        )
    assert duplicate.value.details["reason"] == "same_isrc"
    assert duplicate.value.details["existing_track"]["id"] == first.pk
    assert Track.objects.count() == 1
    assert len(_stored_files()) == 1


def test_an_artist_cannot_add_tracks_for_another_artist(owner, wav_upload):
    other = ArtistFactory(user=make_user("artist"))
    with pytest.raises(Forbidden):
        services.track_create(
            actor=owner.user, primary_artist=other, audio=wav_upload(seed=10), title="Theirs"
        )
    assert Track.objects.count() == 0


def _shares_100(owner) -> list[ShareInput]:
    return [
        ShareInput(name="", role="performer", basis_points=6000, artist_id=owner.pk),
        ShareInput(name="Ama Serwaa", role="composer", basis_points=4000),
    ]


def test_review_flow_submit_approve_and_audit(owner, wav_upload):
    support = make_user("admin", staff_role="support")
    track = services.track_create(
        actor=owner.user, primary_artist=owner, audio=wav_upload(seed=11), title="Review"
    )
    with pytest.raises(ValidationFailed) as not_ready:
        services.track_submit(actor=owner.user, track=track)
    assert list(not_ready.value.details) == ["splits"]
    services.splits_set(actor=owner.user, track=track, shares=_shares_100(owner))
    with pytest.raises(InvalidTransition):
        services.track_approve(actor=support, track=track)
    services.track_submit(actor=owner.user, track=track)
    with pytest.raises(Forbidden):
        services.track_approve(actor=owner.user, track=track)
    with pytest.raises(Forbidden):
        services.track_approve(actor=make_user("admin", staff_role="finance"), track=track)
    track = services.track_approve(actor=support, track=track)
    assert (track.status, track.reviewed_by) == (TrackStatus.APPROVED, support)
    audit = AuditLog.objects.get(action="track.approve")
    assert (audit.actor, audit.target_id, audit.after) == (
        support,
        str(track.pk),
        {"status": "approved"},
    )


def test_reject_needs_a_reason_and_allows_resubmission(owner, wav_upload):
    support = make_user("admin", staff_role="support")
    track = services.track_create(
        actor=owner.user, primary_artist=owner, audio=wav_upload(seed=12), title="Fix me"
    )
    services.splits_set(actor=owner.user, track=track, shares=_shares_100(owner))
    services.track_submit(actor=owner.user, track=track)
    with pytest.raises(ValidationFailed):
        services.track_reject(actor=support, track=track, reason="  ")
    track = services.track_reject(actor=support, track=track, reason="Cover is blurry")
    assert (track.status, track.rejection_reason) == ("rejected", "Cover is blurry")
    assert services.track_submit(actor=owner.user, track=track).status == "submitted"


def test_replacing_audio_rechecks_and_requeues_fingerprinting(
    owner, wav_upload, django_capture_on_commit_callbacks
):
    track = services.track_create(
        actor=owner.user, primary_artist=owner, audio=wav_upload(seed=13), title="Swap"
    )
    other = services.track_create(
        actor=owner.user, primary_artist=owner, audio=wav_upload(seed=14), title="Other"
    )
    with pytest.raises(DuplicateTrack):
        services.track_replace_audio(actor=owner.user, track=track, audio=wav_upload(seed=14))
    services.track_set_fingerprint_status(track_id=track.pk, status="ready")
    old_name = Track.objects.get(pk=track.pk).audio.name
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        track = services.track_replace_audio(
            actor=owner.user, track=track, audio=wav_upload(seed=15, seconds=2.0)
        )
    assert track.duration_seconds == pytest.approx(2.0, abs=0.05)
    assert track.fingerprint_status == "pending"
    assert track.audio.name != old_name
    assert len(callbacks) == 2  # the fingerprint task, then removing the old file
    assert other.pk != track.pk


def test_set_fingerprint_status_is_a_no_op_for_a_missing_track(owner, wav_upload):
    services.track_set_fingerprint_status(track_id=987654, status="failed", error="gone")
    track = services.track_create(
        actor=owner.user, primary_artist=owner, audio=wav_upload(seed=16), title="FP"
    )
    services.track_set_fingerprint_status(track_id=track.pk, status="failed", error="too short")
    track.refresh_from_db()
    assert (track.fingerprint_status, track.fingerprint_error) == ("failed", "too short")


def test_create_from_file_for_catalogue_imports(tmp_path):
    path = tmp_path / "import me.wav"
    path.write_bytes(audio_samples.wav_bytes(3, seed=17))
    artist = ArtistFactory()
    track = services.track_create_from_file(path=str(path), title="Imported", primary_artist=artist)
    assert track.status == TrackStatus.APPROVED
    from tracks.selectors import splits_at

    shares = splits_at(track_id=track.pk, at=track.created_at.replace(year=2100))
    assert [(s.artist_id, s.basis_points) for s in shares] == [(artist.pk, 10000)]
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"nope")
    with pytest.raises(AudioRejected) as refused:
        services.track_create_from_file(path=str(bad), title="Broken", primary_artist=artist)
    assert "broken.mp3" in refused.value.message


def test_update_checks_isrc_and_sends_approved_tracks_back_to_review(owner, wav_upload):
    support = make_user("admin", staff_role="support")
    taken = services.track_create(
        actor=owner.user,
        primary_artist=owner,
        audio=wav_upload(seed=18),
        title="Taken",
        isrc="GH-A01-24-00003",
    )
    track = services.track_create(
        actor=owner.user, primary_artist=owner, audio=wav_upload(seed=19), title="Edit"
    )
    with pytest.raises(DuplicateTrack):
        services.track_update(actor=owner.user, track=track, isrc="GH-A01-24-00003")
    with pytest.raises(ValidationFailed):
        services.track_update(actor=owner.user, track=track, isrc="nonsense")
    services.splits_set(actor=owner.user, track=track, shares=_shares_100(owner))
    services.track_submit(actor=owner.user, track=track)
    services.track_approve(actor=support, track=track)
    track = services.track_update(
        actor=owner.user, track=track, isrc="GH-A01-24-00004", genre="Hiplife"
    )
    assert (track.status, track.isrc, track.genre) == ("submitted", "GHA012400004", "Hiplife")
    assert taken.isrc == "GHA012400003"


def test_file_upload_name_is_not_trusted_for_the_extension(owner):
    data = audio_samples.encode(audio_samples.wav_bytes(3, seed=20), "mp3", "-b:a", "96k")
    track = services.track_create(
        actor=owner.user,
        primary_artist=owner,
        audio=SimpleUploadedFile("../../etc/evil.wav.exe", data),
        title="Named",
    )
    assert track.audio.name.startswith("tracks/audio/")
    assert track.audio.name.endswith(".mp3")
    assert ".." not in track.audio.name
