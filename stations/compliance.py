"""The services of station compliance documents: a station uploads its monthly documents
(type, month, file), support staff accept or reject them, and the months a station still
owes are listed (selectors.compliance_missing_months).

Files are private (never served by URL); a rejected document may be replaced by a new
upload for the same month, a submitted or accepted one may not (409).
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from stations.models import (
    ComplianceDocument,
    ComplianceDocumentType,
    ComplianceStatus,
    Station,
)
from users.models import Role, StaffRole, User
from users.services import audit_record
from zamio.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed

_TYPES = {
    ".pdf": ("application/pdf", lambda b: b[:5] == b"%PDF-"),
    ".png": ("image/png", lambda b: b[:8] == b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", lambda b: b[:3] == b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", lambda b: b[:3] == b"\xff\xd8\xff"),
    ".xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        lambda b: b[:4] == b"PK\x03\x04",
    ),
    ".csv": ("text/csv", lambda b: b"\x00" not in b),
}
MEDIA_TYPES = sorted({media_type for media_type, _check in _TYPES.values()})


def month_start(value: date) -> date:
    return value.replace(day=1)


def _content_type(name: str, data: bytes) -> str:
    suffix = PurePath(name or "").suffix.lower()
    if suffix not in _TYPES:
        raise ValidationFailed(
            "This kind of file is not accepted.",
            details={"file": [f"Use one of {', '.join(sorted(_TYPES))}."]},
        )
    if not data:
        raise ValidationFailed("The file is empty.", details={"file": ["Empty."]})
    if len(data) > settings.STATIONS_COMPLIANCE_MAX_BYTES:
        raise ValidationFailed(
            "The file is too large.",
            details={"file": [f"At most {settings.STATIONS_COMPLIANCE_MAX_BYTES} bytes."]},
        )
    content_type, looks_right = _TYPES[suffix]
    if not looks_right(data[:4096]):
        raise ValidationFailed(
            "The file is not what its name says.",
            details={"file": [f"The content is not {suffix[1:].upper()}."]},
        )
    return content_type


def _is_member(actor: User, station: Station) -> bool:
    return actor.role == Role.STATION and station.staff.filter(user=actor).exists()


def _is_operator(actor: User) -> bool:
    return actor.role == Role.ADMIN and actor.staff_role in (
        StaffRole.SUPPORT,
        StaffRole.SUPERADMIN,
    )


def compliance_document_upload(
    *,
    actor: User,
    station_id: int,
    document_type: str,
    period: date,
    name: str,
    data: bytes,
) -> ComplianceDocument:
    """Stores a station's document for a month (private file). The station's own accounts
    or support staff; not for a future month; 409 when the month already has a live
    document of that type. Audited."""
    station = Station.objects.filter(pk=station_id).first()
    if station is None or not (_is_member(actor, station) or _is_operator(actor)):
        raise NotFound("No such station.")
    if document_type not in ComplianceDocumentType.values:
        raise ValidationFailed("Unknown document type.", details={"document_type": [document_type]})
    period = month_start(period)
    if period > month_start(timezone.localdate()):
        raise ValidationFailed("That month has not begun.", details={"period": ["In the future."]})
    content_type = _content_type(name, data)
    live = ComplianceDocument.objects.filter(
        station=station, document_type=document_type, period=period
    ).exclude(status=ComplianceStatus.REJECTED)
    if live.exists():
        raise Conflict(
            "A document of this type is already on file for that month.",
            code="compliance_duplicate",
            details={"document_id": live.first().pk},
        )
    document = ComplianceDocument(
        station=station,
        document_type=document_type,
        period=period,
        original_name=PurePath(name).name[:255],
        content_type=content_type,
        size_bytes=len(data),
        uploaded_by=actor,
    )
    document.file.save(name, ContentFile(data), save=False)
    try:
        with transaction.atomic():
            document.save()
            audit_record(
                actor=actor,
                action="stations.compliance_upload",
                target=document,
                after={
                    "station_id": station.pk,
                    "document_type": document_type,
                    "period": period.isoformat(),
                    "sha256": hashlib.sha256(data).hexdigest(),
                },
            )
    except IntegrityError:
        document.file.storage.delete(document.file.name)
        raise Conflict(
            "A document of this type is already on file for that month.",
            code="compliance_duplicate",
        ) from None
    return document


def compliance_document_review(
    *, actor: User, document_id: int, status: str, note: str = ""
) -> ComplianceDocument:
    """Support staff accept or reject a submitted document (a rejection says why). Audited."""
    if not _is_operator(actor):
        raise Forbidden("Only ZamIO support staff review compliance documents.")
    if status not in (ComplianceStatus.ACCEPTED, ComplianceStatus.REJECTED):
        raise ValidationFailed("Accept or reject.", details={"status": [status]})
    if status == ComplianceStatus.REJECTED and not note.strip():
        raise ValidationFailed("Say why it is rejected.", details={"note": ["Required."]})
    with transaction.atomic():
        document = ComplianceDocument.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            raise NotFound("No such document.")
        if document.status != ComplianceStatus.SUBMITTED:
            raise InvalidTransition(
                "Only a submitted document is reviewed.", details={"status": document.status}
            )
        before = {"status": document.status}
        document.status = status
        document.review_note = note
        document.reviewed_by = actor
        document.reviewed_at = timezone.now()
        document.save()
        audit_record(
            actor=actor,
            action="stations.compliance_review",
            target=document,
            before=before,
            after={"status": status, "note": note},
        )
    return document
