from __future__ import annotations

import django_filters
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from royalties import selectors, services
from royalties.api import serializers as s
from royalties.models import (
    InvoiceStatus,
    PeriodStatus,
    ReportFile,
    ReportStatus,
    RoyaltyLine,
    RoyaltyPeriod,
    StationInvoice,
)
from users.models import Role, StaffRole
from users.permissions import IsAuthenticatedUser, IsStaff, has_role, has_staff_role
from zamio.errors import Conflict
from zamio.filters import IsoDateTimeFilter

IsFinance = has_staff_role(StaffRole.FINANCE)
IsPayeeOrStaff = has_role(Role.ARTIST, Role.PUBLISHER, Role.ADMIN)
IsStationOrStaff = has_role(Role.STATION, Role.ADMIN)
_BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="The file (CSV or PDF).")
TAGS = ["royalties"]


def _fake(view) -> bool:
    return getattr(view, "swagger_fake_view", False)


# --- Rate cards -----------------------------------------------------------------------------
class RateCardListCreateApi(generics.ListAPIView):
    """Staff read the rate cards; finance creates them."""

    serializer_class = s.RateCardOutput

    def get_permissions(self):
        return [IsFinance()] if self.request.method == "POST" else [IsStaff()]

    def get_queryset(self):
        return selectors.rate_cards_list()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.RateCardInput, responses={201: s.RateCardOutput}, tags=TAGS)
    def post(self, request):
        data = s.RateCardInput(data=request.data)
        data.is_valid(raise_exception=True)
        card = services.rate_card_create(actor=request.user, **data.validated_data)
        card = selectors.rate_card_get(rate_card_id=card.pk)
        return Response(s.RateCardOutput(card).data, status=status.HTTP_201_CREATED)


class RateCardDetailApi(APIView):
    def get_permissions(self):
        return [IsFinance()] if self.request.method == "DELETE" else [IsStaff()]

    @extend_schema(responses={200: s.RateCardOutput}, tags=TAGS)
    def get(self, request, pk: int):
        return Response(s.RateCardOutput(selectors.rate_card_get(rate_card_id=pk)).data)

    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request, pk: int):
        services.rate_card_delete(actor=request.user, rate_card_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Periods --------------------------------------------------------------------------------
class PeriodFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PeriodStatus.choices)
    year = django_filters.NumberFilter(
        field_name="month", lookup_expr="year", min_value=1, max_value=9999
    )

    class Meta:
        model = RoyaltyPeriod
        fields = ["status", "year"]


def _period_serializer(user):
    return s.PeriodStaffOutput if user.role == Role.ADMIN else s.PeriodOutput


class PeriodListApi(generics.ListAPIView):
    """Every signed-in user may list the months (to pick a statement); totals are staff-only."""

    permission_classes = [IsAuthenticatedUser]
    filterset_class = PeriodFilter

    def get_serializer_class(self):
        if _fake(self):
            return s.PeriodStaffOutput
        return _period_serializer(self.request.user)

    def get_queryset(self):
        return selectors.periods_list()

    @extend_schema(responses={200: s.PeriodStaffOutput(many=True)}, tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PeriodDetailApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: s.PeriodStaffOutput}, tags=TAGS)
    def get(self, request, pk: int):
        period = selectors.period_get(period_id=pk)
        return Response(_period_serializer(request.user)(period).data)


class PeriodCloseApi(APIView):
    permission_classes = [IsFinance]

    @extend_schema(request=None, responses={202: s.PeriodStaffOutput}, tags=TAGS)
    def post(self, request, pk: int):
        period = services.period_close_request(actor=request.user, period_id=pk)
        return Response(s.PeriodStaffOutput(period).data, status=status.HTTP_202_ACCEPTED)


class PeriodMarkPaidApi(APIView):
    permission_classes = [IsFinance]

    @extend_schema(request=None, responses={200: s.PeriodStaffOutput}, tags=TAGS)
    def post(self, request, pk: int):
        period = services.period_mark_paid(actor=request.user, period_id=pk)
        return Response(s.PeriodStaffOutput(period).data)


# --- Lines ----------------------------------------------------------------------------------
class LineFilter(django_filters.FilterSet):
    period = django_filters.NumberFilter(field_name="period_id")
    track = django_filters.NumberFilter(field_name="play_royalty__track_id")
    station = django_filters.NumberFilter(field_name="play_royalty__station_id")
    kind = django_filters.CharFilter()
    played_after = IsoDateTimeFilter(field_name="play_royalty__played_at", lookup_expr="gte")
    played_before = IsoDateTimeFilter(field_name="play_royalty__played_at", lookup_expr="lt")

    class Meta:
        model = RoyaltyLine
        fields = ["period", "track", "station", "kind"]


