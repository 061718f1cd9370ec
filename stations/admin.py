from django import forms
from django.contrib import admin, messages

from stations import compliance, services
from stations.models import (
    ComplianceDocument,
    Station,
    StationPlaylog,
    StationStaff,
    StreamLink,
)
from users.admin import AuditedAdminMixin
from zamio.errors import DomainError


def _run(modeladmin, request, queryset, action, **kwargs) -> None:
    """Calls one service per selected row, reporting refusals instead of failing the batch."""
    done = 0
    for obj in queryset:
        try:
            action(actor=request.user, **{modeladmin.service_arg: obj}, **kwargs)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", level=messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{done} updated.", level=messages.SUCCESS)


class StationStaffInline(admin.TabularInline):
    model = StationStaff
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)


class StreamLinkInline(admin.TabularInline):
    model = StreamLink
    extra = 0
    fields = ("url", "kind", "priority", "enabled")
    # Links are added and switched through the stream link admin (checked URLs, audit).
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Station)
class StationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    service_arg = "station"
    list_display = (
        "name",
        "call_sign",
        "frequency",
        "region",
        "station_class",
        "is_verified",
        "monitoring_enabled",
        "created_at",
    )
    list_filter = ("station_class", "is_verified", "monitoring_enabled", "region", "country")
    search_fields = ("name", "slug", "call_sign", "licence_number", "contact_email")
    prepopulated_fields = {"slug": ("name",)}
    # Verification and monitoring change only through the actions (the same services as
    # the API): they carry rules and audit rows of their own.
    readonly_fields = ("is_verified", "verified_at", "verified_by", "monitoring_enabled")
    inlines = [StationStaffInline, StreamLinkInline]
    actions = ["verify", "unverify", "enable_monitoring", "disable_monitoring"]

    @admin.action(description="Verify selected stations")
    def verify(self, request, queryset):
        _run(self, request, queryset, services.station_verify)

    @admin.action(description="Withdraw verification")
    def unverify(self, request, queryset):
        _run(self, request, queryset, services.station_unverify)

    @admin.action(description="Enable monitoring")
    def enable_monitoring(self, request, queryset):
        _run(self, request, queryset, services.station_set_monitoring, enabled=True)

    @admin.action(description="Disable monitoring")
    def disable_monitoring(self, request, queryset):
        _run(self, request, queryset, services.station_set_monitoring, enabled=False)


class StreamLinkForm(forms.ModelForm):
    class Meta:
        model = StreamLink
        fields = ("station", "url", "kind", "priority")

    def clean_url(self):
        try:
            return services._url_checked(self.cleaned_data["url"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(StreamLink)
class StreamLinkAdmin(AuditedAdminMixin, admin.ModelAdmin):
    service_arg = "link"
    form = StreamLinkForm
    list_display = ("station", "kind", "url", "priority", "enabled", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("url", "station__name", "station__slug")
    raw_id_fields = ("station",)
    readonly_fields = ("enabled", "created_by")
    actions = ["enable", "disable"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Enable selected links")
    def enable(self, request, queryset):
        _run(self, request, queryset, services.stream_link_set_enabled, enabled=True)

    @admin.action(description="Disable selected links")
    def disable(self, request, queryset):
        _run(self, request, queryset, services.stream_link_set_enabled, enabled=False)


@admin.register(StationPlaylog)
class StationPlaylogAdmin(admin.ModelAdmin):
    """What a station uploaded and why rows were refused; entries come only from uploads."""

    list_display = (
        "id",
        "station",
        "original_name",
        "file_format",
        "rows_total",
        "rows_accepted",
        "rows_rejected",
        "created_at",
    )
    list_filter = ("file_format",)
    search_fields = ("original_name", "station__name")
    list_select_related = ("station",)
    raw_id_fields = ("station", "uploaded_by")
    readonly_fields = tuple(f.name for f in StationPlaylog._meta.fields)

    def has_add_permission(self, request):
        return False


@admin.register(ComplianceDocument)
class ComplianceDocumentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Reviewed through the actions (the same service as the API); the file itself is
    served only by the authorised download endpoint."""

    list_display = ("station", "document_type", "period", "status", "original_name", "created_at")
    list_filter = ("status", "document_type")
    search_fields = ("station__name", "original_name")
    date_hierarchy = "period"
    list_select_related = ("station",)
    raw_id_fields = ("station", "uploaded_by", "reviewed_by")
    readonly_fields = tuple(f.name for f in ComplianceDocument._meta.fields)
    actions = ["accept"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Accept selected documents")
    def accept(self, request, queryset):
        done = 0
        for document_id in queryset.values_list("pk", flat=True):
            try:
                compliance.compliance_document_review(
                    actor=request.user, document_id=document_id, status="accepted"
                )
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{document_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} document(s) accepted.")
