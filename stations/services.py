"""Every write to stations, their people and their stream links.

Callers fetch the objects through `stations.selectors` (which decides who may see
them); these services decide who may change what: staff verify, switch monitoring,
set sampling and enable links; a station's manager edits it, its links and people.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from stations.models import (
    Station,
    StationStaff,
    StationStaffRole,
    StreamLink,
    StreamLinkKind,
)
from users.models import Role, StaffRole, User
from users.services import audit_record
from zamio.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from zamio.tasks import enqueue_on_commit

MAX_LINKS_PER_STATION = 10
# Fields a station's own manager may no longer change once staff verified the station:
# they are what was verified, and the class sets the royalty rate.
IDENTITY_FIELDS = ("name", "call_sign", "frequency", "country", "station_class", "licence_number")
STAFF_ONLY_FIELDS = ("sample_seconds", "sample_interval_seconds")
EDITABLE_FIELDS = (
    *IDENTITY_FIELDS,
    "region",
    "city",
    "timezone",
    "contact_name",
    "contact_email",
    "contact_phone",
    *STAFF_ONLY_FIELDS,
)
_AUDITED = (*EDITABLE_FIELDS, "is_verified", "monitoring_enabled")


def _is_staff(user: User) -> bool:
    return user.role == Role.ADMIN


def _is_operator(user: User) -> bool:
    """Station operations are for support staff and superadmins (finance only reads)."""
    return _is_staff(user) and user.staff_role in (StaffRole.SUPPORT, StaffRole.SUPERADMIN)


def _require_staff(actor: User, what: str) -> None:
    if not _is_operator(actor):
        raise Forbidden(f"Only ZamIO support staff {what}.")


def _snapshot(station: Station) -> dict[str, Any]:
    return {field: getattr(station, field) for field in _AUDITED}


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Normalises free-text fields and checks the ones a form cannot check alone."""
    cleaned = dict(values)
    for key, value in cleaned.items():
        if isinstance(value, str):
            cleaned[key] = " ".join(value.split())
    if "frequency" in cleaned:
        cleaned["frequency"] = cleaned["frequency"].upper()
    if "country" in cleaned:
        country = cleaned["country"].upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationFailed(
                "Country must be a two-letter ISO code.", details={"country": ["e.g. GH"]}
            )
        cleaned["country"] = country
    if "timezone" in cleaned:
        try:
            ZoneInfo(cleaned["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationFailed(
                "Unknown time zone.", details={"timezone": [f"{cleaned['timezone']!r}"]}
            ) from exc
    if "contact_email" in cleaned:
        cleaned["contact_email"] = cleaned["contact_email"].lower()
    if "name" in cleaned and not cleaned["name"]:
        raise ValidationFailed("A station needs a name.", details={"name": ["Required."]})
    return cleaned


def _check_sampling(station: Station) -> None:
    if not 5 <= station.sample_seconds <= 300:
        raise ValidationFailed(
            "A sample is 5 to 300 seconds long.",
            details={"sample_seconds": ["Between 5 and 300."]},
        )
    if not station.sample_seconds <= station.sample_interval_seconds <= 86400:
        raise ValidationFailed(
            "The sampling interval is at least the sample length and at most a day.",
            details={"sample_interval_seconds": ["Between sample_seconds and 86400."]},
        )


def _unique_slug(name: str) -> str:
    base = (slugify(name) or "station")[:70]
    slug, n = base, 2
    while Station.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _conflict_from(exc: IntegrityError) -> Conflict:
    text = str(exc)
    if _violates(exc, "station_unique_frequency_per_city"):
        return Conflict(
            "A station on this frequency in this city is already registered.",
            details={"frequency": ["Already registered in this city."]},
        )
    if _violates(exc, "station_unique_licence_per_country"):
        return Conflict(
            "A station with this licence number is already registered.",
            details={"licence_number": ["Already registered."]},
        )
    if "slug" in text:
        return Conflict("This slug is taken.", details={"slug": ["Already taken."]})
    raise exc


def _violates(exc: IntegrityError, constraint: str) -> bool:
    """Whether ``exc`` broke Station's unique constraint ``constraint``. PostgreSQL names
    the constraint in its message; SQLite (the demo's database) lists its columns
    instead: "UNIQUE constraint failed: stations_station.country, ...", in the order the
    constraint declares them."""
    text = str(exc)
    if constraint in text:
        return True
    meta = Station._meta
    fields = next(c.fields for c in meta.constraints if c.name == constraint)
    columns = ", ".join(f"{meta.db_table}.{meta.get_field(f).column}" for f in fields)
    return text == f"UNIQUE constraint failed: {columns}"


def station_create(*, actor: User, name: str, station_class: str, **fields: Any) -> Station:
    """Registers a station. A station account becomes its manager. Writes an audit row."""
    if actor.role != Role.STATION and not _is_operator(actor):
        raise Forbidden("Only station accounts and support staff register stations.")
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"slug"}
    if unknown:
        raise ValidationFailed("Unknown fields.", details={f: ["Unknown field."] for f in unknown})
    if not _is_operator(actor):
        if any(f in fields for f in STAFF_ONLY_FIELDS):
            raise Forbidden("Only ZamIO staff set a station's sampling.")
        if StationStaff.objects.filter(user=actor).exists():
            raise Conflict("Your account already belongs to a station.")
    values = _clean({"name": name, "station_class": station_class, **fields})
    slug = values.pop("slug", "") or _unique_slug(values["name"])
    station = Station(slug=slug, **values)
    _check_sampling(station)
    try:
        with transaction.atomic():
            station.save()
            if actor.role == Role.STATION:
                StationStaff.objects.create(
                    station=station, user=actor, role=StationStaffRole.MANAGER
                )
            audit_record(
                actor=actor, action="station.create", target=station, after=_snapshot(station)
            )
    except IntegrityError as exc:
        if "station_membership" in str(exc) or "user_id" in str(exc):
            raise Conflict("Your account already belongs to a station.") from exc
        raise _conflict_from(exc) from exc
    return station


