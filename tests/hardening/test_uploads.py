"""Hostile uploads on every endpoint that takes a file: oversized, the wrong type (a name
that lies about the bytes), zip bombs in the bulk import (a small zip that expands huge,
too many members, a zip inside the zip), and path traversal in names (../, absolute
paths, backslashes) in multipart file names and zip member names. Each is refused with a
4xx in the error shape, and nothing is stored: no row changes, no file appears under
MEDIA_ROOT or PRIVATE_MEDIA_ROOT.

Size limits are lowered through settings so the oversized files stay small."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.hardening import snapshot
from tests.hardening.world import PDF_BYTES, build_world, png_bytes, wav_bytes

FAULTS: list[str] = []  # the fault names, counted for docs/reliability.md
TRAVERSALS = ["../../etc/passwd", "/etc/cron.d/zamio", "..\\..\\windows\\win.ini", "a/../../b"]
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.fixture
def world(db):
    return build_world()


def _refused(client, method: str, url: str, data: dict, *, expect=(400, 413, 415)):
    before = snapshot.state()
    response = getattr(client, method)(url, data, format="multipart")
    assert response.status_code in expect, (url, response.status_code, response.content[:300])
    assert {"code", "message"} <= set(response.json()["error"]), response.content
    assert snapshot.changes(before, snapshot.state()) == []
    return response


def _file(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def _files_named_like(root: Path, fragment: str) -> list[Path]:
    return [p for p in root.rglob("*") if fragment in p.name] if root.exists() else []


# --- Track audio and cover ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault, audio",
    [
        ("track: not audio (exe named .wav)", _file("song.wav", EXE, "audio/wav")),
        ("track: empty file", _file("song.wav", b"", "audio/wav")),
        ("track: text named .mp3", _file("song.mp3", b"hello " * 200, "audio/mpeg")),
        ("track: oversized", _file("song.wav", wav_bytes(6.0), "audio/wav")),
    ],
)
def test_track_upload_refuses_bad_audio(world, client_for, settings, fault, audio):
    settings.TRACKS_MAX_UPLOAD_BYTES = 40_000  # the 6 s WAV is 96 kB
    FAULTS.append(fault)
    _refused(
        client_for(world.a.artist_user),
        "post",
        "/api/v1/tracks/",
        {"title": "Bad", "audio": audio},
    )


@pytest.mark.parametrize("name", TRAVERSALS)
def test_track_upload_with_traversal_name_stores_inside_media(world, client_for, settings, name):
    """A traversal name is either refused or stored under a name we chose, inside MEDIA_ROOT."""
    from tracks.models import Track

    FAULTS.append(f"track: traversal name {name!r}")
    response = client_for(world.a.artist_user).post(
        "/api/v1/tracks/",
        {"title": "Named", "audio": _file(name, wav_bytes(6.0, seed=5), "audio/wav")},
        format="multipart",
    )
    assert response.status_code in (201, 400), response.content
    media = Path(settings.MEDIA_ROOT).resolve()
    private = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    for track in Track.objects.filter(title="Named"):
        stored = Path(track.audio.path).resolve()
        assert stored.is_relative_to(media) or stored.is_relative_to(private)
        assert ".." not in track.audio.name and "\\" not in track.audio.name
    assert not Path("/etc/cron.d/zamio").exists()
    assert _files_named_like(media.parent, "passwd") == []
    assert _files_named_like(media.parent, "win.ini") == []


@pytest.mark.parametrize(
    "fault, cover",
    [
        ("cover: exe named .png", _file("cover.png", EXE, "image/png")),
        ("cover: pdf named .jpg", _file("cover.jpg", PDF_BYTES, "image/jpeg")),
        ("cover: oversized", _file("cover.png", png_bytes() + b"\x00" * 5000, "image/png")),
        ("cover: traversal name", _file("../../../cover.png", EXE, "image/png")),
    ],
)
def test_cover_refuses_bad_images(world, client_for, settings, fault, cover):
    settings.TRACKS_MAX_COVER_BYTES = 2000
    FAULTS.append(fault)
    _refused(
        client_for(world.a.artist_user),
        "put",
        f"/api/v1/tracks/{world.a.draft_track.pk}/cover/",
        {"cover": cover},
    )


# --- KYC documents -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault, document",
    [
        ("kyc: exe named .pdf", _file("id.pdf", EXE, "application/pdf")),
        ("kyc: html named .png", _file("id.png", b"<html><script>x</script>", "image/png")),
        ("kyc: oversized", _file("id.pdf", PDF_BYTES + b"%" * 5000, "application/pdf")),
        ("kyc: traversal name", _file("..\\..\\id.pdf", EXE, "application/pdf")),
    ],
)
def test_kyc_refuses_bad_documents(world, client_for, settings, fault, document):
    settings.ARTISTS_KYC_MAX_FILE_BYTES = 2000
    FAULTS.append(fault)
    _refused(
        client_for(world.a.publisher_user),
        "post",
        "/api/v1/kyc/",
        {"id_type": "passport", "id_number": "G7654321", "id_front": document},
    )


# --- Bulk import zips ----------------------------------------------------------------------------
def _zip(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


CSV = b"title,artist,audio_filename\nBomb,Stage A,song.wav\n"


def _bomb() -> bytes:
    # 64 MB of zeros compress to about 64 kB: the ratio gives it away before it is unpacked.
    return _zip({"tracks.csv": CSV, "song.wav": b"\x00" * (64 * 1024 * 1024)})


@pytest.mark.parametrize(
    "fault, archive",
    [
        ("import zip: expands 1000x (64 MB of zeros)", _bomb),
        (
            "import zip: 5000 members",
            lambda: _zip({"tracks.csv": CSV, **{f"f{i}.wav": b"x" for i in range(5000)}}),
        ),
        (
            "import zip: 2 MB member compressed 1000:1",
            lambda: _zip({"tracks.csv": CSV, "song.wav": b"\x00" * (2 * 1024 * 1024)}),
        ),
        (
            "import zip: a zip inside the zip",
            lambda: _zip({"tracks.csv": CSV, "song.wav": _zip({"inner.wav": b"\x00" * 1000})}),
        ),
        (
            "import zip: ../ member name",
            lambda: _zip({"tracks.csv": CSV, "../../song.wav": wav_bytes()}),
        ),
        (
            "import zip: absolute member name",
            lambda: _zip({"tracks.csv": CSV, "/tmp/song.wav": wav_bytes()}),
        ),
        (
            "import zip: backslash member name",
            lambda: _zip({"tracks.csv": CSV, "..\\..\\song.wav": wav_bytes()}),
        ),
        ("import zip: not a zip", lambda: EXE),
    ],
)
def test_bulk_import_refuses_hostile_zips(world, client_for, fault, archive):
    from tracks.models import Track, TrackImport

    FAULTS.append(fault)
    tracks, imports = Track.objects.count(), TrackImport.objects.count()
    response = _refused(
        client_for(world.a.artist_user),
        "post",
        "/api/v1/tracks/import/",
        {"zip_file": _file("catalogue.zip", archive(), "application/zip")},
    )
    assert response.status_code in (400, 413)
    assert (Track.objects.count(), TrackImport.objects.count()) == (tracks, imports)


def test_bulk_import_refuses_oversized_csv(world, client_for):
    FAULTS.append("import: CSV over 5 MB")
    big = CSV + b"Another,Stage A,song.wav\n" * (5 * 1024 * 1024 // 24 + 1)
    _refused(
        client_for(world.a.artist_user),
        "post",
        "/api/v1/tracks/import/",
        {"csv_file": _file("tracks.csv", big, "text/csv")},
    )


# --- Station clips, dispute evidence, playlogs ----------------------------------------------------
@pytest.mark.parametrize(
    "fault, audio",
    [
        ("station clip: exe named .wav", _file("clip.wav", EXE, "audio/wav")),
        ("station clip: oversized", _file("clip.wav", wav_bytes(6.0), "audio/wav")),
        ("station clip: traversal name", _file("../../clip.wav", EXE, "audio/wav")),
    ],
)
def test_station_clip_refuses_bad_audio(world, client_for, settings, fault, audio):
    settings.DETECTIONS_UPLOAD_MAX_BYTES = 40_000
    FAULTS.append(fault)
    _refused(
        client_for(world.a.station_user),
        "post",
        "/api/v1/station-uploads/",
        {"audio": audio, "chunk_id": f"hostile-{len(FAULTS)}", "captured_at": timezone.now()},
    )


@pytest.mark.parametrize(
    "fault, evidence",
    [
        ("evidence: exe named .pdf", _file("proof.pdf", EXE, "application/pdf")),
        (
            "evidence: svg with script",
            _file("proof.svg", b"<svg onload=alert(1)>", "image/svg+xml"),
        ),
        ("evidence: oversized", _file("proof.pdf", PDF_BYTES + b"%" * 5000, "application/pdf")),
        ("evidence: traversal name", _file("../../../proof.exe", EXE, "application/pdf")),
    ],
)
def test_dispute_evidence_refuses_bad_files(world, client_for, settings, fault, evidence):
    settings.DISPUTES_EVIDENCE_MAX_BYTES = 2000
    FAULTS.append(fault)
    _refused(
        client_for(world.a.artist_user),
        "post",
        f"/api/v1/disputes/{world.a.dispute.pk}/evidence/",
        {"file": evidence, "note": "Hostile"},
    )


@pytest.mark.parametrize(
    "fault, log",
    [
        ("playlog: exe named .csv", _file("log.csv", EXE, "text/csv")),
        ("playlog: unknown extension", _file("log.exe", b"played_at,title\n", "text/plain")),
        ("playlog: oversized", _file("log.csv", b"played_at,title,artist\n" * 400, "text/csv")),
        ("playlog: traversal name", _file("../../log.csv", EXE, "text/csv")),
        (
            "playlog: XML entity bomb",
            _file(
                "log.xml",
                b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><log><play>&c;</play></log>',
                "application/xml",
            ),
        ),
    ],
)
def test_station_playlog_refuses_bad_files(world, client_for, settings, fault, log):
    settings.STATIONS_PLAYLOG_MAX_BYTES = 4000
    FAULTS.append(fault)
    _refused(
        client_for(world.a.station_user),
        "post",
        f"/api/v1/stations/{world.a.station.pk}/playlogs/",
        {"file": log},
    )


@pytest.mark.parametrize(
    "fault, document",
    [
        ("compliance: exe named .pdf", _file("return.pdf", EXE, "application/pdf")),
        ("compliance: traversal name", _file("../../return.pdf", EXE, "application/pdf")),
        ("compliance: oversized", _file("return.pdf", PDF_BYTES + b"%" * 5000, "application/pdf")),
    ],
)
def test_compliance_document_refuses_bad_files(world, client_for, settings, fault, document):
    settings.STATIONS_COMPLIANCE_MAX_BYTES = 2000
    FAULTS.append(fault)
    _refused(
        client_for(world.a.station_user),
        "post",
        f"/api/v1/stations/{world.a.station.pk}/compliance-documents/",
        {
            "file": document,
            "document_type": "licence_fee_receipt",
            "period": timezone.localdate().strftime("%Y-%m"),
        },
    )
