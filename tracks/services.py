"""Every write to the catalogue: tracks, audio and covers, review, splits and bulk imports."""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.module_loading import import_string

from artists.models import Artist, Publisher, RelationshipStatus
from artists.services import artist_get_or_create_by_name, ipi_normalise
from notifications.services import notify
from tracks.audio import AudioInfo, audio_probe, cover_check
from tracks.csv_import import CsvError, read_rows
from tracks.models import (
    TOTAL_BASIS_POINTS,
    Contributor,
    ContributorKind,
    ContributorRole,
    FingerprintStatus,
    ImportStatus,
    RowOutcome,
    SplitVersion,
    Track,
    TrackImport,
    TrackSplit,
    TrackStatus,
)
from users.models import Role, StaffRole, User
from users.services import audit_record
from zamio.errors import Conflict, DomainError, Forbidden, InvalidTransition, ValidationFailed
from zamio.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)
FINGERPRINT_TASK = "fingerprinting.fingerprint_track"

# --- Identifiers -------------------------------------------------------------------
ISRC_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}$")
ISWC_RE = re.compile(r"^T[0-9]{10}$")


def isrc_normalise(value: str) -> str:
    """'gh-a01-19-00001' → 'GHA011900001'. Blank stays blank; anything else is refused."""
    raw = (value or "").strip().upper()
    if not raw:
        return ""
    compact = raw.replace("-", "")
    dashed_ok = "-" not in raw or re.match(r"^..-...-..-.....$", raw)
    if not dashed_ok or not ISRC_RE.match(compact):
        raise ValidationFailed(
            "The ISRC is not valid.",
            details={"isrc": ["Use the form CC-XXX-YY-NNNNN, e.g. GH-A01-24-00001."]},
        )
    return compact


def iswc_check_digit(nine_digits: str) -> int:
    total = 1 + sum(weight * int(d) for weight, d in enumerate(nine_digits, start=1))
    return (10 - total % 10) % 10


def iswc_normalise(value: str) -> str:
    """'T-034.524.680-1' → 'T0345246801', checking the check digit. Blank stays blank."""
    raw = (value or "").strip().upper()
    if not raw:
        return ""
    compact = re.sub(r"[\s.\-]", "", raw)
    if not ISWC_RE.match(compact) or iswc_check_digit(compact[1:10]) != int(compact[10]):
        raise ValidationFailed(
            "The ISWC is not valid.",
            details={"iswc": ["Use the form T-123.456.789-C with a correct check digit."]},
        )
    return compact


# --- Duplicates --------------------------------------------------------------------
class DuplicateTrack(Conflict):
    """The upload is a track already in the catalogue; `details` names it."""

    code = "duplicate_track"

    def __init__(self, existing: Track, *, reason: str, confidence: float | None = None):
        labels = {
            "same_file": "This exact file is already in the catalogue",
            "same_isrc": "A track with this ISRC is already in the catalogue",
            "same_recording": "This recording is already in the catalogue under another file",
        }
        details: dict[str, Any] = {
            "reason": reason,
            "existing_track": {
                "id": existing.pk,
                "title": existing.title,
                "artist": existing.primary_artist.stage_name,
                "isrc": existing.isrc_display,
            },
        }
        if confidence is not None:
            details["confidence"] = round(confidence, 3)
        super().__init__(
            f"{labels[reason]}: “{existing.title}” (track {existing.pk}).", details=details
        )
        self.existing = existing
        self.reason = reason


def recording_matcher():
    """The callable (path) -> [(track_id, confidence)] set by TRACKS_RECORDING_MATCHER."""
    dotted = settings.TRACKS_RECORDING_MATCHER
    return import_string(dotted) if dotted else None


def track_find_duplicate(
    *, sha256: str = "", isrc: str = "", path: str | None = None, exclude_id: int | None = None
) -> None:
    """Raises DuplicateTrack for the same bytes, the same ISRC, or the same recording."""
    others = Track.objects.select_related("primary_artist").exclude(pk=exclude_id)
    if sha256:
        same = others.filter(audio_hash=sha256).order_by("id").first()
        if same is not None:
            raise DuplicateTrack(same, reason="same_file")
    if isrc:
        same = others.filter(isrc=isrc).order_by("id").first()
        if same is not None:
            raise DuplicateTrack(same, reason="same_isrc")
    matcher = recording_matcher() if path else None
    if matcher is not None:
        threshold = settings.TRACKS_DUPLICATE_MIN_CONFIDENCE
        hits = sorted(
            (
                (conf, tid)
                for tid, conf in matcher(str(path))
                if conf >= threshold and tid != exclude_id
            ),
            key=lambda hit: (-hit[0], hit[1]),
        )
        for confidence, track_id in hits:
            same = others.filter(pk=track_id).first()
            if same is not None:
                raise DuplicateTrack(same, reason="same_recording", confidence=confidence)


# --- Who may do what ------------------------------------------------------------------
def _is_staff(user: User | None) -> bool:
    return user is not None and user.role == Role.ADMIN


def _is_reviewer(user: User) -> bool:
    return user.role == Role.ADMIN and user.staff_role in (StaffRole.SUPPORT, StaffRole.SUPERADMIN)


def artist_manageable_by(*, actor: User | None, artist: Artist) -> bool:
    """Staff and system jobs (actor None) manage any artist; an artist itself; its publisher."""
    if actor is None or _is_staff(actor):
        return True
    if actor.role == Role.ARTIST:
        return artist.user_id == actor.pk
    if actor.role == Role.PUBLISHER:
        return artist.relationships.filter(
            publisher__user=actor, status=RelationshipStatus.ACTIVE
        ).exists()
    return False