class RoyaltyLineListApi(generics.ListAPIView):
    """An artist's or publisher's own royalty lines, play by play; staff see all."""

    permission_classes = [IsPayeeOrStaff]
    serializer_class = s.RoyaltyLineOutput
    filterset_class = LineFilter

    def get_queryset(self):
        if _fake(self):
            return RoyaltyLine.objects.none()
        return selectors.lines_visible_to(user=self.request.user).order_by(
            "-play_royalty__played_at", "id"
        )

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- Invoices -------------------------------------------------------------------------------
class InvoiceFilter(django_filters.FilterSet):
    period = django_filters.NumberFilter(field_name="period_id")
    station = django_filters.NumberFilter(field_name="station_id")
    status = django_filters.ChoiceFilter(choices=InvoiceStatus.choices)

    class Meta:
        model = StationInvoice
        fields = ["period", "station", "status"]


class InvoiceListApi(generics.ListAPIView):
    permission_classes = [IsStationOrStaff]
    serializer_class = s.InvoiceOutput
    filterset_class = InvoiceFilter

    def get_queryset(self):
        if _fake(self):
            return StationInvoice.objects.none()
        return selectors.invoices_visible_to(user=self.request.user)

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class InvoiceDetailApi(APIView):
    permission_classes = [IsStationOrStaff]

    @extend_schema(responses={200: s.InvoiceDetailOutput}, tags=TAGS)
    def get(self, request, pk: int):
        invoice = selectors.invoice_get(user=request.user, invoice_id=pk)
        return Response(s.InvoiceDetailOutput(invoice).data)


class InvoiceMarkPaidApi(APIView):
    permission_classes = [IsFinance]

    @extend_schema(request=s.InvoicePaidInput, responses={200: s.InvoiceOutput}, tags=TAGS)
    def post(self, request, pk: int):
        data = s.InvoicePaidInput(data=request.data)
        data.is_valid(raise_exception=True)
        selectors.invoice_get(user=request.user, invoice_id=pk)
        invoice = services.invoice_mark_paid(
            actor=request.user, invoice_id=pk, reference=data.validated_data["reference"]
        )
        invoice = selectors.invoice_get(user=request.user, invoice_id=invoice.pk)
        return Response(s.InvoiceOutput(invoice).data)


# --- Reports --------------------------------------------------------------------------------
class ReportFilter(django_filters.FilterSet):
    period = django_filters.NumberFilter(field_name="period_id")
    kind = django_filters.CharFilter()
    format = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)

    class Meta:
        model = ReportFile
        fields = ["period", "kind", "format", "status"]


class ReportListCreateApi(generics.ListAPIView):
    """Statements (artists, publishers), invoices (stations) and staff reports, generated
    by a worker: POST asks for one, GET .../download/ fetches it when ready."""

    permission_classes = [IsAuthenticatedUser]
    serializer_class = s.ReportOutput
    filterset_class = ReportFilter

    def get_queryset(self):
        if _fake(self):
            return ReportFile.objects.none()
        return selectors.reports_visible_to(user=self.request.user)

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.ReportInput, responses={200: s.ReportOutput, 202: s.ReportOutput}, tags=TAGS
    )
    def post(self, request):
        data = s.ReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        report = services.report_request(
            actor=request.user,
            kind=v["kind"],
            format=v["format"],
            period_id=v["period"],
            subject_user_id=v.get("subject_user"),
            invoice_id=v.get("invoice"),
        )
        ready = report.status == ReportStatus.READY
        code = status.HTTP_200_OK if ready else status.HTTP_202_ACCEPTED
        return Response(s.ReportOutput(report).data, status=code)


class ReportDetailApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: s.ReportOutput}, tags=TAGS)
    def get(self, request, pk: int):
        return Response(s.ReportOutput(selectors.report_get(user=request.user, report_id=pk)).data)


class ReportDownloadApi(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(responses={200: _BINARY}, tags=TAGS)
    def get(self, request, pk: int):
        report = selectors.report_get(user=request.user, report_id=pk)
        if report.status != ReportStatus.READY:
            raise Conflict(f"The report is {report.status}.", code="report_not_ready")
        content_type = "text/csv" if report.format == "csv" else "application/pdf"
        response = FileResponse(
            report.file.open("rb"),
            as_attachment=True,
            filename=report.filename,
            content_type=content_type,
        )
        response["Cache-Control"] = "private, no-store"
        return response
