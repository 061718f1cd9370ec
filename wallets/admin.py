"""Ledger rows are read-only here (append-only: corrections are reversing entries);
withdrawal decisions go through the same services as the API."""

from django.contrib import admin, messages
from django.db.models import QuerySet

from users.admin import AuditedAdminMixin
from wallets import services
from wallets.models import (
    Account,
    JournalEntry,
    PayoutCallback,
    Posting,
    ReconciliationRun,
    SandboxTransfer,
    Withdrawal,
    WithdrawalStatus,
)
from zamio.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "name", "display_balance", "currency", "may_go_negative")
    list_filter = ("kind", "normal_side", "may_go_negative")
    search_fields = ("code", "name", "user__email")


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ("account", "amount", "balance_after", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "memo", "reference_type", "reference_id", "reverses")
    list_filter = ("reference_type",)
    search_fields = ("idempotency_key", "memo", "reference_id")
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "account", "amount", "balance_after", "entry")
    list_filter = ("account__kind",)
    search_fields = ("account__code", "entry__memo", "entry__idempotency_key")
    list_select_related = ("account", "entry")


@admin.register(Withdrawal)
class WithdrawalAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "amount",
        "currency",
        "network",
        "status",
        "provider",
        "provider_status",
        "failure_reason",
    )
    list_filter = ("status", "provider", "network", "requires_approval", "failure_reason")
    search_fields = ("user__email", "msisdn", "reference_id", "provider_transaction_id")
    list_select_related = ("user",)
    actions = ["approve_selected", "recheck_selected"]

    def _run(self, request, queryset: QuerySet, action, label: str) -> None:
        done, refused = 0, []
        for withdrawal in queryset:
            try:
                action(actor=request.user, withdrawal_id=withdrawal.pk)
                done += 1
            except DomainError as exc:
                refused.append(f"#{withdrawal.pk}: {exc.message}")
        if done:
            self.message_user(request, f"{label}: {done} withdrawal(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Approve selected withdrawals (finance)")
    def approve_selected(self, request, queryset):
        self._run(
            request,
            queryset.filter(status=WithdrawalStatus.REQUESTED),
            services.withdrawal_approve,
            "Approved",
        )

    @admin.action(description="Ask the provider again about selected withdrawals")
    def recheck_selected(self, request, queryset):
        self._run(request, queryset, services.withdrawal_recheck, "Rechecked")


@admin.register(PayoutCallback)
class PayoutCallbackAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "provider",
        "reference_id",
        "claimed_status",
        "outcome",
        "remote_ip",
    )
    list_filter = ("provider", "outcome", "claimed_status")
    search_fields = ("reference_id",)


@admin.register(SandboxTransfer)
class SandboxTransferAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "reference_id",
        "msisdn",
        "amount",
        "currency",
        "status",
        "reason",
    )
    list_filter = ("status",)
    search_fields = ("reference_id", "msisdn")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "finished_at",
        "accounts_checked",
        "withdrawals_checked",
        "is_clean",
    )
