from django.contrib import admin

from stream_capture.models import (
    CaptureAttempt,
    CaptureLease,
    LinkHealth,
    StationCaptureState,
    StreamDown,
)


class _ReadOnly(admin.ModelAdmin):
    """Capture bookkeeping is written by the capture services only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LinkHealth)
class LinkHealthAdmin(_ReadOnly):
    list_display = (
        "link",
        "station",
        "is_down",
        "down_since",
        "consecutive_failures",
        "last_success_at",
        "last_failure_at",
        "last_error",
    )
    list_filter = ("is_down", "link__kind", "link__enabled")
    search_fields = ("link__url", "link__station__name", "last_error")
    list_select_related = ("link", "link__station")

    @admin.display(ordering="link__station__name")
    def station(self, obj):
        return obj.link.station


@admin.register(StreamDown)
class StreamDownAdmin(LinkHealthAdmin):
    """The streams that are down now, longest first."""

    list_filter = ("link__kind",)
    ordering = ("down_since",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(is_down=True)


@admin.register(CaptureAttempt)
class CaptureAttemptAdmin(_ReadOnly):
    list_display = ("link", "started_at", "ok", "seconds", "error")
    list_filter = ("ok",)
    search_fields = ("link__url", "link__station__name", "error")
    date_hierarchy = "started_at"
    list_select_related = ("link",)


@admin.register(StationCaptureState)
class StationCaptureStateAdmin(_ReadOnly):
    list_display = ("station", "next_due_at", "last_queued_at", "last_sample_at", "last_link")
    search_fields = ("station__name",)
    list_select_related = ("station", "last_link")


@admin.register(CaptureLease)
class CaptureLeaseAdmin(_ReadOnly):
    """Deleting a lease frees its station for another worker (the holder stops at renewal)."""

    list_display = ("station", "worker_id", "acquired_at", "expires_at")
    search_fields = ("station__name", "worker_id")
    list_select_related = ("station",)
