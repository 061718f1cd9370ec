from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from royalties.models import (
    RateCard,
    RateCardBand,
    ReportFile,
    ReportFormat,
    ReportKind,
    RoyaltyLine,
    RoyaltyPeriod,
    StationInvoice,
    StationInvoiceLine,
)


# --- Rate cards -----------------------------------------------------------------------------
class BandInput(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    start = serializers.TimeField(help_text="Local start, e.g. 06:00.")
    end = serializers.TimeField(help_text='Local end, exclusive; "00:00" means midnight.')
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=3, min_value=Decimal(0))

    def validate(self, attrs):
        start = attrs["start"].hour * 60 + attrs["start"].minute
        end = attrs["end"].hour * 60 + attrs["end"].minute or 1440
        if attrs["start"].second or attrs["end"].second:
            raise serializers.ValidationError("Band edges are whole minutes.")
        if end <= start:
            raise serializers.ValidationError(
                "A band ends after it starts; split a band across midnight in two."
            )
        return {
            "name": attrs["name"],
            "start_minute": start,
            "end_minute": end,
            "multiplier": attrs["multiplier"],
        }


class RateCardInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    effective_from = serializers.DateTimeField(
        help_text="When the card starts to apply (a date alone means Accra midnight)."
    )
    cmo_fee_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    min_play_seconds = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=Decimal(0)
    )
    rates = serializers.DictField(
        child=serializers.DecimalField(max_digits=12, decimal_places=6, min_value=Decimal(0)),
        help_text='Base rate per second by station class, e.g. {"A": "0.004", ...}.',
    )
    bands = BandInput(many=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def to_internal_value(self, data):
        value = data.get("effective_from") if hasattr(data, "get") else None
        if isinstance(value, str) and len(value) == 10:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                pass
            else:
                midnight = timezone.make_aware(datetime.combine(day, time()))
                data = {**data, "effective_from": midnight}
        return super().to_internal_value(data)


class RateCardBandOutput(serializers.ModelSerializer):
    class Meta:
        model = RateCardBand
        fields = ["name", "start_minute", "end_minute", "multiplier"]


class RateCardOutput(serializers.ModelSerializer):
    rates = serializers.SerializerMethodField()
    bands = RateCardBandOutput(many=True)

    class Meta:
        model = RateCard
        fields = [
            "id",
            "name",
            "effective_from",
            "cmo_fee_percent",
            "min_play_seconds",
            "rates",
            "bands",
            "note",
            "created_at",
        ]

    def get_rates(self, card) -> dict[str, str]:
        return {r.station_class: str(r.rate_per_second) for r in card.rates.all()}


# --- Periods --------------------------------------------------------------------------------
class PeriodOutput(serializers.ModelSerializer):
    label = serializers.CharField()

    class Meta:
        model = RoyaltyPeriod
        fields = ["id", "label", "month", "starts_at", "ends_at", "status", "closed_at", "paid_at"]


class PeriodStaffOutput(PeriodOutput):
    class Meta(PeriodOutput.Meta):
        fields = [
            *PeriodOutput.Meta.fields,
            "close_started_at",
            "plays_count",
            "gross_total",
            "cmo_fee_total",
            "payees_total",
        ]


# --- Lines ----------------------------------------------------------------------------------
class RoyaltyLineOutput(serializers.ModelSerializer):
    period = serializers.CharField(source="period.label")
    track_id = serializers.IntegerField(source="play_royalty.track_id")
    track_title = serializers.CharField(source="play_royalty.track.title")
    station_id = serializers.IntegerField(source="play_royalty.station_id")
    station_name = serializers.CharField(source="play_royalty.station.name")
    played_at = serializers.DateTimeField(source="play_royalty.played_at")
    duration_seconds = serializers.DecimalField(
        source="play_royalty.duration_seconds", max_digits=10, decimal_places=2
    )

    class Meta:
        model = RoyaltyLine
        fields = [
            "id",
            "period",
            "kind",
            "play_id",
            "track_id",
            "track_title",
            "station_id",
            "station_name",
            "played_at",
            "duration_seconds",
            "payee_type",
            "role",
            "share_bp",
            "amount",
        ]


# --- Invoices -------------------------------------------------------------------------------
class InvoiceLineOutput(serializers.ModelSerializer):
    class Meta:
        model = StationInvoiceLine
        fields = ["track_id", "title", "artist", "plays_count", "airtime_seconds", "amount"]


class InvoiceOutput(serializers.ModelSerializer):
    period = serializers.CharField(source="period.label")
    station_name = serializers.CharField(source="station.name")

    class Meta:
        model = StationInvoice
        fields = [
            "id",
            "number",
            "period",
            "period_id",
            "station_id",
            "station_name",
            "status",
            "issued_at",
            "due_date",
            "plays_count",
            "airtime_seconds",
            "subtotal",
            "vat_percent",
            "vat_amount",
            "total",
            "paid_at",
            "payment_reference",
        ]


class InvoiceDetailOutput(InvoiceOutput):
    lines = InvoiceLineOutput(many=True)

    class Meta(InvoiceOutput.Meta):
        fields = [*InvoiceOutput.Meta.fields, "lines"]


class InvoicePaidInput(serializers.Serializer):
    reference = serializers.CharField(max_length=100, help_text="Bank or mobile-money reference.")


# --- Reports --------------------------------------------------------------------------------
class ReportInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    format = serializers.ChoiceField(choices=ReportFormat.choices)
    period = serializers.IntegerField(min_value=1)
    subject_user = serializers.IntegerField(
        min_value=1, required=False, help_text="Staff only: whose statement."
    )
    invoice = serializers.IntegerField(min_value=1, required=False)

    def validate(self, attrs):
        if attrs["kind"] == ReportKind.INVOICE and "invoice" not in attrs:
            raise serializers.ValidationError({"invoice": ["Required for an invoice report."]})
        return attrs


class ReportOutput(serializers.ModelSerializer):
    period = serializers.CharField(source="period.label")

    class Meta:
        model = ReportFile
        fields = [
            "id",
            "kind",
            "format",
            "period",
            "period_id",
            "subject_user_id",
            "invoice_id",
            "status",
            "filename",
            "size",
            "sha256",
            "error",
            "generated_at",
            "created_at",
        ]
