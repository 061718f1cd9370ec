"""Reads of stations, their people and stream links, filtered to what a user may see.

Who sees what (decided here, once):
- staff (role admin): every station, link and member;
- a station account: its own station (through StationStaff), its links and colleagues;
- artists and publishers: every station, but only its public facts (name, call sign,
  frequency, region, city, country, class, verified) so their play lists can name where
  they were played: no contacts, licence, settings, links, people or health
  (`station_full_access` is False for them and the API answers with the public shape);
  they change nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from stations.models import (
    ComplianceDocument,
    ComplianceStatus,
    Station,
    StationPlaylog,
    StationPlaylogEntry,
    StationStaff,
    StationStaffRole,
    StreamLink,
)
from users.models import Role, StaffRole, User
from zamio import statements
from zamio.errors import NotFound


def _is_staff(user: User) -> bool:
    return bool(user and user.is_authenticated and user.role == Role.ADMIN)


def _is_station_account(user: User) -> bool:
    return bool(user and user.is_authenticated and user.role == Role.STATION)


# Reads every request of a station account (or every station record request) makes,
# compiled once (zamio.statements).
_STATION_IDS_OF_USER = statements.Compiled(
    lambda user_id: StationStaff.objects.filter(user_id=user_id).values_list("station_id")
)
_STATION = statements.CompiledInstance(Station, lambda stations, pk: stations.filter(pk=pk))
_STATION_OF_MEMBER = statements.CompiledInstance(
    Station,
    lambda stations, pk, user_id: stations.filter(pk=pk, staff__user_id=user_id),
    arity=2,
)


def station_ids_for_user(*, user: User) -> list[int]:
    """The stations a station account works for (one at most); [] for everyone else."""
    if not _is_station_account(user):
        return []
    return [station_id for (station_id,) in _STATION_IDS_OF_USER.rows(user.pk)]


def station_of_user(*, user: User) -> Station | None:
    membership = (
        StationStaff.objects.select_related("station").filter(user_id=user.pk).first()
        if user and user.is_authenticated
        else None
    )
    return membership.station if membership else None


def stations_visible_to(*, user: User) -> QuerySet[Station]:
    """Stations the user may read (fully, or only the public facts: `station_full_access`)."""
    stations = Station.objects.select_related("verified_by")
    if not (user and user.is_authenticated):
        return stations.none()
    if user.role == Role.STATION:
        return stations.filter(staff__user=user)
    if user.role in (Role.ADMIN, Role.ARTIST, Role.PUBLISHER):
        return stations
    return stations.none()


def station_full_access(*, user: User, station: Station) -> bool:
    """Whether the user may read the station's whole record, not only its public facts."""
    return _is_staff(user) or station.pk in station_ids_for_user(user=user)


def stations_editable_by(*, user: User) -> QuerySet[Station]:
    """Stations the user may edit: support staff and superadmins all (finance staff only
    read, as the services say); a station account its own if it manages it."""
    if _is_staff(user):
        if user.staff_role in (StaffRole.SUPPORT, StaffRole.SUPERADMIN):
            return Station.objects.all()
        return Station.objects.none()
    if _is_station_account(user):
        return Station.objects.filter(staff__user=user, staff__role=StationStaffRole.MANAGER)
    return Station.objects.none()


def station_staff_users(*, station_id: int) -> QuerySet[User]:
    """The active accounts working for a station (who hear about its stream going down)."""
    return User.objects.filter(station_membership__station_id=station_id, is_active=True).order_by(
        "id"
    )


def station_members(*, station: Station) -> QuerySet[StationStaff]:
    return StationStaff.objects.filter(station=station).select_related("user")


def stream_links_visible_to(*, user: User) -> QuerySet[StreamLink]:
    links = StreamLink.objects.select_related("station", "created_by")
    if _is_staff(user):
        return links
    if _is_station_account(user):
        return links.filter(station__staff__user=user)
    return links.none()


def stream_links_editable_by(*, user: User) -> QuerySet[StreamLink]:
    return StreamLink.objects.select_related("station").filter(
        station__in=stations_editable_by(user=user)
    )


# --- Playlogs and compliance documents ----------------------------------------------------
# A station's own records: its accounts and staff see them; artists and publishers do not.
def _own_station_ids(user: User) -> list[int] | None:
    """None: every station (staff); else the stations whose records the user may read."""
    if _is_staff(user):
        return None
    return station_ids_for_user(user=user)


def playlogs_visible_to(*, user: User) -> QuerySet[StationPlaylog]:
    qs = StationPlaylog.objects.select_related("station", "uploaded_by")
    ids = _own_station_ids(user)
    return qs if ids is None else qs.filter(station_id__in=ids)


def playlog_get(*, user: User, playlog_id: int) -> StationPlaylog:
    playlog = playlogs_visible_to(user=user).filter(pk=playlog_id).first()
    if playlog is None:
        raise NotFound("No such playlog.")
    return playlog


def playlog_entries(*, playlog: StationPlaylog) -> QuerySet[StationPlaylogEntry]:
    return StationPlaylogEntry.objects.filter(playlog=playlog).order_by("started_at", "id")


def station_records_get(*, user: User, station_id: int) -> Station:
    """A station whose own records (logs, documents, comparison) the user may read; 404
    for any other, so a station cannot learn which ids exist."""
    if _is_staff(user):
        station = _STATION.get(station_id)
    elif _is_station_account(user):
        station = _STATION_OF_MEMBER.get(station_id, user.pk)
    else:
        raise NotFound("No such station.")
    if station is None:
        raise NotFound("No such station.")
    return station


def compliance_documents_visible_to(*, user: User) -> QuerySet[ComplianceDocument]:
    qs = ComplianceDocument.objects.select_related("station", "uploaded_by", "reviewed_by")
    ids = _own_station_ids(user)
    return qs if ids is None else qs.filter(station_id__in=ids)


def compliance_document_get(*, user: User, document_id: int) -> ComplianceDocument:
    document = compliance_documents_visible_to(user=user).filter(pk=document_id).first()
    if document is None:
        raise NotFound("No such document.")
    return document


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def compliance_missing_months(
    *, stations: QuerySet[Station], month_from: date | None = None, month_to: date | None = None
) -> list[dict]:
    """Per station, the months (from its registration, or month_from, to last month, or
    month_to) lacking a submitted or accepted document of each required type:
    [{"station_id", "station_name", "missing": [{"period", "document_types"}]}]."""
    required = list(settings.STATIONS_COMPLIANCE_REQUIRED_TYPES)
    last = month_to or (timezone.localdate().replace(day=1) - timedelta(days=1))
    last = last.replace(day=1)
    stations = list(stations.order_by("name", "id"))
    first_of = {
        s.pk: max(
            timezone.localtime(s.created_at).date().replace(day=1),
            month_from.replace(day=1) if month_from else date.min,
        )
        for s in stations
    }
    earliest = min(first_of.values(), default=last)
    on_file = set(
        ComplianceDocument.objects.filter(
            station__in=[s.pk for s in stations],
            period__gte=earliest,
            period__lte=last,
            document_type__in=required,
        )
        .exclude(status=ComplianceStatus.REJECTED)
        .values_list("station_id", "period", "document_type")
    )
    result = []
    for station in stations:
        missing = []
        for month in _months(first_of[station.pk], last):
            lacking = [t for t in required if (station.pk, month, t) not in on_file]
            if lacking:
                missing.append({"period": month, "document_types": lacking})
        result.append({"station_id": station.pk, "station_name": station.name, "missing": missing})
    return result
