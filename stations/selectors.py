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

from django.db.models import QuerySet

from stations.models import Station, StationStaff, StationStaffRole, StreamLink
from users.models import Role, User


def _is_staff(user: User) -> bool:
    return bool(user and user.is_authenticated and user.role == Role.ADMIN)


def station_ids_for_user(*, user: User) -> list[int]:
    """The stations a station account works for (one at most); [] for everyone else."""
    if not (user and user.is_authenticated and user.role == Role.STATION):
        return []
    return list(StationStaff.objects.filter(user=user).values_list("station_id", flat=True))


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
    """Stations the user may edit: staff all; a station account its own if it manages it."""
    if _is_staff(user):
        return Station.objects.all()
    if user and user.is_authenticated and user.role == Role.STATION:
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
    if user and user.is_authenticated and user.role == Role.STATION:
        return links.filter(station__staff__user=user)
    return links.none()


def stream_links_editable_by(*, user: User) -> QuerySet[StreamLink]:
    return StreamLink.objects.select_related("station").filter(
        station__in=stations_editable_by(user=user)
    )
