"""The live-monitor page at `/`: plays as they are detected, stream health, today's totals.

Plain Django templates and a little JavaScript. The page is for staff and station
accounts; it signs in with a Django session and opens the plays WebSocket with a
short-lived access token fetched from `live/token/` (fetched again on reconnect).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Count, Sum
from django.http import JsonResponse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView
from rest_framework_simplejwt.tokens import AccessToken

from detections.selectors import plays_visible_to
from stations.selectors import stations_visible_to
from stream_capture.selectors import links_with_health
from users.models import Role

MONITOR_ROLES = (Role.ADMIN, Role.STATION)


def _may_monitor(user) -> bool:
    return user.is_authenticated and user.is_active and user.role in MONITOR_ROLES


def _station_rows(user) -> list[dict]:
    """Each visible station with the state of its enabled links (two queries in all)."""
    stations = list(stations_visible_to(user=user).order_by("name")[:500])
    links_by_station: dict[int, list] = {}
    for link in links_with_health(user=user).filter(enabled=True):
        links_by_station.setdefault(link.station_id, []).append(link)
    rows = []
    for station in stations:
        links = links_by_station.get(station.pk, [])
        healths = [getattr(link, "health", None) for link in links]
        known = [h for h in healths if h is not None]
        successes = [h.last_success_at for h in known if h.last_success_at]
        if not station.monitoring_enabled:
            state = "off"
        elif not links:
            state = "no stream"
        elif known and all(h.is_down for h in known):
            state = "down"
        elif not successes:
            state = "waiting"
        else:
            state = "up"
        attempts = sum(link.attempts_last_hour for link in links)
        failures = sum(link.failures_last_hour for link in links)
        rows.append(
            {
                "id": station.pk,
                "name": station.name,
                "call_sign": station.call_sign,
                "state": state,
                "last_success_at": max(successes) if successes else None,
                "error_rate": round(100 * failures / attempts) if attempts else None,
                "last_error": next((h.last_error for h in known if h.is_down and h.last_error), ""),
            }
        )
    return rows


class LiveMonitorView(LoginRequiredMixin, TemplateView):
    template_name = "detections/monitor.html"

    def get(self, request, *args, **kwargs):
        if not _may_monitor(request.user):
            return self.response_class(
                request=request,
                template="detections/monitor_forbidden.html",
                status=403,
                context={"user": request.user},
            )
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        user = self.request.user
        now = timezone.localtime()
        day_start = timezone.make_aware(datetime.combine(now.date(), time.min))
        plays = plays_visible_to(user=user)
        todays = plays.filter(started_at__gte=day_start)
        today = todays.aggregate(
            plays=Count("id"), airtime=Sum("duration_seconds"), tracks=Count("track", distinct=True)
        )
        recent = (
            plays.filter(started_at__gte=now - timedelta(hours=24))
            .select_related("station", "track__primary_artist")
            .order_by("-started_at")[:30]
        )
        stations = _station_rows(user)
        return {
            **super().get_context_data(**kwargs),
            "today": {
                "day_start": day_start.isoformat(),
                "airtime_seconds": float(today["airtime"] or 0),
                "track_ids": list(todays.values_list("track_id", flat=True).distinct()[:5000]),
                "plays": today["plays"] or 0,
                "airtime_minutes": round(float(today["airtime"] or 0) / 60, 1),
                "tracks": today["tracks"] or 0,
                "stations_up": sum(s["state"] == "up" for s in stations),
                "stations_down": sum(s["state"] == "down" for s in stations),
            },
            "recent": recent,
            "stations": stations,
            "day": now.date(),
        }


class LiveTokenView(View):
    """A short-lived access token for the page's WebSocket, for the signed-in session user."""

    def get(self, request):
        if not _may_monitor(request.user):
            return JsonResponse(
                {
                    "error": {
                        "code": "permission_denied",
                        "message": "Staff and station accounts only.",
                        "details": {},
                        "trace_id": "",
                    }
                },
                status=403,
            )
        token = AccessToken.for_user(request.user)
        token.set_exp(lifetime=timedelta(minutes=5))
        return JsonResponse({"token": str(token)})