def _check_update_allowed(*, actor: User, station: Station, changes: dict[str, Any]) -> None:
    if _is_operator(actor):
        return
    if _is_staff(actor):
        raise Forbidden("Only ZamIO support staff change station details.")
    staff_only = [f for f in changes if f in STAFF_ONLY_FIELDS]
    if station.is_verified:
        staff_only += [f for f in changes if f in IDENTITY_FIELDS]
    if staff_only:
        raise Forbidden(
            "These details can only be changed by ZamIO staff"
            + (" once the station is verified." if station.is_verified else "."),
            details={f: ["Ask ZamIO staff to change this."] for f in staff_only},
        )


def station_update(*, actor: User, station: Station, **changes: Any) -> Station:
    """Changes a station's details (staff: all; its manager: not identity once verified,
    never sampling). Writes an audit row."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed("Unknown fields.", details={f: ["Unknown field."] for f in unknown})
    values = _clean(changes)
    try:
        with transaction.atomic():
            locked = Station.objects.select_for_update().get(pk=station.pk)
            _check_update_allowed(actor=actor, station=locked, changes=values)
            before = _snapshot(locked)
            for key, value in values.items():
                setattr(locked, key, value)
            _check_sampling(locked)
            locked.save()
            audit_record(
                actor=actor,
                action="station.update",
                target=locked,
                before=before,
                after=_snapshot(locked),
            )
    except IntegrityError as exc:
        raise _conflict_from(exc) from exc
    return locked


def station_verify(*, actor: User, station: Station) -> Station:
    """Marks the station verified by `actor` (staff). Writes an audit row."""
    _require_staff(actor, "verify stations")
    with transaction.atomic():
        locked = Station.objects.select_for_update().get(pk=station.pk)
        if locked.is_verified:
            raise InvalidTransition("This station is already verified.")
        before = _snapshot(locked)
        locked.is_verified = True
        locked.verified_at = timezone.now()
        locked.verified_by = actor
        locked.save(update_fields=["is_verified", "verified_at", "verified_by", "updated_at"])
        audit_record(
            actor=actor,
            action="station.verify",
            target=locked,
            before=before,
            after=_snapshot(locked),
        )
    return locked


def station_unverify(*, actor: User, station: Station) -> Station:
    """Withdraws verification (licence lapsed, details wrong). Writes an audit row."""
    _require_staff(actor, "withdraw verification")
    with transaction.atomic():
        locked = Station.objects.select_for_update().get(pk=station.pk)
        if not locked.is_verified:
            raise InvalidTransition("This station is not verified.")
        before = _snapshot(locked)
        locked.is_verified = False
        locked.verified_at = None
        locked.verified_by = None
        locked.save(update_fields=["is_verified", "verified_at", "verified_by", "updated_at"])
        audit_record(
            actor=actor,
            action="station.unverify",
            target=locked,
            before=before,
            after=_snapshot(locked),
        )
    return locked


def station_set_monitoring(*, actor: User, station: Station, enabled: bool) -> Station:
    """Turns capture of the station on or off (staff). Writes an audit row when it changes."""
    _require_staff(actor, "switch monitoring")
    with transaction.atomic():
        locked = Station.objects.select_for_update().get(pk=station.pk)
        if locked.monitoring_enabled == enabled:
            return locked
        locked.monitoring_enabled = enabled
        locked.save(update_fields=["monitoring_enabled", "updated_at"])
        audit_record(
            actor=actor,
            action="station.monitoring_enable" if enabled else "station.monitoring_disable",
            target=locked,
            before={"monitoring_enabled": not enabled},
            after={"monitoring_enabled": enabled},
        )
    return locked


def station_delete(*, actor: User, station: Station) -> None:
    """Deletes a station with no logged plays (staff). Writes an audit row."""
    _require_staff(actor, "delete stations")
    try:
        with transaction.atomic():
            before = _snapshot(station)
            target_id = station.pk
            station.delete()
            audit_record(
                actor=actor,
                action="station.delete",
                target_type="stations.station",
                target_id=target_id,
                before=before,
            )
    except ProtectedError as exc:
        raise Conflict(
            "This station has airplay records and cannot be deleted; disable its monitoring."
        ) from exc


# --- People ---------------------------------------------------------------------------------
def station_member_add(*, actor: User, station: Station, email: str, role: str) -> StationStaff:
    """Links an existing station account to the station. Writes an audit row."""
    if role not in StationStaffRole.values:
        raise ValidationFailed(
            "Unknown role.", details={"role": [f"One of {StationStaffRole.values}."]}
        )
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or user.role != Role.STATION:
        raise ValidationFailed(
            "No active station account has this email; ask them to sign up as a station first.",
            details={"email": ["No station account with this email."]},
        )
    try:
        with transaction.atomic():
            member = StationStaff.objects.create(station=station, user=user, role=role)
            audit_record(
                actor=actor,
                action="station.member_add",
                target=station,
                after={"user": user.email, "role": role},
            )
    except IntegrityError as exc:
        raise Conflict(
            "This account already works for a station.", details={"email": ["Already linked."]}
        ) from exc
    return member


def _require_other_manager(member: StationStaff) -> None:
    others = StationStaff.objects.filter(
        station_id=member.station_id, role=StationStaffRole.MANAGER
    ).exclude(pk=member.pk)
    if not others.exists():
        raise Conflict("A station keeps at least one manager; appoint another first.")


def station_member_set_role(*, actor: User, member: StationStaff, role: str) -> StationStaff:
    """Changes a member's role (a station keeps one manager at least). Writes an audit row."""
    if role not in StationStaffRole.values:
        raise ValidationFailed(
            "Unknown role.", details={"role": [f"One of {StationStaffRole.values}."]}
        )
    with transaction.atomic():
        locked = StationStaff.objects.select_for_update().get(pk=member.pk)
        if locked.role == role:
            return locked
        if locked.role == StationStaffRole.MANAGER:
            _require_other_manager(locked)
        before = {"role": locked.role}
        locked.role = role
        locked.save(update_fields=["role", "updated_at"])
        audit_record(
            actor=actor,
            action="station.member_role",
            target=locked.station,
            before=before,
            after={"user_id": locked.user_id, "role": role},
        )
    return locked


