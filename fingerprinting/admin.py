from django.contrib import admin

from fingerprinting.models import TrackFingerprint


@admin.register(TrackFingerprint)
class TrackFingerprintAdmin(admin.ModelAdmin):
    list_display = (
        "track",
        "version",
        "hash_count",
        "duration_seconds",
        "elapsed_ms",
        "updated_at",
    )
    list_filter = ("version",)
    search_fields = ("track__title", "track__isrc")
    raw_id_fields = ("track",)
    exclude = ("data",)
    readonly_fields = (
        "track",
        "version",
        "hash_count",
        "duration_seconds",
        "source_hash",
        "elapsed_ms",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False
