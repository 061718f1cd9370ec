from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from stations import selectors as station_selectors
from stations.models import StreamLink
from stream_capture import selectors
from stream_capture.api import serializers as s
from stream_capture.models import CaptureAttempt
from users.models import Role
from users.permissions import has_role
from zamio.errors import Forbidden, NotFound
from zamio.tasks import enqueue_on_commit

IsStationOrStaff = has_role(Role.STATION, Role.ADMIN)


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


def _link(request, pk: int) -> StreamLink:
    link = station_selectors.stream_links_visible_to(user=request.user).filter(pk=pk).first()
    if link is None:
        raise NotFound("No such stream link.")
    return link


class StationHealthApi(APIView):
    """Capture health of one station and each of its links (its own accounts and staff)."""

    permission_classes = [IsStationOrStaff]

    @extend_schema(responses={200: s.StationHealthOutput}, tags=["stream health"])
    def get(self, request, pk: int):
        station = station_selectors.stations_visible_to(user=request.user).filter(pk=pk).first()
        if station is None:
            raise NotFound("No such station.")
        health = selectors.station_health(user=request.user, station=station)
        return Response(s.StationHealthOutput(health).data)


class LinkHealthFilter(django_filters.FilterSet):
    is_down = django_filters.BooleanFilter(field_name="health__is_down")

    class Meta:
        model = StreamLink
        fields = ["station", "kind", "enabled", "is_down"]


class LinkHealthListApi(generics.ListAPIView):
    """Every stream link the caller may see, with health; `?is_down=true` lists the streams
    that are down (staff: all stations; a station account: its own)."""

    permission_classes = [IsStationOrStaff]
    serializer_class = s.LinkHealthOutput
    filterset_class = LinkHealthFilter

    def get_queryset(self):
        if _fake(self):
            return StreamLink.objects.none()
        return selectors.links_with_health(user=self.request.user)

    @extend_schema(tags=["stream health"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class LinkAttemptListApi(generics.ListAPIView):
    """The link's capture attempts, newest first (kept STREAM_CAPTURE_ATTEMPT_RETENTION_DAYS)."""

    permission_classes = [IsStationOrStaff]
    serializer_class = s.AttemptOutput
    filterset_fields = ["ok"]

    def get_queryset(self):
        if _fake(self):
            return CaptureAttempt.objects.none()
        return selectors.link_attempts(link=_link(self.request, self.kwargs["pk"]))

    @extend_schema(tags=["stream health"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class LinkCheckApi(APIView):
    """Queues a 5-second test capture of the link; its health shows the result shortly."""

    permission_classes = [IsStationOrStaff]

    @extend_schema(request=None, responses={202: None}, tags=["stream health"])
    def post(self, request, pk: int):
        link = _link(request, pk)
        if (
            not station_selectors.stream_links_editable_by(user=request.user)
            .filter(pk=link.pk)
            .exists()
        ):
            raise Forbidden("Only the station's managers and ZamIO staff test its links.")
        enqueue_on_commit("stream_capture.check_link", link_id=link.pk)
        return Response(status=status.HTTP_202_ACCEPTED)
