"""Royalties in Django admin: money rows are read-only here; changes go through services
(the same ones the API calls), so every change is validated and audited."""

from __future__ import annotations

from django.contrib import admin, messages

from royalties import services
from royalties.models import (
    PlayRoyalty,
    RateCard,
    RateCardBand,
    RateCardRate,
    ReportFile,
    RoyaltyLine,
    RoyaltyPeriod,
    RoyaltyPosting,
    StationInvoice,
    StationInvoiceLine,
)
from zamio.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RateCardRateInline(admin.TabularInline):
    model = RateCardRate
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RateCardBandInline(RateCardRateInline):
    model = RateCardBand


@admin.register(RateCard)
class RateCardAdmin(ReadOnlyAdmin):
    """Rate cards are created through the API (validated as a whole: every class, bands)."""

    list_display = ["name", "effective_from", "cmo_fee_percent", "min_play_seconds", "created_by"]
    search_fields = ["name"]
    date_hierarchy = "effective_from"
    inlines = [RateCardRateInline, RateCardBandInline]


@admin.action(description="Close the selected periods (same as the API)")
def close_periods(modeladmin, request, queryset):
    for period in queryset.order_by("month"):
        try:
            services.period_close_request(actor=request.user, period_id=period.pk)
        except DomainError as exc:
            modeladmin.message_user(request, f"{period.label}: {exc.message}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{period.label}: close queued.")


@admin.register(RoyaltyPeriod)
class RoyaltyPeriodAdmin(ReadOnlyAdmin):
    list_display = [
        "month",
        "status",
        "plays_count",
        "gross_total",
        "cmo_fee_total",
        "payees_total",
        "closed_at",
        "paid_at",
    ]
    list_filter = ["status"]
    actions = [close_periods]


@admin.register(PlayRoyalty)
class PlayRoyaltyAdmin(ReadOnlyAdmin):
    list_display = [
        "play_id",
        "period",
        "kind",
        "station",
        "track",
        "played_at",
        "duration_seconds",
        "gross",
    ]
    list_filter = ["kind", "period", "station_class", "below_minimum"]
    search_fields = ["play__id", "track__title", "station__name"]
    raw_id_fields = ["play", "station", "track", "rate_card"]
    list_select_related = ["period", "station", "track"]


@admin.register(RoyaltyLine)
class RoyaltyLineAdmin(ReadOnlyAdmin):
    list_display = ["play_id", "period", "kind", "payee_key", "role", "user", "amount"]
    list_filter = ["kind", "payee_type", "period"]
    search_fields = ["payee_key", "user__email", "contributor__name", "publisher__name"]
    raw_id_fields = ["play_royalty", "play", "contributor", "publisher", "user"]
    list_select_related = ["period", "user"]


class StationInvoiceLineInline(admin.TabularInline):
    model = StationInvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["track", "title", "artist", "plays_count", "airtime_seconds", "amount"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StationInvoice)
class StationInvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "station", "period", "status", "total", "due_date", "paid_at"]
    list_filter = ["status", "period"]
    search_fields = ["number", "station__name", "payment_reference"]
    inlines = [StationInvoiceLineInline]
    list_select_related = ["station", "period"]


@admin.register(RoyaltyPosting)
class RoyaltyPostingAdmin(ReadOnlyAdmin):
    list_display = ["idempotency_key", "kind", "amount", "lines_count", "posted_at"]
    list_filter = ["kind", "period"]
    search_fields = ["idempotency_key", "target"]


@admin.register(ReportFile)
class ReportFileAdmin(ReadOnlyAdmin):
    list_display = ["kind", "format", "period", "subject_user", "invoice", "status", "created_at"]
    list_filter = ["kind", "format", "status"]
    search_fields = ["filename", "subject_user__email"]