def _require_editable(actor: User, track: Track) -> None:
    if not artist_manageable_by(actor=actor, artist=track.primary_artist):
        raise Forbidden("You cannot change this track.")


# --- Uploaded files ----------------------------------------------------------------
@contextlib.contextmanager
def local_path(upload) -> Iterator[str]:
    """A file-system path to an uploaded file (ffmpeg needs one), without keeping a copy."""
    if isinstance(upload, str | Path):
        yield str(upload)
        return
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        yield temporary()
        return
    with tempfile.NamedTemporaryFile(prefix="zamio-upload-") as handle:
        upload.seek(0)
        for chunk in (
            upload.chunks()
            if hasattr(upload, "chunks")
            else iter(lambda: upload.read(1 << 20), b"")
        ):
            handle.write(chunk)
        handle.flush()
        upload.seek(0)
        yield handle.name


def _upload_name(upload) -> str:
    if isinstance(upload, str | Path):
        return Path(upload).name
    return Path(getattr(upload, "name", "") or "upload").name


def _clean_metadata(fields: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    cleaned = dict(fields)
    errors: dict[str, list[str]] = {}
    if "title" in cleaned or not partial:
        cleaned["title"] = (cleaned.get("title") or "").strip()
        if not cleaned["title"]:
            errors["title"] = ["Required."]
    for name in ("album", "genre"):
        if name in cleaned:
            cleaned[name] = (cleaned[name] or "").strip()
    for name, normalise in (("isrc", isrc_normalise), ("iswc", iswc_normalise)):
        if name in cleaned:
            try:
                cleaned[name] = normalise(cleaned[name])
            except ValidationFailed as exc:
                errors.update(exc.details)
    if errors:
        raise ValidationFailed("The track details are invalid.", details=errors)
    return cleaned


def _featured(ids: Sequence[int], primary: Artist) -> list[Artist]:
    ids = [int(i) for i in ids or []]
    artists = list(Artist.objects.filter(pk__in=ids))
    missing = set(ids) - {a.pk for a in artists}
    if missing:
        raise ValidationFailed(
            "Unknown featured artist.",
            details={"featured_artist_ids": [f"No artist {i}." for i in sorted(missing)]},
        )
    if primary.pk in ids:
        raise ValidationFailed(
            "The primary artist cannot also be featured.",
            details={"featured_artist_ids": ["Remove the primary artist."]},
        )
    return artists


def _probe_and_check(
    upload, *, isrc: str, exclude_id: int | None = None, label: str | None = None
) -> tuple[AudioInfo, str]:
    """Probes the audio and refuses duplicates; returns the probe and the stored extension."""
    name = label or _upload_name(upload)
    size = getattr(upload, "size", None)
    if size is not None and size > settings.TRACKS_MAX_UPLOAD_BYTES:
        # Refuse before copying a huge in-memory upload to disk for ffmpeg.
        from tracks.audio import AudioRejected

        raise AudioRejected(
            f"the file is {size / 1e6:.1f} MB; the limit is "
            f"{settings.TRACKS_MAX_UPLOAD_BYTES / 1e6:.0f} MB",
            name=name,
        )
    with local_path(upload) as path:
        info = audio_probe(path, name=name)
        track_find_duplicate(sha256=info.sha256, isrc=isrc, path=path, exclude_id=exclude_id)
    return info, info.container


def _store(field_file, upload, *, extension: str) -> None:
    """Saves under a generated name (see tracks.models); the uploaded name is not used."""
    if isinstance(upload, str | Path):
        with open(upload, "rb") as handle:
            field_file.save(f"file.{extension.lstrip('.')}", File(handle), save=False)
    else:
        upload.seek(0)
        field_file.save(f"file.{extension.lstrip('.')}", upload, save=False)


def _delete_files_on_failure(*field_files) -> None:
    for field_file in field_files:
        if field_file:
            field_file.storage.delete(field_file.name)


def _integrity_to_duplicate(track_fields: dict[str, Any]) -> None:
    """A unique constraint fired under a race: answer as the duplicate check would have."""
    track_find_duplicate(
        sha256=track_fields.get("audio_hash", ""), isrc=track_fields.get("isrc", "")
    )
    raise Conflict("This track clashes with one just added; try again.")


# --- Tracks --------------------------------------------------------------------------
def track_create(
    *,
    actor: User | None,
    primary_artist: Artist,
    audio,
    title: str,
    cover=None,
    album: str = "",
    genre: str = "",
    release_date: date | None = None,
    isrc: str = "",
    iswc: str = "",
    explicit: bool = False,
    featured_artist_ids: Sequence[int] = (),
    status: str = TrackStatus.DRAFT,
    shares: Sequence[ShareInput] | None = None,
    audio_label: str | None = None,
) -> Track:
    """Probes the audio, refuses duplicates, stores audio/cover under generated names and
    creates the track (and its first splits, if given); queues fingerprinting on commit."""
    if not artist_manageable_by(actor=actor, artist=primary_artist):
        raise Forbidden("You can only add tracks for yourself or artists you represent.")
    if status not in (TrackStatus.DRAFT, TrackStatus.APPROVED) or (
        status == TrackStatus.APPROVED and actor is not None and not _is_reviewer(actor)
    ):
        raise Forbidden("Only staff and catalogue imports add tracks already approved.")
    meta = _clean_metadata(
        {
            "title": title,
            "album": album,
            "genre": genre,
            "isrc": isrc,
            "iswc": iswc,
        },
        partial=False,
    )
    featured = _featured(featured_artist_ids, primary_artist)
    cleaned_shares = _clean_shares(shares) if shares else None
    if audio is None:
        raise ValidationFailed("Attach the audio file.", details={"audio": ["Required."]})
    info, extension = _probe_and_check(audio, isrc=meta["isrc"], label=audio_label)
    cover_ext = cover_check(cover, name=_upload_name(cover)) if cover else None

    track = Track(
        primary_artist=primary_artist,
        release_date=release_date,
        explicit=explicit,
        duration_seconds=info.duration_seconds,
        audio_hash=info.sha256,
        audio_format=info.container,
        audio_codec=info.codec,
        audio_size=info.size,
        status=status,
        fingerprint_status=FingerprintStatus.PENDING,
        created_by=actor,
        **meta,
    )
    if status == TrackStatus.APPROVED:
        track.reviewed_by = actor
        track.reviewed_at = timezone.now()
    try:
        _store(track.audio, audio, extension=extension)
        if cover is not None:
            _store(track.cover, cover, extension=cover_ext)
        with transaction.atomic():
            track.save()
            if featured:
                track.featured_artists.set(featured)
            if cleaned_shares:
                _split_version_create(track=track, shares=cleaned_shares, actor=actor)
            elif status == TrackStatus.APPROVED:
                # An approved track always has splits: a catalogue import credits the
                # primary artist with everything until someone records the real ones.
                _split_version_create(
                    track=track,
                    shares=_clean_shares(
                        [
                            ShareInput(
                                name=primary_artist.stage_name,
                                role=ContributorRole.PERFORMER,
                                basis_points=TOTAL_BASIS_POINTS,
                                artist_id=primary_artist.pk,
                            )
                        ]
                    ),
                    actor=actor,
                    note="Default: 100 % to the primary artist",
                )
            audit_record(
                actor=actor,
                action="track.create",
                target=track,
                after={
                    "title": track.title,
                    "primary_artist": primary_artist.pk,
                    "isrc": track.isrc,
                    "audio_hash": track.audio_hash,
                    "status": track.status,
                },
            )
            enqueue_on_commit(FINGERPRINT_TASK, track_id=track.pk)
    except IntegrityError:
        _delete_files_on_failure(track.audio, track.cover)
        _integrity_to_duplicate({"audio_hash": info.sha256, "isrc": meta["isrc"]})
    except BaseException:
        _delete_files_on_failure(track.audio, track.cover)
        raise
    return track


def track_create_from_file(
    *,
    path: str,
    title: str,
    primary_artist: Artist,
    created_by: User | None = None,
    status: str = TrackStatus.APPROVED,
    **metadata: Any,
) -> Track:
    """For catalogue imports: probes and stores the file at `path` and queues fingerprinting.

    Raises AudioRejected (naming the file) for bad audio and DuplicateTrack for duplicates.
    """
    return track_create(
        actor=created_by,
        primary_artist=primary_artist,
        audio=Path(path),
        title=title,
        status=status,
        **metadata,
    )


TRACK_EDITABLE_FIELDS = (
    "title",
    "album",
    "genre",
    "release_date",
    "isrc",
    "iswc",
    "explicit",
    "featured_artist_ids",
)


@transaction.atomic
def track_update(*, actor: User, track: Track, **fields: Any) -> Track:
    """Edits a track's details (owner, its publisher or staff); audited.

    Changing the ISRC of an approved track sends it back for review.
    """
    unknown = set(fields) - set(TRACK_EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    track = Track.objects.select_for_update().select_related("primary_artist").get(pk=track.pk)
    _require_editable(actor, track)
    featured_ids = fields.pop("featured_artist_ids", None)
    cleaned = _clean_metadata(fields, partial=True)
    if cleaned.get("isrc") and cleaned["isrc"] != track.isrc:
        track_find_duplicate(isrc=cleaned["isrc"], exclude_id=track.pk)
    before = {name: _jsonable(getattr(track, name)) for name in cleaned}
    for name, value in cleaned.items():
        setattr(track, name, value)
    if (
        "isrc" in cleaned
        and before.get("isrc") != cleaned["isrc"]
        and track.status == TrackStatus.APPROVED
        and not _is_staff(actor)
    ):
        track.status = TrackStatus.SUBMITTED
        track.submitted_at = timezone.now()
        cleaned["status"] = TrackStatus.SUBMITTED
    try:
        with transaction.atomic():
            track.save()
    except IntegrityError:
        track_find_duplicate(isrc=cleaned.get("isrc", ""), exclude_id=track.pk)
        raise
    if featured_ids is not None:
        featured = _featured(featured_ids, track.primary_artist)
        before["featured_artist_ids"] = sorted(track.featured_artists.values_list("pk", flat=True))
        track.featured_artists.set(featured)
        cleaned["featured_artist_ids"] = sorted(a.pk for a in featured)
    audit_record(
        actor=actor,
        action="track.update",
        target=track,
        before=before,
        after={k: _jsonable(v) for k, v in cleaned.items()},
    )
    return track


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def track_replace_audio(*, actor: User, track: Track, audio) -> Track:
    """Replaces the audio of a draft or rejected track; re-probes, re-checks duplicates,
    and queues fingerprinting again on commit."""
    _require_editable(actor, track)
    if track.status not in (TrackStatus.DRAFT, TrackStatus.REJECTED):
        raise InvalidTransition(
            f"The audio of a {track.status} track cannot change; contact support."
        )
    info, extension = _probe_and_check(audio, isrc="", exclude_id=track.pk)
    new = Track(pk=track.pk)
    _store(new.audio, audio, extension=extension)
    try:
        with transaction.atomic():
            locked = Track.objects.select_for_update().get(pk=track.pk)
            if locked.status not in (TrackStatus.DRAFT, TrackStatus.REJECTED):
                raise InvalidTransition(f"The audio of a {locked.status} track cannot change.")
            old_name = locked.audio.name
            before = {"audio_hash": locked.audio_hash, "duration_seconds": locked.duration_seconds}
            Track.objects.filter(pk=track.pk).update(
                audio=new.audio.name,
                audio_hash=info.sha256,
                audio_format=info.container,
                audio_codec=info.codec,
                audio_size=info.size,
                duration_seconds=info.duration_seconds,
                fingerprint_status=FingerprintStatus.PENDING,
                fingerprint_error="",
                updated_at=timezone.now(),
            )
            audit_record(
                actor=actor,
                action="track.replace_audio",
                target=locked,
                before=before,
                after={"audio_hash": info.sha256, "duration_seconds": info.duration_seconds},
            )
            enqueue_on_commit(FINGERPRINT_TASK, track_id=track.pk)
            if old_name:
                storage = locked.audio.storage
                transaction.on_commit(lambda: storage.delete(old_name))
    except IntegrityError:
        _delete_files_on_failure(new.audio)
        _integrity_to_duplicate({"audio_hash": info.sha256})
    except BaseException:
        _delete_files_on_failure(new.audio)
        raise
    track.refresh_from_db()
    return track


def track_set_cover(*, actor: User, track: Track, cover) -> Track:
    """Replaces the cover image (JPEG/PNG), stored under a generated name."""
    _require_editable(actor, track)
    extension = cover_check(cover, name=_upload_name(cover))
    new = Track(pk=track.pk)
    _store(new.cover, cover, extension=extension)
    try:
        with transaction.atomic():
            locked = Track.objects.select_for_update().get(pk=track.pk)
            old_name = locked.cover.name
            Track.objects.filter(pk=track.pk).update(
                cover=new.cover.name, updated_at=timezone.now()
            )
            audit_record(actor=actor, action="track.set_cover", target=locked)
            if old_name:
                storage = locked.cover.storage
                transaction.on_commit(lambda: storage.delete(old_name))
    except BaseException:
        _delete_files_on_failure(new.cover)
        raise
    track.refresh_from_db()
    return track


@transaction.atomic
def track_submit(*, actor: User, track: Track) -> Track:
    """Sends a draft (or a fixed rejected track) to staff review; it needs audio and splits."""
    track = Track.objects.select_for_update().select_related("primary_artist").get(pk=track.pk)
    _require_editable(actor, track)
    if track.status not in (TrackStatus.DRAFT, TrackStatus.REJECTED):
        raise InvalidTransition(f"This track is {track.status}; only drafts are submitted.")
    problems = {}
    if not track.audio:
        problems["audio"] = ["Upload the audio first."]
    if not track.split_versions.exists():
        problems["splits"] = ["Record who owns what share of the track first."]
    if problems:
        raise ValidationFailed("The track is not ready for review.", details=problems)
    before = track.status
    track.status = TrackStatus.SUBMITTED
    track.submitted_at = timezone.now()
    track.save(update_fields=["status", "submitted_at", "updated_at"])
    audit_record(
        actor=actor,
        action="track.submit",
        target=track,
        before={"status": before},
        after={"status": track.status},
    )
    return track


def _current_total(track: Track) -> int | None:
    version = track.split_versions.order_by("-effective_from", "-number").first()
    if version is None:
        return None
    return sum(version.shares.values_list("basis_points", flat=True))


@transaction.atomic
def track_approve(*, actor: User, track: Track) -> Track:
    """Staff approve a submitted track whose splits total 100 %; audited; the artist is emailed."""
    if not _is_reviewer(actor):
        raise Forbidden("Only support staff approve tracks.")
    track = (
        Track.objects.select_for_update(of=("self",))
        .select_related("primary_artist__user")
        .get(pk=track.pk)
    )
    if track.status != TrackStatus.SUBMITTED:
        raise InvalidTransition(
            f"This track is {track.status}; only submitted tracks are approved."
        )
    total = _current_total(track)
    if total != TOTAL_BASIS_POINTS:
        raise ValidationFailed(
            "The track's splits must total exactly 100 % before approval.",
            details={"splits": [f"They total {0 if total is None else total} of 10000 bp."]},
            code="splits_incomplete",
        )
    track.status = TrackStatus.APPROVED
    track.reviewed_by = actor
    track.reviewed_at = timezone.now()
    track.rejection_reason = ""
    track.save(
        update_fields=["status", "reviewed_by", "reviewed_at", "rejection_reason", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="track.approve",
        target=track,
        before={"status": "submitted"},
        after={"status": "approved"},
    )
    _tell_owner(
        track,
        kind="track_approved",
        title=f"“{track.title}” is approved",
        body=f"Your track “{track.title}” is approved and now monitored on radio.",
    )
    return track


@transaction.atomic
def track_reject(*, actor: User, track: Track, reason: str) -> Track:
    """Staff reject a submitted track with a reason; audited; the artist is emailed."""
    if not _is_reviewer(actor):
        raise Forbidden("Only support staff reject tracks.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give the reason for rejecting.", details={"reason": ["Required."]})
    track = (
        Track.objects.select_for_update(of=("self",))
        .select_related("primary_artist__user")
        .get(pk=track.pk)
    )
    if track.status != TrackStatus.SUBMITTED:
        raise InvalidTransition(
            f"This track is {track.status}; only submitted tracks are rejected."
        )
    track.status = TrackStatus.REJECTED
    track.rejection_reason = reason
    track.reviewed_by = actor
    track.reviewed_at = timezone.now()
    track.save(
        update_fields=["status", "reviewed_by", "reviewed_at", "rejection_reason", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="track.reject",
        target=track,
        before={"status": "submitted"},
        after={"status": "rejected", "reason": reason},
    )
    _tell_owner(
        track,
        kind="track_rejected",
        title=f"“{track.title}” needs changes",
        body=f"Your track “{track.title}” was not approved: {reason}\n\nFix it and resubmit it.",
    )
    return track


def _tell_owner(track: Track, *, kind: str, title: str, body: str) -> None:
    owner = track.primary_artist.user
    if owner is not None:
        notify(user=owner, kind=kind, title=title, body=body, link=f"/tracks/{track.pk}")


def track_set_fingerprint_status(*, track_id: int, status: str, error: str = "") -> None:
    """Records the fingerprinting engine's progress; a no-op when the track is gone."""
    if status not in FingerprintStatus.values:
        raise ValueError(f"Unknown fingerprint status {status!r}")
    Track.objects.filter(pk=track_id).update(
        fingerprint_status=status, fingerprint_error=error, updated_at=timezone.now()
    )


# --- Splits ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ShareInput:
    role: str
    basis_points: int
    name: str = ""  # may be left out when artist_id or publisher_id names the contributor
    kind: str = ContributorKind.PERSON
    artist_id: int | None = None
    publisher_id: int | None = None
    ipi: str = ""


@dataclass(frozen=True)
class _CleanShare:
    contributor_key: tuple
    input: ShareInput
    artist: Artist | None
    publisher: Publisher | None
    ipi: str


def _clean_shares(shares: Sequence[ShareInput]) -> list[_CleanShare]:
    errors: list[str] = []
    if not shares:
        raise ValidationFailed("Add at least one contributor.", details={"shares": ["Required."]})
    artist_ids = {s.artist_id for s in shares if s.artist_id}
    publisher_ids = {s.publisher_id for s in shares if s.publisher_id}
    artists = Artist.objects.in_bulk(artist_ids)
    publishers = Publisher.objects.in_bulk(publisher_ids)
    cleaned: list[_CleanShare] = []
    seen: set[tuple] = set()
    for number, share in enumerate(shares, start=1):
        label = f"Share {number}"
        if share.role not in ContributorRole.values:
            errors.append(f"{label}: unknown role {share.role!r}.")
        if (
            not isinstance(share.basis_points, int)
            or not 1 <= share.basis_points <= TOTAL_BASIS_POINTS
        ):
            errors.append(f"{label}: basis points must be a whole number from 1 to 10000.")
        artist = artists.get(share.artist_id) if share.artist_id else None
        publisher = publishers.get(share.publisher_id) if share.publisher_id else None
        if share.artist_id and artist is None:
            errors.append(f"{label}: no artist {share.artist_id}.")
        if share.publisher_id and publisher is None:
            errors.append(f"{label}: no publisher {share.publisher_id}.")
        kind = ContributorKind.PUBLISHER if publisher else share.kind
        if kind not in ContributorKind.values:
            errors.append(f"{label}: unknown kind {share.kind!r}.")
        if artist and publisher:
            errors.append(f"{label}: a share is either an artist's or a publisher's, not both.")
        if kind == ContributorKind.PUBLISHER and artist:
            errors.append(f"{label}: a publisher share cannot name an artist.")
        name = (share.name or "").strip() or (
            artist.stage_name if artist else publisher.name if publisher else ""
        )
        if not name:
            errors.append(f"{label}: the contributor's name is required.")
        try:
            ipi = ipi_normalise(share.ipi)
        except ValidationFailed:
            errors.append(f"{label}: the IPI number must be 9 to 11 digits.")
            ipi = ""
        if artist:
            key: tuple = ("artist", artist.pk)
        elif publisher:
            key = ("publisher", publisher.pk)
        else:
            key = (kind, name.casefold(), ipi)
        if (key, share.role) in seen:
            errors.append(f"{label}: {name} already has the {share.role} role here.")
        seen.add((key, share.role))
        cleaned.append(
            _CleanShare(
                contributor_key=key,
                input=ShareInput(
                    name=name,
                    role=share.role,
                    basis_points=share.basis_points,
                    kind=kind,
                    artist_id=share.artist_id,
                    publisher_id=share.publisher_id,
                    ipi=ipi,
                ),
                artist=artist,
                publisher=publisher,
                ipi=ipi,
            )
        )
    if errors:
        raise ValidationFailed("The splits are invalid.", details={"shares": errors})
    total = sum(s.input.basis_points for s in cleaned)
    if total != TOTAL_BASIS_POINTS:
        raise ValidationFailed(
            f"The splits total {total / 100:g} %; they must total exactly 100 %.",
            details={"shares": [f"Total is {total} bp; it must be 10000 bp."]},
            code="splits_total",
        )
    return cleaned


def _contributor_for(share: _CleanShare) -> Contributor:
    if share.artist is not None:
        contributor, _ = Contributor.objects.get_or_create(
            artist=share.artist,
            defaults={"name": share.artist.stage_name, "ipi": share.ipi or share.artist.ipi_number},
        )
        return contributor
    if share.publisher is not None:
        contributor, _ = Contributor.objects.get_or_create(
            publisher=share.publisher,
            defaults={
                "name": share.publisher.name,
                "kind": ContributorKind.PUBLISHER,
                "ipi": share.ipi or share.publisher.ipi_number,
            },
        )
        return contributor
    existing = (
        Contributor.objects.filter(
            artist__isnull=True,
            publisher__isnull=True,
            kind=share.input.kind,
            name__iexact=share.input.name,
            ipi=share.ipi,
        )
        .order_by("id")
        .first()
    )
    return existing or Contributor.objects.create(
        name=share.input.name, kind=share.input.kind, ipi=share.ipi
    )


def _split_version_create(
    *, track: Track, shares: list[_CleanShare], actor: User | None, note: str = "", split_sheet=None
) -> SplitVersion:
    # Locking the track serialises version numbers per track.
    Track.objects.select_for_update().filter(pk=track.pk).first()
    number = (track.split_versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = SplitVersion(
        track=track,
        number=number,
        effective_from=timezone.now(),
        total_bp=sum(s.input.basis_points for s in shares),
        note=note,
        created_by=actor,
    )
    if split_sheet is not None:
        version.split_sheet.save(
            f"sheet{_split_sheet_extension(split_sheet)}", split_sheet, save=False
        )
    version.save()
    TrackSplit.objects.bulk_create(
        TrackSplit(
            version=version,
            contributor=_contributor_for(share),
            role=share.input.role,
            basis_points=share.input.basis_points,
        )
        for share in shares
    )
    return version


_SHEET_SIGNATURES = {b"%PDF-": ".pdf", b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}


def _split_sheet_extension(upload) -> str:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for signature, extension in _SHEET_SIGNATURES.items():
        if head.startswith(signature):
            return extension
    raise ValidationFailed(
        "The split sheet must be a PDF, JPEG or PNG file.",
        details={"split_sheet": ["Not a PDF, JPEG or PNG file."]},
    )


def splits_set(
    *,
    actor: User,
    track: Track,
    shares: Sequence[ShareInput],
    note: str = "",
    split_sheet=None,
) -> SplitVersion:
    """Records a new split version (total exactly 10,000 bp) in force from now; audited.

    Earlier versions are kept unchanged, so plays before now keep the splits they had.
    """
    _require_editable(actor, track)
    cleaned = _clean_shares(shares)
    if split_sheet is not None:
        _split_sheet_extension(split_sheet)
        if split_sheet.size > settings.ARTISTS_KYC_MAX_FILE_BYTES:
            raise ValidationFailed(
                "The split sheet is too large.", details={"split_sheet": ["Too large."]}
            )
    with transaction.atomic():
        version = _split_version_create(
            track=track, shares=cleaned, actor=actor, note=note, split_sheet=split_sheet
        )
        audit_record(
            actor=actor,
            action="track.splits_set",
            target=track,
            after={
                "version": version.number,
                "shares": [
                    {"name": s.input.name, "role": s.input.role, "bp": s.input.basis_points}
                    for s in cleaned
                ],
            },
        )
    return version


# --- Bulk import ------------------------------------------------------------------------
IMPORT_TASK = "tracks.run_import"
# Zip imports: a catalogue zip holds one CSV and its audio and covers. Audio and images
# barely compress; anything packed tighter than _MAX_ZIP_RATIO (and big enough to matter)
# is a bomb, not a catalogue.
_MAX_ZIP_MEMBERS = 2000
_MAX_ZIP_RATIO = 100
_ZIP_RATIO_MIN_BYTES = 1024 * 1024
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!")
_ARCHIVE_SUFFIXES = {".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst"}
_MAX_CSV_BYTES = 5 * 1024 * 1024


def _private():
    return storages["private"]


@dataclass(frozen=True)
class ImportFile:
    """One uploaded file of an import, under the name the CSV refers to it by."""

    name: str
    source: Any  # a file object with read()/chunks(), e.g. an UploadedFile or a zip member
    size: int


def _import_sources(
    *, csv_file, files: Sequence, zip_file
) -> tuple[bytes, list[ImportFile], zipfile.ZipFile | None]:
    if zip_file is not None and csv_file is not None:
        raise ValidationFailed(
            "Send either a zip or a CSV with its files, not both.",
            details={"zip_file": ["Send the CSV inside the zip."]},
        )
    if zip_file is None and csv_file is None:
        raise ValidationFailed("Attach the CSV (or a zip).", details={"csv_file": ["Required."]})
    if zip_file is not None:
        try:
            archive = zipfile.ZipFile(zip_file)
        except zipfile.BadZipFile:
            raise ValidationFailed(
                "The zip file cannot be read.", details={"zip_file": ["Not a zip archive."]}
            ) from None
        _zip_check(archive)
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and "__MACOSX/" not in info.filename
            and not PurePosixPath(info.filename).name.startswith(".")
        ]
        if sum(info.file_size for info in members) > settings.TRACKS_MAX_IMPORT_BYTES:
            raise ValidationFailed(
                "The zip unpacks to more than the import limit.",
                details={"zip_file": [f"At most {settings.TRACKS_MAX_IMPORT_BYTES // 10**6} MB."]},
            )
        sheets = [info for info in members if info.filename.lower().endswith(".csv")]
        if len(sheets) != 1:
            raise ValidationFailed(
                "The zip must hold exactly one CSV file.",
                details={"zip_file": [f"Found {len(sheets)} CSV files."]},
            )
        if sheets[0].file_size > _MAX_CSV_BYTES:
            raise ValidationFailed("The CSV is too large.", details={"zip_file": ["CSV > 5 MB."]})
        csv_bytes = archive.read(sheets[0])
        imports = [
            ImportFile(
                name=PurePosixPath(info.filename).name,
                source=_LazyZipMember(archive, info),
                size=info.file_size,
            )
            for info in members
            if info is not sheets[0]
        ]
        return csv_bytes, imports, archive
    if csv_file.size > _MAX_CSV_BYTES:
        raise ValidationFailed("The CSV is too large.", details={"csv_file": ["At most 5 MB."]})
    csv_file.seek(0)
    imports = [ImportFile(name=Path(f.name).name, source=f, size=f.size) for f in files]
    if sum(f.size for f in imports) > settings.TRACKS_MAX_IMPORT_BYTES:
        raise ValidationFailed(
            "The files are larger than the import limit.",
            details={"files": [f"At most {settings.TRACKS_MAX_IMPORT_BYTES // 10**6} MB."]},
        )
    return csv_file.read(), imports, None


def _zip_member_problem(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    name = info.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or ".." in parts or (parts and ":" in parts[0]):
        return f"{name}: names a place outside the zip."
    if PurePosixPath(name).suffix.lower() in _ARCHIVE_SUFFIXES:
        return f"{name}: archives inside the zip are not unpacked."
    if info.file_size > _ZIP_RATIO_MIN_BYTES and info.file_size > _MAX_ZIP_RATIO * max(
        info.compress_size, 1
    ):
        return f"{name}: compressed {info.file_size // max(info.compress_size, 1)}:1."
    if not info.is_dir() and info.file_size:
        with archive.open(info) as member:  # the first bytes only: an archive by its magic
            if member.read(6).startswith(_ARCHIVE_MAGIC):
                return f"{name}: archives inside the zip are not unpacked."
    return ""


def _zip_check(archive: zipfile.ZipFile) -> None:
    """Refuses zips built to hurt: too many members, names that climb out of the staging
    folder, archives inside the archive, members that expand far beyond any real audio,
    image or CSV (a zip bomb). Nothing is unpacked before this passes."""
    members = archive.infolist()
    if len(members) > _MAX_ZIP_MEMBERS:
        raise ValidationFailed(
            "The zip holds too many files.",
            details={"zip_file": [f"At most {_MAX_ZIP_MEMBERS} files."]},
        )
    problems = [p for p in (_zip_member_problem(archive, info) for info in members) if p]
    if problems:
        raise ValidationFailed(
            "The zip cannot be imported.", details={"zip_file": problems[:20]}, code="zip_unsafe"
        )


class _LazyZipMember:
    """Opens a zip member only when it is staged, so unreferenced ones are never unpacked."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo):
        self.archive, self.info = archive, info

    def open(self):
        return self.archive.open(self.info)


def track_import_start(
    *, actor: User, csv_file=None, files: Sequence = (), zip_file=None, submit: bool = False
) -> TrackImport:
    """Reads the CSV, stages the files it names (privately) and runs the import: at once when
    small, else as a Celery task queued on commit. Rows are reported one by one."""
    if actor.role not in (Role.ARTIST, Role.PUBLISHER, Role.ADMIN):
        raise Forbidden("Only artists, publishers and staff import tracks.")
    if actor.role == Role.ARTIST and not Artist.objects.filter(user=actor).exists():
        raise ValidationFailed("Create your artist profile first.", code="profile_missing")
    csv_bytes, sources, archive = _import_sources(csv_file=csv_file, files=files, zip_file=zip_file)
    try:
        rows = read_rows(csv_bytes)
    except CsvError as exc:
        raise ValidationFailed(str(exc), details={"csv_file": [str(exc)]}) from None
    names = [source.name for source in sources]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValidationFailed("Two uploaded files have the same name.", details={"files": twice})
    wanted = {row.audio_filename for row in rows} | {row.cover_filename for row in rows}
    storage = _private()
    staging = f"tracks/imports/{uuid.uuid4().hex}"
    manifest: dict[str, str] = {}
    try:
        storage.save(f"{staging}/rows.csv", ContentFile(csv_bytes))
        for source in sources:
            if source.name not in wanted:
                continue
            suffix = PurePosixPath(source.name).suffix.lower()[:10]
            if isinstance(source.source, _LazyZipMember):
                with source.source.open() as member:
                    stored = storage.save(f"{staging}/{uuid.uuid4().hex}{suffix}", File(member))
            else:
                source.source.seek(0)
                stored = storage.save(f"{staging}/{uuid.uuid4().hex}{suffix}", source.source)
            manifest[source.name] = stored
    except BaseException:
        _staging_delete(staging, manifest)
        raise
    finally:
        if archive is not None:
            archive.close()
    with transaction.atomic():
        job = TrackImport.objects.create(
            created_by=actor,
            staging_dir=staging,
            manifest=manifest,
            total_rows=len(rows),
            submit_for_review=submit,
        )
        audit_record(
            actor=actor, action="track.import_start", target=job, after={"rows": len(rows)}
        )
        if len(rows) > settings.TRACKS_IMPORT_SYNC_MAX_ROWS:
            enqueue_on_commit(IMPORT_TASK, import_id=job.pk)
    if len(rows) <= settings.TRACKS_IMPORT_SYNC_MAX_ROWS:
        track_import_run(import_id=job.pk)
        job.refresh_from_db()
    return job


def _staging_delete(staging: str, manifest: dict[str, str]) -> None:
    storage = _private()
    for name in [*manifest.values(), f"{staging}/rows.csv"]:
        storage.delete(name)
    with contextlib.suppress(OSError):
        Path(storage.path(staging)).rmdir()


def track_import_run(*, import_id: int) -> None:
    """Processes an import's rows from where it stopped; each row is created, skipped as a
    duplicate or rejected on its own. Safe to run twice: a run claims the import first."""
    claimed = TrackImport.objects.filter(pk=import_id, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not claimed:
        return  # gone, already running elsewhere or finished
    job = TrackImport.objects.select_related("created_by").get(pk=import_id)
    storage = _private()
    try:
        with storage.open(f"{job.staging_dir}/rows.csv", "rb") as handle:
            rows = read_rows(handle.read())
    except (OSError, CsvError) as exc:
        TrackImport.objects.filter(pk=import_id).update(
            status=ImportStatus.FAILED, error=str(exc), finished_at=timezone.now()
        )
        return
    # Rows before processed_rows were reported by an earlier, interrupted run.
    for row in rows[job.processed_rows :]:
        result = _import_row(job, row)
        with transaction.atomic():
            locked = TrackImport.objects.select_for_update().get(pk=import_id)
            locked.results = [*locked.results, result]
            locked.processed_rows += 1
            counter = {
                RowOutcome.CREATED: "created_count",
                RowOutcome.DUPLICATE: "duplicate_count",
                RowOutcome.REJECTED: "rejected_count",
            }[result["outcome"]]
            setattr(locked, counter, getattr(locked, counter) + 1)
            locked.save()
    with transaction.atomic():
        TrackImport.objects.filter(pk=import_id).update(
            status=ImportStatus.DONE, finished_at=timezone.now(), updated_at=timezone.now()
        )
        staging, manifest = job.staging_dir, dict(job.manifest)
        transaction.on_commit(lambda: _staging_delete(staging, manifest))


def _resolve_row_artist(actor: User, name: str) -> Artist:
    if actor.role == Role.ARTIST:
        own = Artist.objects.get(user=actor)
        if name and name.casefold() != own.stage_name.casefold():
            raise ValidationFailed(
                f"You can only import your own tracks; “{name}” is not {own.stage_name}.",
                details={"artist": [f"Use {own.stage_name} or leave it empty."]},
            )
        return own
    if not name:
        raise ValidationFailed("Name the artist.", details={"artist": ["Required."]})
    if actor.role == Role.PUBLISHER:
        artist = (
            Artist.objects.filter(
                stage_name__iexact=name,
                relationships__publisher__user=actor,
                relationships__status=RelationshipStatus.ACTIVE,
            )
            .order_by("id")
            .first()
        )
        if artist is None:
            raise ValidationFailed(
                f"“{name}” is not an artist you represent.",
                details={"artist": ["Not an artist you actively represent."]},
            )
        return artist
    return artist_get_or_create_by_name(stage_name=name)


def _share_inputs(shares) -> list[ShareInput]:
    inputs = []
    for share in shares:
        if share.role in (ContributorRole.PUBLISHER, ContributorRole.LABEL):
            publisher = Publisher.objects.filter(name__iexact=share.name).order_by("id").first()
            inputs.append(
                ShareInput(
                    name=share.name,
                    role=share.role,
                    basis_points=share.basis_points,
                    kind=ContributorKind.PUBLISHER,
                    publisher_id=publisher.pk if publisher else None,
                )
            )
            continue
        artist = Artist.objects.filter(stage_name__iexact=share.name).order_by("id").first()
        inputs.append(
            ShareInput(
                name=share.name,
                role=share.role,
                basis_points=share.basis_points,
                artist_id=artist.pk if artist else None,
            )
        )
    return inputs


def _import_row(job: TrackImport, row) -> dict[str, Any]:
    base: dict[str, Any] = {"row": row.number, "title": row.title}
    rejected = {**base, "outcome": RowOutcome.REJECTED}
    if row.errors:
        return {**rejected, "reason": "The row has invalid fields.", "errors": row.errors}
    actor = job.created_by
    storage = _private()
    audio_name = job.manifest.get(row.audio_filename)
    if audio_name is None:
        return {
            **rejected,
            "reason": f"The audio file “{row.audio_filename}” is not in the upload.",
            "errors": {"audio_filename": ["Not in the upload."]},
        }
    cover_name = job.manifest.get(row.cover_filename) if row.cover_filename else None
    if row.cover_filename and cover_name is None:
        return {
            **rejected,
            "reason": f"The cover “{row.cover_filename}” is not in the upload.",
            "errors": {"cover_filename": ["Not in the upload."]},
        }
    try:
        artist = _resolve_row_artist(actor, row.artist)
        featured = [artist_get_or_create_by_name(stage_name=n) for n in row.featured_artists]
        with contextlib.ExitStack() as stack:
            cover = None
            if cover_name:
                cover = File(
                    stack.enter_context(storage.open(cover_name, "rb")), name=row.cover_filename
                )
            track = track_create(
                actor=actor,
                primary_artist=artist,
                audio=Path(storage.path(audio_name)),
                audio_label=row.audio_filename,
                title=row.title,
                cover=cover,
                album=row.album,
                genre=row.genre,
                release_date=row.release_date,
                isrc=row.isrc,
                iswc=row.iswc,
                explicit=row.explicit,
                featured_artist_ids=[a.pk for a in featured if a.pk != artist.pk],
                shares=_share_inputs(row.shares) or None,
            )
    except DuplicateTrack as duplicate:
        return {
            **base,
            "outcome": RowOutcome.DUPLICATE,
            "reason": duplicate.message,
            "existing_track": duplicate.details["existing_track"],
        }
    except DomainError as refused:
        return {**rejected, "reason": refused.message, "errors": refused.details}
    except Exception:  # one broken row must not strand the rows after it; it is logged
        logger.exception("Import %s row %s failed", job.pk, row.number)
        return {**rejected, "reason": "An unexpected error stopped this row; it was logged."}
    result = {**base, "outcome": RowOutcome.CREATED, "track_id": track.pk}
    if job.submit_for_review and row.shares:
        try:
            track_submit(actor=actor, track=track)
            result["submitted"] = True
        except DomainError as refused:
            result["submitted"] = False
            result["reason"] = f"Created, but not submitted: {refused.message}"
    return result


def track_import_requeue_stale(*, older_than_minutes: int = 30) -> int:
    """Re-queues imports whose task was lost (pending) or whose worker died (running);
    the run resumes after the last reported row. Returns how many were re-queued."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    stale = list(
        TrackImport.objects.filter(
            status__in=[ImportStatus.PENDING, ImportStatus.RUNNING], updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for import_id in stale:
        with transaction.atomic():
            TrackImport.objects.filter(pk=import_id).update(
                status=ImportStatus.PENDING, updated_at=timezone.now()
            )
            enqueue_on_commit(IMPORT_TASK, import_id=import_id)
    return len(stale)
