"""Bulk import: every row reported, good rows kept whatever the bad ones do."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import storages

from artists import services as artist_services
from artists.tests.factories import ArtistFactory, PublisherFactory
from conftest import make_user
from tracks import services
from tracks.csv_import import COLUMNS, template_csv
from tracks.models import Track, TrackImport
from tracks.tests import audio_samples
from tracks.tests.conftest import upload
from zamio.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return ArtistFactory(user=make_user("artist"), stage_name="Kwame Mensah")


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in COLUMNS})
    return out.getvalue().encode()


def _mixed(owner):
    """An existing track, then a CSV of good, duplicate and bad rows with their files."""
    existing = services.track_create(
        actor=owner.user,
        primary_artist=owner,
        audio=upload("old.wav", audio_samples.wav_bytes(3, seed=100)),
        title="Already here",
        isrc="GH-A01-24-00100",
    )
    rows = [
        {  # 1: good, with splits and a cover
            "title": "Good One",
            "artist": "Kwame Mensah",
            "genre": "Highlife",
            "isrc": "GH-A01-24-00101",
            "audio_filename": "good1.mp3",
            "cover_filename": "good1.jpg",
            "contributors": "Kwame Mensah:performer:60;Ama Serwaa:composer:40",
        },
        {"title": "Same bytes", "audio_filename": "copy.wav"},  # 2: same file as existing
        {  # 3: same ISRC as existing
            "title": "Same ISRC",
            "isrc": "GHA012400100",
            "audio_filename": "other.wav",
        },
        {"title": "", "audio_filename": "good2.wav"},  # 4: no title
        {"title": "Not audio", "audio_filename": "lyrics.mp3"},  # 5: bad audio
        {"title": "Missing file", "audio_filename": "nowhere.wav"},  # 6: file not uploaded
        {  # 7: contributors total 90 %
            "title": "Bad split",
            "audio_filename": "good3.wav",
            "contributors": "Kwame Mensah:performer:50;Ama:composer:40",
        },
        {"title": "Someone else", "artist": "Sarkodie", "audio_filename": "good4.wav"},  # 8
        {"title": "Good Two", "audio_filename": "good2.wav", "iswc": "T-034.524.680-1"},  # 9
    ]
    files = {
        "good1.mp3": audio_samples.encode(audio_samples.wav_bytes(3, seed=101), "mp3"),
        "good1.jpg": audio_samples.jpeg_bytes(),
        "copy.wav": audio_samples.wav_bytes(3, seed=100),
        "other.wav": audio_samples.wav_bytes(3, seed=102),
        "good2.wav": audio_samples.wav_bytes(3, seed=103),
        "lyrics.mp3": b"la la la\n" * 50,
        "good3.wav": audio_samples.wav_bytes(3, seed=104),
        "good4.wav": audio_samples.wav_bytes(3, seed=105),
        "unused.wav": b"never read",
    }
    return existing, _csv(rows), files


def _assert_mixed_outcome(job: TrackImport, existing: Track):
    assert job.status == "done"
    assert (job.total_rows, job.processed_rows) == (9, 9)
    assert (job.created_count, job.duplicate_count, job.rejected_count) == (2, 2, 5)
    outcomes = {r["row"]: r for r in job.results}
    assert [outcomes[n]["outcome"] for n in range(1, 10)] == [
        "created",
        "duplicate",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    assert outcomes[2]["existing_track"]["id"] == existing.pk
    assert outcomes[3]["existing_track"]["id"] == existing.pk
    assert outcomes[4]["errors"] == {"title": ["Required."]}
    assert "lyrics.mp3" in outcomes[5]["reason"]
    assert outcomes[6]["errors"] == {"audio_filename": ["Not in the upload."]}
    assert outcomes[7]["errors"]["contributors"] == [
        "The percentages total 90; they must total 100."
    ]
    assert "Sarkodie" in outcomes[8]["reason"]
    good = Track.objects.get(pk=outcomes[1]["track_id"])
    assert (good.title, good.isrc, good.genre, good.audio_format) == (
        "Good One",
        "GHA012400101",
        "Highlife",
        "mp3",
    )
    assert good.cover.name.endswith(".jpg")
    shares = sorted(
        (s.contributor.name, s.role, s.basis_points)
        for s in good.split_versions.get().shares.select_related("contributor")
    )
    assert shares == [("Ama Serwaa", "composer", 4000), ("Kwame Mensah", "performer", 6000)]
    assert good.split_versions.get().shares.get(role="performer").contributor.artist_id == (
        good.primary_artist_id
    )
    assert Track.objects.get(pk=outcomes[9]["track_id"]).iswc == "T0345246801"
    assert Track.objects.count() == 3
    # The staged files are cleaned up once the import has run.
    staging = Path(storages["private"].location) / job.staging_dir
    assert not staging.exists()


def test_mixed_import_with_separate_files(owner, django_capture_on_commit_callbacks):
    existing, csv_bytes, files = _mixed(owner)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.track_import_start(
            actor=owner.user,
            csv_file=upload("catalogue.csv", csv_bytes),
            files=[upload(name, data) for name, data in files.items()],
        )
    job.refresh_from_db()
    _assert_mixed_outcome(job, existing)


def test_mixed_import_from_a_zip_runs_as_a_task(
    owner, settings, django_capture_on_commit_callbacks
):
    settings.TRACKS_IMPORT_SYNC_MAX_ROWS = 2
    existing, csv_bytes, files = _mixed(owner)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("my catalogue/tracks.csv", csv_bytes)
        for name, data in files.items():
            out.writestr(f"my catalogue/audio/{name}", data)
        out.writestr("__MACOSX/._good1.mp3", b"resource fork")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.track_import_start(
            actor=owner.user, zip_file=upload("catalogue.zip", archive.getvalue())
        )
    # Larger imports are left to the Celery task, queued on commit.
    assert (job.status, job.processed_rows) == ("pending", 0)
    assert Track.objects.count() == 1
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.track_import_run(import_id=job.pk)
    job.refresh_from_db()
    _assert_mixed_outcome(job, existing)
    # Running it again changes nothing: the import is claimed once.
    services.track_import_run(import_id=job.pk)
    assert Track.objects.count() == 3


def test_an_interrupted_import_resumes_after_the_last_reported_row(owner, settings):
    settings.TRACKS_IMPORT_SYNC_MAX_ROWS = 0  # leave it to the task
    rows = [{"title": f"Song {n}", "audio_filename": f"s{n}.wav"} for n in range(1, 4)]
    files = [upload(f"s{n}.wav", audio_samples.wav_bytes(2, seed=110 + n)) for n in range(1, 4)]
    job = services.track_import_start(
        actor=owner.user, csv_file=upload("c.csv", _csv(rows)), files=files
    )
    assert (job.status, job.processed_rows) == ("pending", 0)
    # A worker reported rows 1 and 2, then died; the sweeper put the import back to pending.
    reported = [
        {"row": n, "title": f"Song {n}", "outcome": "created", "track_id": 0} for n in (1, 2)
    ]
    TrackImport.objects.filter(pk=job.pk).update(
        processed_rows=2, results=reported, created_count=2
    )
    services.track_import_run(import_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done"
    assert [r["title"] for r in job.results] == ["Song 1", "Song 2", "Song 3"]
    assert (job.processed_rows, job.created_count) == (3, 3)
    # Only the unreported row was processed again.
    assert list(Track.objects.values_list("title", flat=True)) == ["Song 3"]


@pytest.mark.parametrize(
    ("csv_bytes", "message"),
    [
        (b"", "The CSV is empty."),
        (b"title,artist\nA,B\n", "The CSV lacks the column(s): audio_filename."),
        (
            b"title,audio_filename,colour\nA,a.wav,red\n",
            "Unknown column(s): colour. See the template.",
        ),
        (b"title,audio_filename\n", "The CSV has no rows."),
    ],
)
def test_an_unreadable_csv_is_refused_whole(owner, csv_bytes, message):
    with pytest.raises(ValidationFailed) as refused:
        services.track_import_start(actor=owner.user, csv_file=upload("c.csv", csv_bytes))
    assert refused.value.details == {"csv_file": [message]}
    assert TrackImport.objects.count() == 0


def test_a_publisher_imports_only_for_artists_it_represents():
    publisher_user = make_user("publisher")
    PublisherFactory(user=publisher_user)
    signed = ArtistFactory(user=make_user("artist"), stage_name="Signed")
    ArtistFactory(user=make_user("artist"), stage_name="Unsigned")
    deal = artist_services.relationship_propose(
        actor=publisher_user,
        artist=signed,
        kind="exclusive",
        share_bp=2000,
        start_date=signed.created_at.date(),
    )
    artist_services.relationship_accept(actor=signed.user, relationship=deal)
    rows = [
        {"title": "Theirs", "artist": "signed", "audio_filename": "a.wav"},
        {"title": "Not theirs", "artist": "Unsigned", "audio_filename": "b.wav"},
        {"title": "Nobody", "artist": "", "audio_filename": "b.wav"},
    ]
    job = services.track_import_start(
        actor=publisher_user,
        csv_file=upload("c.csv", _csv(rows)),
        files=[
            upload("a.wav", audio_samples.wav_bytes(2, seed=120)),
            upload("b.wav", audio_samples.wav_bytes(2, seed=121)),
        ],
    )
    assert [r["outcome"] for r in job.results] == ["created", "rejected", "rejected"]
    assert Track.objects.get().primary_artist == signed


def test_the_template_has_every_column_and_parses_cleanly():
    from tracks.csv_import import read_rows

    rows = read_rows(template_csv().encode())
    assert [r.errors for r in rows] == [{}, {}]
    assert [r.title for r in rows] == ["Odo Nti", "Sunsum"]
    assert sum(s.basis_points for s in rows[0].shares) == 10000
    assert rows[1].explicit is True
    assert template_csv().splitlines()[0].startswith(",".join(COLUMNS))


def test_the_sweeper_requeues_only_stale_imports(owner, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    stale = TrackImport.objects.create(created_by=owner.user, status="running", total_rows=3)
    fresh = TrackImport.objects.create(created_by=owner.user, status="running", total_rows=3)
    done = TrackImport.objects.create(created_by=owner.user, status="done", total_rows=3)
    long_ago = timezone.now() - timedelta(hours=1)
    TrackImport.objects.filter(pk__in=[stale.pk, done.pk]).update(updated_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.track_import_requeue_stale() == 1
    assert len(callbacks) == 1
    statuses = dict(TrackImport.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: "pending", fresh.pk: "running", done.pk: "done"}
