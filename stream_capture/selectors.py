"""Reads of capture state: which link to capture, and stream health as users may see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from stations.models import Station, StreamLink, StreamLinkKind
from stations.selectors import stream_links_visible_to
from stream_capture.models import (
    CaptureAttempt,
    CaptureLease,
    LinkHealth,
    StationCaptureState,
)
from users.models import User


def capture_links_for(*, station_id: int) -> list[StreamLink]:
    """The station's enabled links in the order to try them: primary before backup, then
    by priority; a link that is down goes last while another is up, until it is due for a
    retry (STREAM_CAPTURE_DOWN_RETRY_SECONDS after its last failure)."""
    retry_before = timezone.now() - timedelta(seconds=settings.STREAM_CAPTURE_DOWN_RETRY_SECONDS)
    links = list(
        StreamLink.objects.filter(station_id=station_id, enabled=True)
        .select_related("health")
        .order_by("id")
    )

    def resting(link: StreamLink) -> bool:
        health = getattr(link, "health", None)
        return bool(
            health
            and health.is_down
            and health.last_failure_at
            and health.last_failure_at > retry_before
        )

    return sorted(
        links,
        key=lambda link: (resting(link), link.kind != StreamLinkKind.PRIMARY, link.priority),
    )


def capture_link_for(*, station_id: int) -> StreamLink | None:
    """The link a capture of the station should use now, or None when it has none enabled."""
    links = capture_links_for(station_id=station_id)
    return links[0] if links else None


def links_with_health(*, user: User) -> QuerySet[StreamLink]:
    """Stream links the user may see, each with `health` joined and its last hour of
    attempts counted (`attempts_last_hour`, `failures_last_hour`)."""
    hour_ago = timezone.now() - timedelta(hours=1)
    return (
        stream_links_visible_to(user=user)
        .select_related("health")
        .annotate(
            attempts_last_hour=Count("attempts", filter=Q(attempts__started_at__gte=hour_ago)),
            failures_last_hour=Count(
                "attempts", filter=Q(attempts__started_at__gte=hour_ago, attempts__ok=False)
            ),
        )
        .order_by("station__name", "station_id", "kind", "priority", "id")
    )


@dataclass(frozen=True)
class StationHealth:
    station: int
    name: str
    monitoring_enabled: bool
    mode: str  # off | sampled | continuous
    is_down: bool
    last_sample_at: datetime | None
    last_success_at: datetime | None
    lease: CaptureLease | None
    links: list[StreamLink]


def station_health(*, user: User, station: Station) -> StationHealth:
    """The station's capture state and its links' health (links as `links_with_health`)."""
    links = list(links_with_health(user=user).filter(station=station))
    enabled = [link for link in links if link.enabled]
    healths = [getattr(link, "health", None) for link in enabled]
    lease = live_lease_for(station_id=station.pk)
    state = StationCaptureState.objects.filter(station=station).first()
    successes = [h.last_success_at for h in healths if h and h.last_success_at]
    if not station.monitoring_enabled:
        mode = "off"
    else:
        mode = "continuous" if lease else "sampled"
    return StationHealth(
        station=station.pk,
        name=station.name,
        monitoring_enabled=station.monitoring_enabled,
        mode=mode,
        is_down=not enabled or all(h is not None and h.is_down for h in healths),
        last_sample_at=state.last_sample_at if state else None,
        last_success_at=max(successes) if successes else None,
        lease=lease,
        links=links,
    )


def link_attempts(*, link: StreamLink) -> QuerySet[CaptureAttempt]:
    return CaptureAttempt.objects.filter(link=link).order_by("-started_at", "-id")


def streams_down() -> QuerySet[LinkHealth]:
    """Links that are down, longest down first (for staff)."""
    return (
        LinkHealth.objects.filter(is_down=True)
        .select_related("link", "link__station")
        .order_by("down_since", "id")
    )


def live_lease_for(*, station_id: int) -> CaptureLease | None:
    return CaptureLease.objects.filter(station_id=station_id, expires_at__gt=timezone.now()).first()
