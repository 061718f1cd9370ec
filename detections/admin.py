from django.contrib import admin, messages

from detections import disputes, services
from detections.models import (
    DetectionHealthDaily,
    Dispute,
    DisputeEntry,
    DisputeEvidence,
    MatchCache,
    PlayDaily,
    PlayLog,
    PlayOverride,
    StationUpload,
    VerificationStatus,
)
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


class DisputeEntryInline(admin.TabularInline):
    model = DisputeEntry
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "author", "from_status", "to_status", "body"]
    readonly_fields = fields
    raw_id_fields = ["author"]

    def has_add_permission(self, request, obj=None):
        return False


class DisputeEvidenceInline(admin.TabularInline):
    """Names and hashes only: the files are served by the API to parties and staff."""

    model = DisputeEvidence
    extra = 0
    can_delete = False
    fields = ["created_at", "original_name", "content_type", "size_bytes", "sha256", "uploaded_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Dispute)
class DisputeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Disputes move only through their services (the actions below and the API)."""

    list_display = [
        "id",
        "play",
        "dispute_type",
        "status",
        "opened_by",
        "opened_as",
        "assigned_to",
        "outcome",
        "play_verdict",
        "created_at",
    ]
    list_filter = ["status", "dispute_type", "outcome", "opened_as"]
    search_fields = ["description", "play__track__title", "play__station__name", "opened_by__email"]
    date_hierarchy = "created_at"
    list_select_related = ["play", "opened_by", "assigned_to"]
    raw_id_fields = ["play", "opened_by", "assigned_to", "resolved_by"]
    readonly_fields = [f.name for f in Dispute._meta.fields]
    inlines = [DisputeEntryInline, DisputeEvidenceInline]
    actions = ["start_review"]

    def has_add_permission(self, request):
        return False  # opened through the API, where the opener's stake is checked

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Start review (assign to me)")
    def start_review(self, request, queryset):
        done = 0
        for dispute_id in queryset.values_list("pk", flat=True):
            try:
                disputes.dispute_review_start(actor=request.user, dispute_id=dispute_id)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"Dispute {dispute_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} dispute(s) under review.")


@admin.register(PlayOverride)
class PlayOverrideAdmin(admin.ModelAdmin):
    list_display = ["id", "play", "dispute", "actor", "created_at", "reason"]
    search_fields = ["reason", "play__track__title"]
    raw_id_fields = ["play", "dispute", "actor"]
    readonly_fields = [f.name for f in PlayOverride._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PlayDaily)
class PlayDailyAdmin(admin.ModelAdmin):
    """Maintained by the play services; read-only (manage.py rollups_rebuild recounts)."""

    list_display = ["day", "station", "track", "plays", "airtime_seconds"]
    list_filter = ["station"]
    date_hierarchy = "day"
    list_select_related = ["station", "track"]
    search_fields = ["track__title", "station__name"]
    readonly_fields = [f.name for f in PlayDaily._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DetectionHealthDaily)
class DetectionHealthDailyAdmin(admin.ModelAdmin):
    list_display = ["day", "station", "windows", "matched", "low_confidence", "failed"]
    list_filter = ["station"]
    date_hierarchy = "day"
    list_select_related = ["station"]
    readonly_fields = [f.name for f in DetectionHealthDaily._meta.fields]

    def has_add_permission(self, request):
        return False
