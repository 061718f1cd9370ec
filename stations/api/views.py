from __future__ import annotations

from datetime import date

import django_filters
from django.db.models import Q
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from stations import compliance, playlogs, selectors, services
from stations.api import serializers as s
from stations.compliance import MEDIA_TYPES as COMPLIANCE_MEDIA_TYPES
from stations.models import (
    ComplianceDocument,
    ComplianceDocumentType,
    ComplianceStatus,
    Station,
    StationPlaylog,
    StationPlaylogEntry,
    StationStaff,
    StreamLink,
)
from users.models import Role, StaffRole
from users.permissions import IsAuthenticatedUser, has_role, has_staff_role
from zamio.errors import Forbidden, NotFound
from zamio.schema import file_responses

IsStationOrStaff = has_role(Role.STATION, Role.ADMIN)
# Station operations (verify, monitoring, links on/off): support staff and superadmins.
IsStationOperator = has_staff_role(StaffRole.SUPPORT)


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


def _station(request, pk: int) -> Station:
    station = selectors.stations_visible_to(user=request.user).filter(pk=pk).first()
    if station is None:
        raise NotFound("No such station.")
    return station


def _editable_station(request, pk: int) -> Station:
    station = _station(request, pk)
    if not selectors.stations_editable_by(user=request.user).filter(pk=pk).exists():
        raise Forbidden("Only the station's managers and ZamIO staff change this station.")
    return station


def _station_output(request, station: Station) -> dict:
    if selectors.station_full_access(user=request.user, station=station):
        return s.StationOutput(station).data
    return s.StationPublicOutput(station).data


# --- Stations ----------------------------------------------------------------------------------
class StationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name or call sign contains")

    class Meta:
        model = Station
        fields = [
            "region",
            "city",
            "country",
            "station_class",
            "is_verified",
            "monitoring_enabled",
        ]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(call_sign__icontains=value))


class StationListApi(generics.ListAPIView):
    """Stations the caller may see. Staff: all, in full; a station account: its own, in full;
    artists and publishers: all, public facts only (name, call sign, frequency, place, class)."""

    permission_classes = [IsAuthenticatedUser]
    filterset_class = StationFilter
    ordering_fields = ["name", "created_at", "region", "station_class", "id"]

    def get_queryset(self):
        if _fake(self):
            return Station.objects.none()
        return selectors.stations_visible_to(user=self.request.user)

    def get_serializer_class(self):
        if _fake(self) or self.request.user.role in (Role.ADMIN, Role.STATION):
            return s.StationOutput
        return s.StationPublicOutput

    @extend_schema(responses={200: s.StationReadSchema(many=True)}, tags=["stations"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.StationInput, responses={201: s.StationOutput}, tags=["stations"])
    def post(self, request):
        if request.user.role not in (Role.STATION, Role.ADMIN):
            raise Forbidden("Only station accounts and staff register stations.")
        data = s.StationInput(data=request.data)
        data.is_valid(raise_exception=True)
        station = services.station_create(actor=request.user, **data.validated_data)
        return Response(s.StationOutput(station).data, status=status.HTTP_201_CREATED)


class StationMeApi(APIView):
    """The station the logged-in station account works for."""

    permission_classes = [has_role(Role.STATION)]

    @extend_schema(responses={200: s.StationOutput}, tags=["stations"])
    def get(self, request):
        station = selectors.station_of_user(user=request.user)
        if station is None:
            raise NotFound("Your account is not linked to a station yet; register it first.")
        return Response(s.StationOutput(station).data)


class StationDetailApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        responses={200: s.StationReadSchema},
        description="Full record for staff and the station's own accounts; artists and "
        "publishers get the public fields only.",
        tags=["stations"],
    )
    def get(self, request, pk: int):
        return Response(_station_output(request, _station(request, pk)))

    @extend_schema(
        request=s.StationUpdateInput(partial=True),
        responses={200: s.StationOutput},
        tags=["stations"],
    )
    def patch(self, request, pk: int):
        station = _editable_station(request, pk)
        data = s.StationUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        station = services.station_update(
            actor=request.user, station=station, **data.validated_data
        )
        return Response(s.StationOutput(station).data)

    @extend_schema(responses={204: None}, tags=["stations"])
    def delete(self, request, pk: int):
        station = _station(request, pk)
        services.station_delete(actor=request.user, station=station)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StationVerifyApi(APIView):
    permission_classes = [IsStationOperator]

    @extend_schema(request=None, responses={200: s.StationOutput}, tags=["stations"])
    def post(self, request, pk: int):
        station = services.station_verify(actor=request.user, station=_station(request, pk))
        return Response(s.StationOutput(station).data)


