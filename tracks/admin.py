from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils.html import format_html

from artists.admin import ReasonActionForm, run_for_each
from tracks import services
from tracks.models import Contributor, SplitVersion, Track, TrackImport, TrackSplit
from users.admin import AuditedAdminMixin
from zamio.errors import ValidationFailed


class TrackAdminForm(forms.ModelForm):
    """Admin edits pass the same identifier checks as the API."""

    class Meta:
        model = Track
        fields = [
            "title",
            "primary_artist",
            "featured_artists",
            "album",
            "genre",
            "release_date",
            "isrc",
            "iswc",
            "explicit",
            "cover",
        ]

    def _normalised(self, name, normalise):
        try:
            return normalise(self.cleaned_data.get(name, ""))
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.details[name][0]) from None

    def clean_isrc(self):
        return self._normalised("isrc", services.isrc_normalise)

    def clean_iswc(self):
        return self._normalised("iswc", services.iswc_normalise)


@admin.register(Track)
class TrackAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = TrackAdminForm
    list_display = (
        "title",
        "primary_artist",
        "isrc",
        "status",
        "fingerprint_status",
        "genre",
        "duration_seconds",
        "created_at",
    )
    list_filter = ("status", "fingerprint_status", "genre", "explicit")
    search_fields = ("title", "isrc", "iswc", "primary_artist__stage_name", "album")
    raw_id_fields = ("primary_artist", "featured_artists", "created_by", "reviewed_by")

    def save_model(self, request, obj, form, change):
        """A new primary artist takes the track's counted plays with it (the artist
        summaries of the analytics), in the same transaction."""
        from detections.analytics import track_artist_restate

        with transaction.atomic():
            was = None
            if change:  # locked first: play changes of the track finish before the update
                was = (
                    Track.objects.select_for_update()
                    .filter(pk=obj.pk)
                    .values_list("primary_artist_id", flat=True)
                    .first()
                )
            super().save_model(request, obj, form, change)
            if was is not None:
                track_artist_restate(
                    track_id=obj.pk, from_artist_id=was, to_artist_id=obj.primary_artist_id
                )

    # Audio and review state change only through the services (probe, duplicates, audit).
    readonly_fields = (
        "audio_file",
        "audio_hash",
        "audio_format",
        "audio_codec",
        "audio_size",
        "duration_seconds",
        "status",
        "rejection_reason",
        "submitted_at",
        "reviewed_by",
        "reviewed_at",
        "fingerprint_status",
        "fingerprint_error",
        "created_by",
    )
    exclude = ("audio",)
    action_form = ReasonActionForm
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False  # uploads go through the API, which probes and de-duplicates them

    @admin.display(description="Audio")
    def audio_file(self, obj):
        # Masters have no storage URL; staff download them through the authorised endpoint.
        if not obj.audio:
            return "—"
        return format_html('<a href="/api/v1/tracks/{}/audio/">download</a>', obj.pk)

    @admin.action(description="Approve the selected submitted tracks")
    def approve(self, request, queryset):
        run_for_each(
            self,
            request,
            queryset,
            lambda track: services.track_approve(actor=request.user, track=track),
            "approved",
        )

    @admin.action(description="Reject the selected submitted tracks (reason required)")
    def reject(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_for_each(
            self,
            request,
            queryset,
            lambda track: services.track_reject(actor=request.user, track=track, reason=reason),
            "rejected",
        )


class TrackSplitInline(admin.TabularInline):
    model = TrackSplit
    extra = 0
    can_delete = False
    readonly_fields = ("contributor", "role", "basis_points")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SplitVersion)
class SplitVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: royalties already calculated depend on them."""

    list_display = ("track", "number", "effective_from", "total_bp", "created_by")
    search_fields = ("track__title", "track__isrc")
    inlines = [TrackSplitInline]
    readonly_fields = ("track", "number", "effective_from", "total_bp", "note", "created_by")
    exclude = ("split_sheet",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Contributor)
class ContributorAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "artist", "publisher", "ipi")
    list_filter = ("kind",)
    search_fields = ("name", "ipi", "artist__stage_name", "publisher__name")
    raw_id_fields = ("artist", "publisher")


@admin.register(TrackImport)
class TrackImportAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_by",
        "status",
        "processed_rows",
        "total_rows",
        "created_count",
        "duplicate_count",
        "rejected_count",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("created_by__email",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
