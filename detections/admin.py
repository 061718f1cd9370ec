from django.contrib import admin, messages

from detections import services
from detections.models import MatchCache, PlayLog, StationUpload, VerificationStatus
from users.admin import AuditedAdminMixin
from zamio.errors import DomainError


@admin.register(PlayLog)
class PlayLogAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Plays are money: numbers are read-only here (the tracker writes them); staff decide
    verification through the actions, which call the same service as the API."""

    list_display = [
        "id",
        "station",
        "track",
        "started_at",
        "duration_seconds",
        "avg_confidence",
        "window_count",
        "source",
        "is_open",
        "verification_status",
        "royalty_status",
        "payment_status",
        "royalty_bearing",
    ]
    list_filter = [
        "verification_status",
        "royalty_status",
        "payment_status",
        "source",
        "royalty_bearing",
        "is_open",
        "station",
    ]
    search_fields = ["track__title", "track__primary_artist__stage_name", "station__name"]
    date_hierarchy = "started_at"
    list_select_related = ["station", "track"]
    raw_id_fields = ["station", "track", "reviewed_by"]
    readonly_fields = [f.name for f in PlayLog._meta.fields if f.name != "review_note"]
    actions = ["mark_verified", "mark_rejected", "mark_disputed"]

    def has_add_permission(self, request):
        return False  # plays come from audio, never from a form

    def has_delete_permission(self, request, obj=None):
        return False

    def _review(self, request, queryset, status: str) -> None:
        done = 0
        for play_id in queryset.values_list("pk", flat=True):
            try:
                services.play_review(actor=request.user, play_id=play_id, status=status)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"Play {play_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} play(s) marked {status}.")

    @admin.action(description="Mark verified")
    def mark_verified(self, request, queryset):
        self._review(request, queryset, VerificationStatus.VERIFIED)

    @admin.action(description="Mark rejected")
    def mark_rejected(self, request, queryset):
        self._review(request, queryset, VerificationStatus.REJECTED)

    @admin.action(description="Mark disputed")
    def mark_disputed(self, request, queryset):
        self._review(request, queryset, VerificationStatus.DISPUTED)


@admin.register(MatchCache)
class MatchCacheAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "station",
        "captured_at",
        "window_seconds",
        "source",
        "track",
        "confidence",
        "match_count",
        "status",
        "play",
        "analysed_ms",
    ]
    list_filter = ["status", "source", "station"]
    search_fields = ["window_key", "track__title", "station__name"]
    date_hierarchy = "captured_at"
    list_select_related = ["station", "track"]
    raw_id_fields = ["station", "track", "play"]
    readonly_fields = [f.name for f in MatchCache._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(StationUpload)
class StationUploadAdmin(admin.ModelAdmin):
    list_display = ["id", "station", "chunk_id", "captured_at", "seconds", "status", "created_at"]
    list_filter = ["status", "station"]
    search_fields = ["chunk_id", "station__name"]
    raw_id_fields = ["station", "uploaded_by"]
    readonly_fields = [f.name for f in StationUpload._meta.fields]

    def has_add_permission(self, request):
        return False