class StationUnverifyApi(APIView):
    permission_classes = [IsStationOperator]

    @extend_schema(request=None, responses={200: s.StationOutput}, tags=["stations"])
    def post(self, request, pk: int):
        station = services.station_unverify(actor=request.user, station=_station(request, pk))
        return Response(s.StationOutput(station).data)


class StationMonitoringApi(APIView):
    """Staff switch airplay capture of a station on or off."""

    permission_classes = [IsStationOperator]

    @extend_schema(request=s.EnabledInput, responses={200: s.StationOutput}, tags=["stations"])
    def post(self, request, pk: int):
        data = s.EnabledInput(data=request.data)
        data.is_valid(raise_exception=True)
        station = services.station_set_monitoring(
            actor=request.user,
            station=_station(request, pk),
            enabled=data.validated_data["enabled"],
        )
        return Response(s.StationOutput(station).data)


# --- People --------------------------------------------------------------------------------------
def _member_station(request, pk: int) -> Station:
    """The station, if the caller may see its people (staff, or one of them)."""
    station = _station(request, pk)
    if not selectors.station_full_access(user=request.user, station=station):
        raise Forbidden("Only the station's own accounts and ZamIO staff see its people.")
    return station


class StationMemberListApi(generics.ListAPIView):
    permission_classes = [IsStationOrStaff]
    serializer_class = s.MemberOutput

    def get_queryset(self):
        if _fake(self):
            return StationStaff.objects.none()
        station = _member_station(self.request, self.kwargs["pk"])
        return selectors.station_members(station=station)

    @extend_schema(tags=["stations"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.MemberInput, responses={201: s.MemberOutput}, tags=["stations"])
    def post(self, request, pk: int):
        station = _editable_station(request, pk)
        data = s.MemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.station_member_add(
            actor=request.user, station=station, **data.validated_data
        )
        return Response(s.MemberOutput(member).data, status=status.HTTP_201_CREATED)


class StationMemberDetailApi(APIView):
    permission_classes = [IsStationOrStaff]

    def _get(self, request, pk: int, member_pk: int) -> StationStaff:
        station = _editable_station(request, pk)
        member = selectors.station_members(station=station).filter(pk=member_pk).first()
        if member is None:
            raise NotFound("No such member of this station.")
        return member

    @extend_schema(request=s.MemberRoleInput, responses={200: s.MemberOutput}, tags=["stations"])
    def patch(self, request, pk: int, member_pk: int):
        member = self._get(request, pk, member_pk)
        data = s.MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.station_member_set_role(
            actor=request.user, member=member, role=data.validated_data["role"]
        )
        return Response(s.MemberOutput(member).data)

    @extend_schema(responses={204: None}, tags=["stations"])
    def delete(self, request, pk: int, member_pk: int):
        services.station_member_remove(actor=request.user, member=self._get(request, pk, member_pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Stream links ---------------------------------------------------------------------------------
class StreamLinkFilter(django_filters.FilterSet):
    class Meta:
        model = StreamLink
        fields = ["kind", "enabled"]


class StationStreamLinkListApi(generics.ListAPIView):
    """A station's stream links: its accounts and staff read them; managers and staff add."""

    permission_classes = [IsStationOrStaff]
    serializer_class = s.StreamLinkOutput
    filterset_class = StreamLinkFilter

    def get_queryset(self):
        if _fake(self):
            return StreamLink.objects.none()
        station = _member_station(self.request, self.kwargs["pk"])
        return selectors.stream_links_visible_to(user=self.request.user).filter(station=station)

    @extend_schema(tags=["stream links"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.StreamLinkInput,
        responses={
            201: s.StreamLinkOutput,
            400: OpenApiResponse(description="Refused URL (code unsafe_stream_url) or bad input"),
        },
        tags=["stream links"],
    )
    def post(self, request, pk: int):
        station = _editable_station(request, pk)
        data = s.StreamLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.stream_link_create(
            actor=request.user, station=station, **data.validated_data
        )
        return Response(s.StreamLinkOutput(link).data, status=status.HTTP_201_CREATED)


def _link(request, pk: int) -> StreamLink:
    link = selectors.stream_links_visible_to(user=request.user).filter(pk=pk).first()
    if link is None:
        raise NotFound("No such stream link.")
    return link


def _editable_link(request, pk: int) -> StreamLink:
    link = _link(request, pk)
    if not selectors.stream_links_editable_by(user=request.user).filter(pk=pk).exists():
        raise Forbidden("Only the station's managers and ZamIO staff change its stream links.")
    return link


class StreamLinkDetailApi(APIView):
    permission_classes = [IsStationOrStaff]

    @extend_schema(responses={200: s.StreamLinkOutput}, tags=["stream links"])
    def get(self, request, pk: int):
        return Response(s.StreamLinkOutput(_link(request, pk)).data)

    @extend_schema(
        request=s.StreamLinkUpdateInput, responses={200: s.StreamLinkOutput}, tags=["stream links"]
    )
    def patch(self, request, pk: int):
        link = _editable_link(request, pk)
        data = s.StreamLinkUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        link = services.stream_link_update(actor=request.user, link=link, **data.validated_data)
        return Response(s.StreamLinkOutput(link).data)

    @extend_schema(responses={204: None}, tags=["stream links"])
    def delete(self, request, pk: int):
        services.stream_link_delete(actor=request.user, link=_editable_link(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StreamLinkEnabledApi(APIView):
    """Staff switch one stream link on or off for capture."""

    permission_classes = [IsStationOperator]

    @extend_schema(
        request=s.EnabledInput, responses={200: s.StreamLinkOutput}, tags=["stream links"]
    )
    def post(self, request, pk: int):
        data = s.EnabledInput(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.stream_link_set_enabled(
            actor=request.user, link=_link(request, pk), enabled=data.validated_data["enabled"]
        )
        return Response(s.StreamLinkOutput(link).data)


# --- Station playlogs -----------------------------------------------------------------------
IsRecordsReader = has_role(Role.STATION, Role.ADMIN)


class PlaylogFilter(django_filters.FilterSet):
    station = django_filters.NumberFilter(field_name="station_id")

    class Meta:
        model = StationPlaylog
        fields = ["file_format"]


class StationPlaylogListApi(generics.ListAPIView):
    """GET: the station's uploaded logs. POST (multipart): upload an as-played log (CSV,
    JSON or XML); good rows are stored, bad rows listed with their reasons (201 either
    way); a file that cannot be read at all is refused with 400."""

    permission_classes = [IsRecordsReader]
    serializer_class = s.PlaylogOutput
    filterset_class = PlaylogFilter
    parser_classes = [MultiPartParser, FormParser]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if _fake(self):
            return StationPlaylog.objects.none()
        station = selectors.station_records_get(
            user=self.request.user, station_id=self.kwargs["pk"]
        )
        return selectors.playlogs_visible_to(user=self.request.user).filter(station=station)

    @extend_schema(tags=["stations"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": s.PlaylogUploadInput},
        responses={201: s.PlaylogOutput},
        tags=["stations"],
    )
    def post(self, request, pk: int):
        station = selectors.station_records_get(user=request.user, station_id=pk)
        data = s.PlaylogUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        playlog = playlogs.playlog_upload(
            actor=request.user,
            station_id=station.pk,
            name=upload.name,
            data=upload.read(),
            file_format=data.validated_data["format"],
        )
        return Response(s.PlaylogOutput(playlog).data, status=status.HTTP_201_CREATED)


class PlaylogDetailApi(APIView):
    permission_classes = [IsRecordsReader]

    @extend_schema(responses={200: s.PlaylogOutput}, tags=["stations"])
    def get(self, request, pk: int):
        return Response(
            s.PlaylogOutput(selectors.playlog_get(user=request.user, playlog_id=pk)).data
        )

    @extend_schema(responses={204: None}, tags=["stations"])
    def delete(self, request, pk: int):
        selectors.playlog_get(user=request.user, playlog_id=pk)
        playlogs.playlog_delete(actor=request.user, playlog_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlaylogEntryListApi(generics.ListAPIView):
    """The rows an upload stored, in time order."""

    permission_classes = [IsRecordsReader]
    serializer_class = s.PlaylogEntryOutput
    ordering = ["started_at", "id"]

    def get_queryset(self):
        if _fake(self):
            return StationPlaylogEntry.objects.none()
        playlog = selectors.playlog_get(user=self.request.user, playlog_id=self.kwargs["pk"])
        return selectors.playlog_entries(playlog=playlog)

    @extend_schema(tags=["stations"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- Compliance documents -------------------------------------------------------------------
def _month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


class ComplianceFilter(django_filters.FilterSet):
    station = django_filters.NumberFilter(field_name="station_id")
    status = django_filters.ChoiceFilter(choices=ComplianceStatus.choices)
    document_type = django_filters.ChoiceFilter(choices=ComplianceDocumentType.choices)
    period_from = django_filters.DateFilter(field_name="period", lookup_expr="gte")
    period_to = django_filters.DateFilter(field_name="period", lookup_expr="lte")

    class Meta:
        model = ComplianceDocument
        fields = ["status"]


class ComplianceDocumentListApi(generics.ListAPIView):
    """Compliance documents the caller may see (staff: every station's, to review; a
    station: its own). Filter by station, status, type and months."""

    permission_classes = [IsRecordsReader]
    serializer_class = s.ComplianceDocumentOutput
    filterset_class = ComplianceFilter
    ordering_fields = ["period", "created_at", "id"]
    ordering = ["-period", "document_type", "-id"]

    def get_queryset(self):
        if _fake(self):
            return ComplianceDocument.objects.none()
        return selectors.compliance_documents_visible_to(user=self.request.user)

    @extend_schema(tags=["compliance"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class StationComplianceUploadApi(APIView):
    """A station's document for a month (PDF, image, CSV or XLSX; private)."""

    permission_classes = [IsRecordsReader]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.ComplianceUploadInput},
        responses={201: s.ComplianceDocumentOutput},
        tags=["compliance"],
    )
    def post(self, request, pk: int):
        station = selectors.station_records_get(user=request.user, station_id=pk)
        data = s.ComplianceUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        document = compliance.compliance_document_upload(
            actor=request.user,
            station_id=station.pk,
            document_type=data.validated_data["document_type"],
            period=_month(data.validated_data["period"]),
            name=upload.name,
            data=upload.read(),
        )
        return Response(s.ComplianceDocumentOutput(document).data, status=status.HTTP_201_CREATED)


class ComplianceDocumentDetailApi(APIView):
    permission_classes = [IsRecordsReader]

    @extend_schema(responses={200: s.ComplianceDocumentOutput}, tags=["compliance"])
    def get(self, request, pk: int):
        document = selectors.compliance_document_get(user=request.user, document_id=pk)
        return Response(s.ComplianceDocumentOutput(document).data)


class ComplianceDocumentFileApi(APIView):
    """Streams the document to its station's accounts and staff; to others it does not exist."""

    permission_classes = [IsRecordsReader]

    @extend_schema(
        responses=file_responses(COMPLIANCE_MEDIA_TYPES, description="The document."),
        tags=["compliance"],
    )
    def get(self, request, pk: int):
        document = selectors.compliance_document_get(user=request.user, document_id=pk)
        response = FileResponse(
            document.file.open("rb"),
            content_type=document.content_type,
            as_attachment=True,
            filename=document.original_name,
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ComplianceDocumentReviewApi(APIView):
    """Support staff accept or reject a submitted document."""

    permission_classes = [IsStationOperator]

    @extend_schema(
        request=s.ComplianceReviewInput,
        responses={200: s.ComplianceDocumentOutput},
        tags=["compliance"],
    )
    def post(self, request, pk: int):
        data = s.ComplianceReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = compliance.compliance_document_review(
            actor=request.user, document_id=pk, **data.validated_data
        )
        return Response(s.ComplianceDocumentOutput(document).data)


class ComplianceMissingApi(APIView):
    """Months each station still owes a required document for (staff: every station, or
    one; a station: its own), from its registration (or month_from) to last month."""

    permission_classes = [IsRecordsReader]

    @extend_schema(
        parameters=[s.MissingQueryInput],
        responses={200: s.MissingComplianceOutput(many=True)},
        tags=["compliance"],
    )
    def get(self, request):
        data = s.MissingQueryInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if request.user.role == Role.ADMIN:
            stations = Station.objects.all()
        else:
            stations = Station.objects.filter(
                pk__in=selectors.station_ids_for_user(user=request.user)
            )
        if v.get("station"):
            stations = stations.filter(
                pk=selectors.station_records_get(user=request.user, station_id=v["station"]).pk
            )
        result = selectors.compliance_missing_months(
            stations=stations,
            month_from=_month(v["month_from"]) if v.get("month_from") else None,
            month_to=_month(v["month_to"]) if v.get("month_to") else None,
        )
        return Response(s.MissingComplianceOutput(result, many=True).data)
