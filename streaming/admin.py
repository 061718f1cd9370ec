from django.contrib import admin

from streaming.models import PlayEvent, TrackLike


@admin.register(PlayEvent)
class PlayEventAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "track",
        "listener_key",
        "seconds_listened",
        "outcome",
        "counted",
        "is_replay",
        "device",
        "country",
        "region",
    )
    list_filter = ("outcome", "counted", "is_replay", "device", "country")
    search_fields = ("listener_key", "track__title", "region")
    raw_id_fields = ("track", "user")
    date_hierarchy = "started_at"
    # Plays are evidence for charts: staff look, nobody edits them by hand.
    readonly_fields = [f.name for f in PlayEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TrackLike)
class TrackLikeAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "track")
    search_fields = ("user__email", "track__title")
    raw_id_fields = ("user", "track")
