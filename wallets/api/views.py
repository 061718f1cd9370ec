from __future__ import annotations

import csv
from datetime import datetime, time, timedelta

import django_filters
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from users.models import Role, StaffRole
from users.permissions import AllowAnyone, IsFinanceStaff, has_role, has_staff_role
from wallets import selectors, services
from wallets.api import serializers as s
from wallets.models import Posting, ReconciliationRun, Withdrawal, WithdrawalStatus
from wallets.providers import get_provider
from zamio.errors import NotFound
from zamio.filters import IsoDateTimeFilter

IsPayee = has_role(Role.ARTIST, Role.PUBLISHER)
IsWithdrawalStaff = has_staff_role(StaffRole.FINANCE, StaffRole.SUPPORT)


# --- Wallet ---------------------------------------------------------------------------
class WalletBalanceApi(APIView):
    permission_classes = [IsPayee]

    @extend_schema(responses={200: s.WalletBalanceOutput}, tags=["wallet"])
    def get(self, request):
        balance = selectors.wallet_balance(user=request.user)
        return Response(s.WalletBalanceOutput(balance).data)


class WalletTransactionFilter(django_filters.FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    direction = django_filters.ChoiceFilter(
        choices=[("credit", "Money in"), ("debit", "Money out")], method="filter_direction"
    )
    reference_type = django_filters.CharFilter(field_name="entry__reference_type")
    memo = django_filters.CharFilter(field_name="entry__memo", lookup_expr="icontains")

    class Meta:
        model = Posting
        fields = ["created_after", "created_before", "direction", "reference_type", "memo"]

    def filter_direction(self, queryset, name, value):
        # Wallets are credit-normal: money in is a credit (a negative signed amount).
        return queryset.filter(amount__lt=0) if value == "credit" else queryset.filter(amount__gt=0)


class WalletTransactionListApi(generics.ListAPIView):
    permission_classes = [IsPayee]
    serializer_class = s.WalletTransactionOutput
    filterset_class = WalletTransactionFilter
    ordering_fields = ["id", "created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Posting.objects.none()
        return selectors.wallet_postings(user=self.request.user)

    @extend_schema(tags=["wallet"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class WalletStatementApi(APIView):
    """The wallet statement as CSV: opening balance, every posting, closing balance."""

    permission_classes = [IsPayee]

    @extend_schema(
        parameters=[s.StatementQueryInput],
        responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR)},
        tags=["wallet"],
    )
    def get(self, request):
        query = s.StatementQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        start_day, end_day = query.validated_data.get("start"), query.validated_data.get("end")
        statement = selectors.wallet_statement(
            user=request.user,
            start=_day_start(start_day) if start_day else None,
            end=_day_start(end_day + timedelta(days=1)) if end_day else None,
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"zamio-wallet-{start_day or 'start'}-{end_day or timezone.localdate()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv.writer(response)
        writer.writerow(["date", "memo", "reference", "amount", "balance", "currency"])
        writer.writerow(
            ["", "Opening balance", "", "", f"{statement.opening_balance:.2f}", statement.currency]
        )
        for posting in statement.postings.iterator(chunk_size=500):
            reference = posting.entry.reference_type
            if posting.entry.reference_id:
                reference = f"{reference}:{posting.entry.reference_id}"
            writer.writerow(
                [
                    timezone.localtime(posting.created_at).isoformat(timespec="seconds"),
                    _csv_safe(posting.entry.memo),
                    _csv_safe(reference),
                    f"{-posting.amount:.2f}",
                    f"{-posting.balance_after + 0:.2f}",
                    statement.currency,
                ]
            )
        writer.writerow(
            ["", "Closing balance", "", "", f"{statement.closing_balance:.2f}", statement.currency]
        )
        return response


def _csv_safe(value: str) -> str:
    # Spreadsheet apps run cells starting with these as formulas (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- Withdrawals -----------------------------------------------------------------------
class WithdrawalFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WithdrawalStatus.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    requires_approval = django_filters.BooleanFilter()

    class Meta:
        model = Withdrawal
        fields = ["status", "user", "provider", "network", "requires_approval"]


def _output_for(user):
    return s.WithdrawalStaffOutput if user.role == Role.ADMIN else s.WithdrawalOutput


class WithdrawalListCreateApi(generics.ListAPIView):
    """Payees list and request their withdrawals; finance and support list everyone's."""

    permission_classes = [IsPayee | IsWithdrawalStaff]
    filterset_class = WithdrawalFilter
    ordering_fields = ["id", "created_at", "amount"]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsPayee()]
        return super().get_permissions()

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False):
            return s.WithdrawalStaffOutput
        return _output_for(self.request.user)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Withdrawal.objects.none()
        return selectors.withdrawals_visible_to(user=self.request.user)

    @extend_schema(responses={200: s.WithdrawalStaffOutput(many=True)}, tags=["withdrawals"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.WithdrawalRequestInput,
        responses={201: s.WithdrawalOutput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Repeat a request with the same key to get the same withdrawal.",
            )
        ],
        tags=["withdrawals"],
    )
    def post(self, request):
        data = s.WithdrawalRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = services.withdrawal_request(
            user=request.user,
            amount=data.validated_data["amount"],
            request_key=request.headers.get("Idempotency-Key", ""),
        )
        return Response(s.WithdrawalOutput(withdrawal).data, status=status.HTTP_201_CREATED)


class WithdrawalDetailApi(APIView):
    permission_classes = [IsPayee | IsWithdrawalStaff]

    @extend_schema(responses={200: s.WithdrawalStaffOutput}, tags=["withdrawals"])
    def get(self, request, pk: int):
        withdrawal = selectors.withdrawal_get(user=request.user, withdrawal_id=pk)
        return Response(_output_for(request.user)(withdrawal).data)


class WithdrawalCancelApi(APIView):
    permission_classes = [IsPayee]

    @extend_schema(request=None, responses={200: s.WithdrawalOutput}, tags=["withdrawals"])
    def post(self, request, pk: int):
        selectors.withdrawal_get(user=request.user, withdrawal_id=pk)
        withdrawal = services.withdrawal_cancel(user=request.user, withdrawal_id=pk)
        return Response(s.WithdrawalOutput(withdrawal).data)


class _FinanceWithdrawalApi(APIView):
    permission_classes = [IsFinanceStaff]

    def visible(self, pk: int) -> Withdrawal:
        return selectors.withdrawal_get(user=self.request.user, withdrawal_id=pk)


class WithdrawalApproveApi(_FinanceWithdrawalApi):
    @extend_schema(request=None, responses={200: s.WithdrawalStaffOutput}, tags=["withdrawals"])
    def post(self, request, pk: int):
        self.visible(pk)
        withdrawal = services.withdrawal_approve(actor=request.user, withdrawal_id=pk)
        return Response(s.WithdrawalStaffOutput(withdrawal).data)


class WithdrawalRejectApi(_FinanceWithdrawalApi):
    @extend_schema(
        request=s.WithdrawalRejectInput,
        responses={200: s.WithdrawalStaffOutput},
        tags=["withdrawals"],
    )
    def post(self, request, pk: int):
        data = s.WithdrawalRejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        self.visible(pk)
        withdrawal = services.withdrawal_reject(
            actor=request.user, withdrawal_id=pk, reason=data.validated_data["reason"]
        )
        return Response(s.WithdrawalStaffOutput(withdrawal).data)


class WithdrawalRecheckApi(_FinanceWithdrawalApi):
    @extend_schema(request=None, responses={200: s.WithdrawalStaffOutput}, tags=["withdrawals"])
    def post(self, request, pk: int):
        self.visible(pk)
        withdrawal = services.withdrawal_recheck(actor=request.user, withdrawal_id=pk)
        return Response(s.WithdrawalStaffOutput(withdrawal).data)


class WithdrawalResolveApi(_FinanceWithdrawalApi):
    @extend_schema(
        request=s.WithdrawalResolveInput,
        responses={200: s.WithdrawalStaffOutput},
        tags=["withdrawals"],
    )
    def post(self, request, pk: int):
        data = s.WithdrawalResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        self.visible(pk)
        withdrawal = services.withdrawal_resolve(
            actor=request.user, withdrawal_id=pk, **data.validated_data
        )
        return Response(s.WithdrawalStaffOutput(withdrawal).data)


# --- Provider callbacks ------------------------------------------------------------------
class PayoutCallbackApi(APIView):
    """Where MTN MoMo (PUT) and others (POST) report a transfer's outcome.

    Public by necessity, so nothing in the body is believed: the withdrawal is
    looked up by reference and its status confirmed with the provider itself.
    """

    permission_classes = [AllowAnyone]
    authentication_classes: list = []

    def _handle(self, request, provider: str):
        try:
            get_provider(provider)
        except ValueError:
            raise NotFound("No such payout provider.") from None
        payload = request.data if isinstance(request.data, dict) else {}
        services.payout_callback_handle(
            provider=provider, payload=dict(payload), remote_ip=request.META.get("REMOTE_ADDR")
        )
        return Response({"received": True})

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses={200: s.PayoutCallbackOutput}, tags=["payouts"]
    )
    def put(self, request, provider: str):
        return self._handle(request, provider)

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses={200: s.PayoutCallbackOutput}, tags=["payouts"]
    )
    def post(self, request, provider: str):
        return self._handle(request, provider)


# --- Reconciliation ----------------------------------------------------------------------
class ReconciliationRunListApi(generics.ListAPIView):
    permission_classes = [IsFinanceStaff]
    serializer_class = s.ReconciliationRunOutput
    ordering_fields = ["started_at", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReconciliationRun.objects.none()
        return selectors.reconciliation_runs_visible_to(user=self.request.user)

    @extend_schema(tags=["payouts"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