def station_member_remove(*, actor: User, member: StationStaff) -> None:
    """Unlinks an account from its station (not the last manager). Writes an audit row."""
    with transaction.atomic():
        locked = (
            StationStaff.objects.select_for_update().select_related("station").get(pk=member.pk)
        )
        if locked.role == StationStaffRole.MANAGER:
            _require_other_manager(locked)
        audit_record(
            actor=actor,
            action="station.member_remove",
            target=locked.station,
            before={"user_id": locked.user_id, "role": locked.role},
        )
        locked.delete()


# --- Stream links ----------------------------------------------------------------------------
def _url_checked(url: str) -> str:
    """The stream URL as the capture side normalises it; refuses what it may not fetch."""
    return import_string(settings.STATIONS_STREAM_URL_VALIDATOR)(url)


def _link_snapshot(link: StreamLink) -> dict[str, Any]:
    return {"url": link.url, "kind": link.kind, "priority": link.priority, "enabled": link.enabled}


def stream_link_create(
    *,
    actor: User,
    station: Station,
    url: str,
    kind: str = StreamLinkKind.PRIMARY,
    priority: int = 0,
) -> StreamLink:
    """Adds a checked stream URL to the station and queues a first test capture on commit."""
    if kind not in StreamLinkKind.values:
        raise ValidationFailed(
            "Unknown kind.", details={"kind": [f"One of {StreamLinkKind.values}."]}
        )
    url = _url_checked(url)
    try:
        with transaction.atomic():
            # Locks the station so two requests cannot both add the tenth link.
            Station.objects.select_for_update().get(pk=station.pk)
            if StreamLink.objects.filter(station=station).count() >= MAX_LINKS_PER_STATION:
                raise Conflict(f"A station has at most {MAX_LINKS_PER_STATION} stream links.")
            link = StreamLink.objects.create(
                station=station, url=url, kind=kind, priority=priority, created_by=actor
            )
            audit_record(
                actor=actor, action="stream_link.create", target=link, after=_link_snapshot(link)
            )
            enqueue_on_commit("stream_capture.check_link", link_id=link.pk)
    except IntegrityError as exc:
        raise Conflict(
            "This station already has this stream URL.", details={"url": ["Already added."]}
        ) from exc
    return link


