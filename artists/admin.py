from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.utils.html import format_html

from artists import services
from artists.models import (
    Artist,
    KycDocument,
    KycSubmission,
    PayoutDetails,
    Publisher,
    PublisherArtistRelationship,
    RelationshipStatusChange,
)
from users.admin import AuditedAdminMixin
from zamio.errors import DomainError


class ReasonActionForm(ActionForm):
    reason = forms.CharField(
        required=False, label="Reason", help_text="Required to reject, suspend or terminate."
    )


def run_for_each(modeladmin, request, queryset, action, done: str) -> None:
    """Calls the same service as the API for each selected row, reporting refusals."""
    succeeded = 0
    for obj in queryset:
        try:
            action(obj)
            succeeded += 1
        except DomainError as refused:
            modeladmin.message_user(request, f"{obj}: {refused.message}", level=messages.ERROR)
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {done}.", level=messages.SUCCESS)


@admin.register(Artist)
class ArtistAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "stage_name",
        "user",
        "country",
        "pro_affiliation",
        "ipi_number",
        "self_published",
        "created_at",
    )
    list_filter = ("country", "pro_affiliation", "self_published")
    search_fields = ("stage_name", "legal_name", "ipi_number", "user__email")
    readonly_fields = ("self_published", "created_at", "updated_at")
    raw_id_fields = ("user",)


@admin.register(Publisher)
class PublisherAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "user", "country", "pro_affiliation", "ipi_number", "created_at")
    list_filter = ("country", "pro_affiliation")
    search_fields = ("name", "ipi_number", "company_registration_number", "user__email")
    raw_id_fields = ("user",)


class RelationshipStatusChangeInline(admin.TabularInline):
    model = RelationshipStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("status", "at", "actor")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PublisherArtistRelationship)
class PublisherArtistRelationshipAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("publisher", "artist", "kind", "status", "share_bp", "start_date", "end_date")
    list_filter = ("status", "kind")
    search_fields = ("publisher__name", "artist__stage_name")
    # Status moves only through the services, so its history stays complete.
    readonly_fields = ("status", "proposed_by", "proposed_by_user", "status_reason")
    raw_id_fields = ("publisher", "artist")
    inlines = [RelationshipStatusChangeInline]
    action_form = ReasonActionForm
    actions = ["suspend", "reinstate", "terminate"]

    def has_add_permission(self, request):
        return False  # a deal is proposed by one side and accepted by the other

    @admin.action(description="Suspend the selected deals (reason required)")
    def suspend(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_for_each(
            self,
            request,
            queryset,
            lambda rel: services.relationship_suspend(
                actor=request.user, relationship=rel, reason=reason
            ),
            "suspended",
        )

    @admin.action(description="Reinstate the selected suspended deals")
    def reinstate(self, request, queryset):
        run_for_each(
            self,
            request,
            queryset,
            lambda rel: services.relationship_reinstate(actor=request.user, relationship=rel),
            "reinstated",
        )

    @admin.action(description="Terminate the selected deals (reason required)")
    def terminate(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_for_each(
            self,
            request,
            queryset,
            lambda rel: services.relationship_terminate(
                actor=request.user, relationship=rel, reason=reason
            ),
            "terminated",
        )


class KycDocumentInline(admin.TabularInline):
    model = KycDocument
    extra = 0
    can_delete = False
    fields = ("kind", "content_type", "size", "download")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="File")
    def download(self, obj):
        # Through the authorised endpoint (session auth works for staff), never a storage URL.
        return format_html('<a href="/api/v1/kyc/documents/{}/file/">download</a>', obj.pk)


@admin.register(KycSubmission)
class KycSubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "id_type", "status", "created_at", "decided_by", "decided_at")
    list_filter = ("status", "id_type")
    search_fields = ("user__email", "id_number", "tax_id")
    readonly_fields = (
        "user",
        "id_type",
        "id_number",
        "tax_id",
        "status",
        "rejection_reason",
        "decided_by",
        "decided_at",
        "created_at",
    )
    inlines = [KycDocumentInline]
    action_form = ReasonActionForm
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Approve the selected KYC submissions")
    def approve(self, request, queryset):
        run_for_each(
            self,
            request,
            queryset,
            lambda sub: services.kyc_approve(actor=request.user, submission=sub),
            "approved",
        )

    @admin.action(description="Reject the selected KYC submissions (reason required)")
    def reject(self, request, queryset):
        reason = request.POST.get("reason", "")
        run_for_each(
            self,
            request,
            queryset,
            lambda sub: services.kyc_reject(actor=request.user, submission=sub, reason=reason),
            "rejected",
        )


@admin.register(PayoutDetails)
class PayoutDetailsAdmin(admin.ModelAdmin):
    """Read-only: a payout number changes only by its owner, with an SMS code."""

    list_display = ("user", "network", "msisdn", "changed_at")
    list_filter = ("network",)
    search_fields = ("user__email", "msisdn")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
