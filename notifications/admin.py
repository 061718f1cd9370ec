from django.contrib import admin, messages

from notifications import services
from notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    NotificationPreference,
)
from zamio.errors import DomainError


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("channel", "recipient", "status", "attempts", "sent_at", "last_error")
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "priority", "title", "read_at")
    list_filter = ("kind", "priority", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "title")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")
    inlines = [DeliveryInline]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "email", "sms", "websocket", "updated_at")
    list_filter = ("kind", "email", "sms", "websocket")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "finished_at", "succeeded", "status_code", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "notification",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("channel", "status")
    search_fields = ("recipient", "notification__user__email", "provider_message_id")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["retry_failed"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry the selected failed deliveries")
    def retry_failed(self, request, queryset):
        retried = 0
        for delivery in queryset.filter(status=DeliveryStatus.FAILED):
            try:
                services.delivery_retry(delivery=delivery)
            except DomainError as exc:
                self.message_user(request, f"{delivery}: {exc.message}", messages.WARNING)
            else:
                retried += 1
        self.message_user(request, f"{retried} deliveries queued again.", messages.SUCCESS)