def stream_link_update(*, actor: User, link: StreamLink, **changes: Any) -> StreamLink:
    """Changes a link's URL, kind or priority; a new URL is checked and test-captured."""
    unknown = set(changes) - {"url", "kind", "priority"}
    if unknown:
        raise ValidationFailed("Unknown fields.", details={f: ["Unknown field."] for f in unknown})
    if "kind" in changes and changes["kind"] not in StreamLinkKind.values:
        raise ValidationFailed(
            "Unknown kind.", details={"kind": [f"One of {StreamLinkKind.values}."]}
        )
    if "url" in changes:
        changes["url"] = _url_checked(changes["url"])
    try:
        with transaction.atomic():
            locked = StreamLink.objects.select_for_update().get(pk=link.pk)
            before = _link_snapshot(locked)
            for key, value in changes.items():
                setattr(locked, key, value)
            locked.save()
            audit_record(
                actor=actor,
                action="stream_link.update",
                target=locked,
                before=before,
                after=_link_snapshot(locked),
            )
            if before["url"] != locked.url:
                enqueue_on_commit("stream_capture.check_link", link_id=locked.pk)
    except IntegrityError as exc:
        raise Conflict(
            "This station already has this stream URL.", details={"url": ["Already added."]}
        ) from exc
    return locked


def stream_link_set_enabled(*, actor: User, link: StreamLink, enabled: bool) -> StreamLink:
    """Switches a link on or off for capture (staff). Writes an audit row when it changes."""
    _require_staff(actor, "enable or disable stream links")
    with transaction.atomic():
        locked = StreamLink.objects.select_for_update().get(pk=link.pk)
        if locked.enabled == enabled:
            return locked
        locked.enabled = enabled
        locked.save(update_fields=["enabled", "updated_at"])
        audit_record(
            actor=actor,
            action="stream_link.enable" if enabled else "stream_link.disable",
            target=locked,
            before={"enabled": not enabled},
            after={"enabled": enabled},
        )
    return locked


def stream_link_delete(*, actor: User, link: StreamLink) -> None:
    """Removes a link and its health history. Writes an audit row."""
    with transaction.atomic():
        before = _link_snapshot(link)
        target_id = link.pk
        link.delete()
        audit_record(
            actor=actor,
            action="stream_link.delete",
            target_type="stations.streamlink",
            target_id=target_id,
            before=before,
        )
