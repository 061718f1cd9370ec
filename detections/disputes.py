"""The services of disputes: opening one on a play, its state machine, evidence, comments,
and staff corrections of a play (track, times, confidence).

The state machine (DisputeStatus), one named service per transition:

    submitted ──review_start──▶ under_review ──evidence_request──▶ evidence_required
                                     ▲  │                             │
                                     └──┼───── evidence_add (party) ◀─┘
                                        ├──escalate──▶ escalated ──resolve (superadmin)──▶ resolved
                                        └──resolve (support) ──────────────────────────▶ resolved
    any active state ──withdraw (the opener)──▶ withdrawn

Every transition checks who may make it, writes an audit row and a timeline entry, and
notifies the parties (except the actor) on commit. A refused transition raises
InvalidTransition (409) or Forbidden (403) before anything is written.

Money: opening withholds the play's royalties (royalty status withheld, verification
disputed); the resolution releases them (verified: royalty status back to pending, the
royalty calculator prices it into the period open then) or cancels them (rejected). Both
go through one seam below, `_royalties_*`, which asks the royalties app to re-price a play
that already had lines, by its task name (detections may not import royalties).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from detections import analytics
from detections.models import (
    ACTIVE_DISPUTE_STATUSES,
    Dispute,
    DisputeEntry,
    DisputeEntryKind,
    DisputeEvidence,
    DisputeOutcome,
    DisputeStatus,
    DisputeType,
    PlayLog,
    PlayOverride,
    RoyaltyStatus,
    VerificationStatus,
)
from detections.selectors import dispute_party_users, play_get
from tracks.models import Track
from users.models import Role, StaffRole, User
from users.services import audit_record
from zamio.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from zamio.tasks import enqueue_on_commit

# --- Who may do what ----------------------------------------------------------------------


def _is_staff(user: User) -> bool:
    return user.role == Role.ADMIN


def _is_support(user: User) -> bool:
    return _is_staff(user) and user.staff_role in (StaffRole.SUPPORT, StaffRole.SUPERADMIN)


def _is_superadmin(user: User) -> bool:
    return _is_staff(user) and user.staff_role == StaffRole.SUPERADMIN


def _require_support(actor: User, what: str) -> None:
    if not _is_support(actor):
        raise Forbidden(f"Only ZamIO support staff {what}.", code="not_support_staff")


# --- Evidence files -------------------------------------------------------------------------
@dataclass(frozen=True)
class EvidenceFile:
    name: str
    data: bytes


# extension → (content type, a check of the first bytes)
_EVIDENCE_TYPES = {
    ".mp3": ("audio/mpeg", lambda b: b[:3] == b"ID3" or (b[:1] == b"\xff" and b[1] & 0xE0 == 0xE0)),
    ".wav": ("audio/wav", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE"),
    ".ogg": ("audio/ogg", lambda b: b[:4] == b"OggS"),
    ".m4a": ("audio/mp4", lambda b: b[4:8] == b"ftyp"),
    ".aac": ("audio/aac", lambda b: b[:1] == b"\xff" and b[1] & 0xF0 == 0xF0),
    ".pdf": ("application/pdf", lambda b: b[:5] == b"%PDF-"),
    ".png": ("image/png", lambda b: b[:8] == b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", lambda b: b[:3] == b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", lambda b: b[:3] == b"\xff\xd8\xff"),
    ".txt": ("text/plain", lambda b: _is_text(b)),
    ".csv": ("text/csv", lambda b: _is_text(b)),
}
EVIDENCE_MEDIA_TYPES = sorted({media_type for media_type, _check in _EVIDENCE_TYPES.values()})


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


def evidence_check(*, name: str, data: bytes) -> str:
    """The content type of an acceptable evidence file; ValidationFailed (400) otherwise.
    The type comes from the bytes matching the extension, never from the client."""
    suffix = PurePath(name or "").suffix.lower()
    if suffix not in _EVIDENCE_TYPES:
        raise ValidationFailed(
            "This kind of file is not accepted as evidence.",
            details={"files": [f"{name}: use one of {', '.join(sorted(_EVIDENCE_TYPES))}."]},
        )
    if not data:
        raise ValidationFailed("An evidence file is empty.", details={"files": [f"{name}: empty."]})
    if len(data) > settings.DISPUTES_EVIDENCE_MAX_BYTES:
        raise ValidationFailed(
            "An evidence file is too large.",
            details={"files": [f"{name}: at most {settings.DISPUTES_EVIDENCE_MAX_BYTES} bytes."]},
        )
    content_type, looks_right = _EVIDENCE_TYPES[suffix]
    if not looks_right(data[:4096]):
        raise ValidationFailed(
            "An evidence file is not what its name says.",
            details={"files": [f"{name}: the content is not {suffix[1:].upper()}."]},
        )
    return content_type


class _StoredFiles:
    """Evidence files written inside a transaction: removed again if it rolls back (the
    database forgets the rows; the storage would keep the files forever)."""

    def __init__(self) -> None:
        self.files: list[str] = []

    def __enter__(self) -> _StoredFiles:
        self.files = []
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            storage = DisputeEvidence._meta.get_field("file").storage
            for name in self.files:
                storage.delete(name)
        self.files = []


def _evidence_store(
    *, dispute: Dispute, actor: User, file: EvidenceFile, note: str, stored: _StoredFiles
) -> DisputeEvidence:
    content_type = evidence_check(name=file.name, data=file.data)
    if dispute.evidence.count() >= settings.DISPUTES_EVIDENCE_MAX_FILES:
        raise ValidationFailed(
            "This dispute has as many evidence files as it may hold.",
            details={"files": [f"At most {settings.DISPUTES_EVIDENCE_MAX_FILES} files."]},
        )
    digest = hashlib.sha256(file.data).hexdigest()
    if dispute.evidence.filter(sha256=digest).exists():
        raise Conflict(
            "This file is already attached to the dispute.",
            code="evidence_duplicate",
            details={"files": [file.name]},
        )
    evidence = DisputeEvidence(
        dispute=dispute,
        uploaded_by=actor,
        original_name=PurePath(file.name).name[:255],
        content_type=content_type,
        size_bytes=len(file.data),
        sha256=digest,
        note=note[:500],
    )
    evidence.file.save(file.name, ContentFile(file.data), save=False)
    stored.files.append(evidence.file.name)
    evidence.save()
    _entry(
        dispute=dispute,
        author=actor,
        kind=DisputeEntryKind.EVIDENCE,
        body=f"{evidence.original_name}" + (f": {note}" if note else ""),
    )
    return evidence


# --- Timeline, audit, notifications -------------------------------------------------------
def _entry(
    *,
    dispute: Dispute,
    author: User | None,
    kind: str,
    body: str = "",
    from_status: str = "",
    to_status: str = "",
) -> DisputeEntry:
    return DisputeEntry.objects.create(
        dispute=dispute,
        author=author,
        kind=kind,
        body=body,
        from_status=from_status,
        to_status=to_status,
    )


def _notify_parties(*, dispute: Dispute, actor: User, kind: str, title: str, body: str) -> None:
    from notifications.services import notify

    play = dispute.play
    recipients = {u.pk: u for u in dispute_party_users(play=play)}
    recipients[dispute.opened_by_id] = dispute.opened_by
    if dispute.assigned_to_id:
        recipients[dispute.assigned_to_id] = dispute.assigned_to
    for user in recipients.values():
        if user.pk == actor.pk or not user.is_active:
            continue
        notify(
            user=user,
            kind=kind,
            title=title,
            body=body,
            link=f"/disputes/{dispute.pk}",
            context={
                "dispute_id": dispute.pk,
                "play_id": play.pk,
                "status": dispute.status,
                "reason": dispute.get_dispute_type_display(),
            },
        )


def _locked(dispute_id: int) -> Dispute:
    dispute = (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("play", "play__track", "play__station", "opened_by", "assigned_to")
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


def _visible_locked(*, actor: User, dispute_id: int) -> Dispute:
    """The dispute, locked, if the actor may see it (404 otherwise, as for reads)."""
    from detections.selectors import dispute_get

    dispute_get(user=actor, dispute_id=dispute_id)
    return _locked(dispute_id)


def _move(
    *,
    dispute: Dispute,
    actor: User,
    allowed_from: tuple[str, ...],
    to: str,
    note: str,
    action: str,
    extra: dict | None = None,
) -> None:
    if dispute.status not in allowed_from:
        raise InvalidTransition(
            f"A dispute that is {dispute.get_status_display().lower()} cannot be {action}.",
            details={"status": dispute.status, "allowed_from": list(allowed_from)},
        )
    before = {"status": dispute.status}
    from_status = dispute.status
    dispute.status = to
    for field, value in (extra or {}).items():
        setattr(dispute, field, value)
    dispute.save()
    _entry(
        dispute=dispute,
        author=actor,
        kind=DisputeEntryKind.TRANSITION,
        body=note,
        from_status=from_status,
        to_status=to,
    )
    audit_record(
        actor=actor,
        action=f"detections.dispute_{action.replace(' ', '_')}",
        target=dispute,
        before=before,
        after={"status": to, "note": note, **{k: str(v) for k, v in (extra or {}).items()}},
    )


# --- The royalty seam -----------------------------------------------------------------------
_HAD_LINES = (RoyaltyStatus.CALCULATED, RoyaltyStatus.DISTRIBUTED)


def _royalties_withhold(*, play: PlayLog, before: str) -> None:
    """Withheld plays are skipped by the calculator and dropped from a closing period; a
    play already priced is re-priced now (at nothing, while withheld) by royalties."""
    play.royalty_status = RoyaltyStatus.WITHHELD
    if before in _HAD_LINES:
        enqueue_on_commit("royalties.recalculate_play", play_id=play.pk)


def _royalties_release(*, play: PlayLog) -> None:
    """Pending again: the calculator prices it (with whatever was booked before) into the
    period open at that time."""
    play.royalty_status = RoyaltyStatus.PENDING


def _royalties_cancel(*, play: PlayLog, before: str) -> None:
    """A rejected play earns nothing: it stays withheld, and lines it had are reversed."""
    play.royalty_status = RoyaltyStatus.WITHHELD
    if before in _HAD_LINES:
        enqueue_on_commit("royalties.recalculate_play", play_id=play.pk)


# --- Opening --------------------------------------------------------------------------------
def _stake(user: User, play: PlayLog) -> str:
    if _is_staff(user):
        return "staff"
    return user.role  # station / artist / publisher: play_get proved the stake


def dispute_open(
    *,
    actor: User,
    play_id: int,
    dispute_type: str,
    description: str,
    files: list[EvidenceFile] = (),
) -> Dispute:
    """Opens a dispute on a play the actor has a stake in (404 otherwise): the play becomes
    disputed and its royalties withheld; evidence stored privately; audited; the parties
    notified (dispute_opened) on commit. 409 when the play already has an open dispute or
    is still on air."""
    if dispute_type not in DisputeType.values:
        raise ValidationFailed("Unknown dispute type.", details={"dispute_type": [dispute_type]})
    description = (description or "").strip()
    if not description:
        raise ValidationFailed("Say what is wrong.", details={"description": ["Required."]})
    for file in files:  # refuse a bad file before anything is written
        evidence_check(name=file.name, data=file.data)
    play_get(user=actor, play_id=play_id)
    with _StoredFiles() as stored, transaction.atomic():
        play = (
            PlayLog.objects.select_for_update().select_related("track", "station").get(pk=play_id)
        )
        existing = play.disputes.filter(status__in=ACTIVE_DISPUTE_STATUSES).first()
        if existing is not None:
            raise Conflict(
                "This play already has an open dispute; add your evidence and comments there.",
                code="dispute_already_open",
                details={"dispute_id": existing.pk},
            )
        if play.is_open:
            raise Conflict(
                "This play is still on air; dispute it once it has ended.", code="play_on_air"
            )
        share = analytics.play_rollup_snapshot(play)
        dispute = Dispute(
            play=play,
            opened_by=actor,
            opened_as=_stake(actor, play),
            dispute_type=dispute_type,
            description=description,
            play_verification_before=play.verification_status,
            play_royalty_before=play.royalty_status,
        )
        try:
            with transaction.atomic():
                dispute.save()
        except IntegrityError:  # another party opened one between our check and insert
            raise Conflict(
                "This play already has an open dispute.", code="dispute_already_open"
            ) from None
        play.verification_status = VerificationStatus.DISPUTED
        _royalties_withhold(play=play, before=dispute.play_royalty_before)
        play.save(update_fields=["verification_status", "royalty_status", "updated_at"])
        analytics.play_rollup_changed(before=share, play=play)
        _entry(
            dispute=dispute,
            author=actor,
            kind=DisputeEntryKind.TRANSITION,
            body=description,
            to_status=DisputeStatus.SUBMITTED,
        )
        for file in files:
            _evidence_store(dispute=dispute, actor=actor, file=file, note="", stored=stored)
        audit_record(
            actor=actor,
            action="detections.dispute_open",
            target=dispute,
            before={
                "play_verification": dispute.play_verification_before,
                "play_royalty": dispute.play_royalty_before,
            },
            after={
                "play_id": play.pk,
                "dispute_type": dispute_type,
                "play_verification": play.verification_status,
                "play_royalty": play.royalty_status,
            },
        )
        _play_updated(play)
        _notify_parties(
            dispute=dispute,
            actor=actor,
            kind="dispute_opened",
            title=f"Dispute opened: {play.track.title} on {play.station.name}",
            body=f"{dispute.get_dispute_type_display()}: {description[:300]}",
        )
    return dispute


def _play_updated(play: PlayLog, extra_groups: list[str] = ()) -> None:
    from detections.services import _play_broadcast

    _play_broadcast(play=play, event="play.updated", extra_groups=extra_groups)


# --- Transitions ----------------------------------------------------------------------------
def dispute_review_start(*, actor: User, dispute_id: int, note: str = "") -> Dispute:
    """Support staff take a submitted dispute (assigned to them): under_review; audited;
    parties notified (dispute_updated)."""
    _require_support(actor, "review disputes")
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _move(
            dispute=dispute,
            actor=actor,
            allowed_from=(DisputeStatus.SUBMITTED,),
            to=DisputeStatus.UNDER_REVIEW,
            note=note,
            action="review start",
            extra={"assigned_to": actor},
        )
        _notify_update(dispute, actor, "is under review", note)
    return dispute


def dispute_evidence_request(*, actor: User, dispute_id: int, note: str) -> Dispute:
    """Support staff ask the parties for evidence (the note says what): evidence_required;
    audited; parties notified."""
    _require_support(actor, "request evidence")
    if not (note or "").strip():
        raise ValidationFailed("Say what evidence is needed.", details={"note": ["Required."]})
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _move(
            dispute=dispute,
            actor=actor,
            allowed_from=(DisputeStatus.UNDER_REVIEW,),
            to=DisputeStatus.EVIDENCE_REQUIRED,
            note=note,
            action="evidence request",
        )
        _notify_update(dispute, actor, "needs evidence", note)
    return dispute


def dispute_escalate(*, actor: User, dispute_id: int, note: str) -> Dispute:
    """Support staff pass a dispute to a superadmin: escalated; audited; parties notified."""
    _require_support(actor, "escalate disputes")
    if not (note or "").strip():
        raise ValidationFailed("Say why it is escalated.", details={"note": ["Required."]})
    with transaction.atomic():
        dispute = _locked(dispute_id)
        _move(
            dispute=dispute,
            actor=actor,
            allowed_from=(DisputeStatus.UNDER_REVIEW, DisputeStatus.EVIDENCE_REQUIRED),
            to=DisputeStatus.ESCALATED,
            note=note,
            action="escalate",
        )
        _notify_update(dispute, actor, "was escalated", note)
    return dispute


def _notify_update(dispute: Dispute, actor: User, what: str, note: str) -> None:
    play = dispute.play
    _notify_parties(
        dispute=dispute,
        actor=actor,
        kind="dispute_updated",
        title=f"Dispute {dispute.pk} {what}",
        body=(note or f"The dispute on {play.track.title} ({play.station.name}) {what}.")[:1000],
    )


def dispute_evidence_add(
    *, actor: User, dispute_id: int, file: EvidenceFile, note: str = ""
) -> DisputeEvidence:
    """A party or staff attach evidence to an active dispute (stored privately). Evidence a
    party sends while evidence is required puts the dispute back under review. Audited;
    parties notified."""
    evidence_check(name=file.name, data=file.data)
    with _StoredFiles() as stored, transaction.atomic():
        dispute = _visible_locked(actor=actor, dispute_id=dispute_id)
        if not dispute.is_active:
            raise InvalidTransition(
                "Evidence can only be added to an open dispute.",
                details={"status": dispute.status},
            )
        evidence = _evidence_store(
            dispute=dispute, actor=actor, file=file, note=note, stored=stored
        )
        audit_record(
            actor=actor,
            action="detections.dispute_evidence_add",
            target=dispute,
            after={"evidence_id": evidence.pk, "sha256": evidence.sha256},
        )
        if dispute.status == DisputeStatus.EVIDENCE_REQUIRED and not _is_staff(actor):
            _move(
                dispute=dispute,
                actor=actor,
                allowed_from=(DisputeStatus.EVIDENCE_REQUIRED,),
                to=DisputeStatus.UNDER_REVIEW,
                note="Evidence received.",
                action="evidence received",
            )
        _notify_update(dispute, actor, "has new evidence", evidence.original_name)
    return evidence


def dispute_comment_add(*, actor: User, dispute_id: int, body: str) -> DisputeEntry:
    """A party or staff comment on an active dispute; parties notified."""
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("A comment needs text.", details={"body": ["Required."]})
    with transaction.atomic():
        dispute = _visible_locked(actor=actor, dispute_id=dispute_id)
        if not dispute.is_active:
            raise InvalidTransition("The dispute is closed.", details={"status": dispute.status})
        entry = _entry(dispute=dispute, author=actor, kind=DisputeEntryKind.COMMENT, body=body)
        _notify_update(dispute, actor, "has a new comment", body)
    return entry


def _default_verdict(dispute: Dispute, outcome: str) -> str:
    """What a resolution makes of the play unless staff say otherwise: a rejected complaint
    leaves the play standing; an upheld "not aired" (or "wrong track" nobody corrected)
    rejects it; other upheld complaints are about numbers or money, and the play stands
    (corrected through play_override)."""
    if outcome == DisputeOutcome.REJECTED:
        return VerificationStatus.VERIFIED
    if dispute.dispute_type == DisputeType.NOT_AIRED:
        return VerificationStatus.REJECTED
    if (
        dispute.dispute_type == DisputeType.WRONG_TRACK
        and not dispute.overrides.filter(after__has_key="track_id").exists()
    ):
        return VerificationStatus.REJECTED
    return VerificationStatus.VERIFIED


def dispute_resolve(
    *,
    actor: User,
    dispute_id: int,
    outcome: str,
    note: str,
    play_verdict: str | None = None,
) -> Dispute:
    """Decides a dispute (upheld / rejected) and its play: verified → royalties released
    (pending again), rejected → cancelled. Support staff resolve a dispute under review or
    awaiting evidence; only a superadmin an escalated one. Audited; parties notified
    (dispute_resolved)."""
    _require_support(actor, "resolve disputes")
    if outcome not in DisputeOutcome.values:
        raise ValidationFailed("Unknown outcome.", details={"outcome": [outcome]})
    if play_verdict not in (None, VerificationStatus.VERIFIED, VerificationStatus.REJECTED):
        raise ValidationFailed(
            "A play is resolved verified or rejected.", details={"play_verdict": [play_verdict]}
        )
    if not (note or "").strip():
        raise ValidationFailed("Say why.", details={"note": ["Required."]})
    with transaction.atomic():
        dispute = _locked(dispute_id)
        if dispute.status == DisputeStatus.ESCALATED and not _is_superadmin(actor):
            raise Forbidden(
                "Only a superadmin resolves an escalated dispute.", code="not_superadmin"
            )
        verdict = play_verdict or _default_verdict(dispute, outcome)
        now = timezone.now()
        _move(
            dispute=dispute,
            actor=actor,
            allowed_from=(
                DisputeStatus.UNDER_REVIEW,
                DisputeStatus.EVIDENCE_REQUIRED,
                DisputeStatus.ESCALATED,
            ),
            to=DisputeStatus.RESOLVED,
            note=note,
            action="resolve",
            extra={
                "outcome": outcome,
                "play_verdict": verdict,
                "resolution_note": note,
                "resolved_by": actor,
                "resolved_at": now,
            },
        )
        _play_decide(dispute=dispute, actor=actor, verdict=verdict, note=note, at=now)
        _notify_parties(
            dispute=dispute,
            actor=actor,
            kind="dispute_resolved",
            title=f"Dispute {dispute.pk} {dispute.get_outcome_display().lower()}",
            body=f"{note[:500]} The play is {verdict}.",
        )
    return dispute


def _play_decide(*, dispute: Dispute, actor: User, verdict: str, note: str, at: datetime) -> None:
    play = PlayLog.objects.select_for_update().get(pk=dispute.play_id)
    share = analytics.play_rollup_snapshot(play)
    before = {
        "verification_status": play.verification_status,
        "royalty_status": play.royalty_status,
    }
    play.verification_status = verdict
    if verdict == VerificationStatus.VERIFIED:
        _royalties_release(play=play)
    else:
        _royalties_cancel(play=play, before=dispute.play_royalty_before)
    play.reviewed_by = actor
    play.reviewed_at = at
    play.review_note = f"Dispute {dispute.pk}: {note}"[:2000]
    play.save(
        update_fields=[
            "verification_status",
            "royalty_status",
            "reviewed_by",
            "reviewed_at",
            "review_note",
            "updated_at",
        ]
    )
    analytics.play_rollup_changed(before=share, play=play)
    audit_record(
        actor=actor,
        action="detections.play_dispute_decision",
        target=play,
        before=before,
        after={
            "verification_status": play.verification_status,
            "royalty_status": play.royalty_status,
            "dispute_id": dispute.pk,
        },
    )
    dispute.play = play
    _play_updated(play)


def dispute_withdraw(*, actor: User, dispute_id: int, note: str = "") -> Dispute:
    """The opener takes back an unresolved dispute: the play's verification returns to what
    it was and its royalties are released (unless they were withheld before). Audited;
    parties notified."""
    with transaction.atomic():
        dispute = _visible_locked(actor=actor, dispute_id=dispute_id)
        if dispute.opened_by_id != actor.pk:
            raise Forbidden("Only who opened a dispute may withdraw it.", code="not_opener")
        _move(
            dispute=dispute,
            actor=actor,
            allowed_from=ACTIVE_DISPUTE_STATUSES,
            to=DisputeStatus.WITHDRAWN,
            note=note,
            action="withdraw",
        )
        play = PlayLog.objects.select_for_update().get(pk=dispute.play_id)
        share = analytics.play_rollup_snapshot(play)
        restored = dispute.play_verification_before
        if restored == VerificationStatus.DISPUTED:
            restored = VerificationStatus.PENDING_REVIEW
        play.verification_status = restored
        if dispute.play_royalty_before == RoyaltyStatus.WITHHELD:
            play.royalty_status = RoyaltyStatus.WITHHELD
        else:
            _royalties_release(play=play)
        play.save(update_fields=["verification_status", "royalty_status", "updated_at"])
        analytics.play_rollup_changed(before=share, play=play)
        dispute.play = play
        _play_updated(play)
        _notify_update(dispute, actor, "was withdrawn", note)
    return dispute


# --- Staff corrections of a play ------------------------------------------------------------
def play_override(
    *,
    actor: User,
    play_id: int,
    reason: str,
    track_id: int | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    confidence: float | None = None,
    dispute_id: int | None = None,
) -> PlayOverride:
    """Support staff correct a closed play's track, times or confidence. Keeps the previous
    values (PlayOverride + audit), moves the rollups, re-routes the live feed (old and new
    groups hear play.updated) and re-prices a play whose royalties were calculated."""
    from detections.services import _duration, _play_groups, _royalty_bearing

    _require_support(actor, "correct plays")
    if not (reason or "").strip():
        raise ValidationFailed("Say why the play is corrected.", details={"reason": ["Required."]})
    if track_id is None and started_at is None and ended_at is None and confidence is None:
        raise ValidationFailed("Nothing to correct.", details={"non_field_errors": ["Empty."]})
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise ValidationFailed(
            "Confidence is between 0 and 1.", details={"confidence": [confidence]}
        )
    if track_id is not None and not Track.objects.filter(pk=track_id).exists():
        raise ValidationFailed("No such track.", details={"track_id": [track_id]})
    with transaction.atomic():
        play = PlayLog.objects.select_for_update().filter(pk=play_id).first()
        if play is None:
            raise NotFound("No such play.")
        if play.is_open:
            raise Conflict(
                "This play is still on air; correct it once it has ended.", code="play_on_air"
            )
        dispute = None
        if dispute_id is not None:
            dispute = _locked(dispute_id)
            if dispute.play_id != play.pk or not dispute.is_active:
                raise InvalidTransition("That dispute is not an open dispute of this play.")
        new_start = started_at or play.started_at
        new_end = ended_at or play.ended_at
        if new_end < new_start:
            raise ValidationFailed(
                "A play ends after it starts.", details={"ended_at": ["Is before started_at."]}
            )
        old_groups, _track = _play_groups(play)
        share = analytics.play_rollup_snapshot(play)
        before = {
            "track_id": play.track_id,
            "started_at": play.started_at.isoformat(),
            "ended_at": play.ended_at.isoformat(),
            "duration_seconds": str(play.duration_seconds),
            "avg_confidence": play.avg_confidence,
        }
        after: dict = {}
        if track_id is not None and track_id != play.track_id:
            play.track_id = track_id
            after["track_id"] = track_id
        if new_start != play.started_at:
            play.alignment += (new_start - play.started_at).total_seconds()
            play.started_at = new_start
            after["started_at"] = new_start.isoformat()
        if new_end != play.ended_at:
            play.ended_at = new_end
            after["ended_at"] = new_end.isoformat()
        play.duration_seconds = _duration(play.started_at, play.ended_at)
        play.royalty_bearing = _royalty_bearing(play.duration_seconds)
        if "started_at" in after or "ended_at" in after:
            after["duration_seconds"] = str(play.duration_seconds)
        if confidence is not None and confidence != play.avg_confidence:
            play.avg_confidence = confidence
            play.confidence_sum = confidence * play.window_count
            play.peak_confidence = max(play.peak_confidence, confidence)
            after["avg_confidence"] = confidence
        if not after:
            raise ValidationFailed(
                "Those are the play's current values.",
                details={"non_field_errors": ["Nothing changes."]},
            )
        try:
            with transaction.atomic():
                play.save()
        except IntegrityError:
            raise Conflict(
                "Another play of that track is logged at that time on this station.",
                code="play_overlaps",
            ) from None
        analytics.play_rollup_changed(before=share, play=play)
        override = PlayOverride.objects.create(
            play=play, dispute=dispute, actor=actor, before=before, after=after, reason=reason
        )
        audit_record(
            actor=actor,
            action="detections.play_override",
            target=play,
            before=before,
            after={**after, "reason": reason},
        )
        if dispute is not None:
            _entry(
                dispute=dispute,
                author=actor,
                kind=DisputeEntryKind.OVERRIDE,
                body=f"{reason} ({', '.join(sorted(after))} corrected)",
            )
        if play.royalty_status in _HAD_LINES:
            enqueue_on_commit("royalties.recalculate_play", play_id=play.pk)
        _play_updated(play, extra_groups=old_groups)
    return override
