from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import transaction
from django.forms.models import model_to_dict

from users.models import AuditLog, User
from users.services import audit_record


class AuditedAdminMixin:
    """Writes an audit row, with before/after values, for every admin save and delete."""

    audited_fields: tuple[str, ...] | None = None

    def _snapshot(self, obj) -> dict:
        if obj is None or obj.pk is None:
            return {}
        data = model_to_dict(obj, fields=self.audited_fields)
        return {k: v for k, v in data.items() if k != "password"}

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = self._snapshot(type(obj).objects.filter(pk=obj.pk).first()) if change else {}
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action=f"admin.{'change' if change else 'add'}",
                target=obj,
                before=before,
                after=self._snapshot(obj),
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            before = self._snapshot(obj)
            target_type, target_id = obj._meta.label_lower, obj.pk
            super().delete_model(request, obj)
            audit_record(
                actor=request.user,
                action="admin.delete",
                target_type=target_type,
                target_id=target_id,
                before=before,
            )


class StaffUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "role", "staff_role")


class StaffUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin):
    add_form = StaffUserCreationForm
    form = StaffUserChangeForm
    audited_fields = (
        "email",
        "full_name",
        "phone",
        "role",
        "staff_role",
        "is_active",
        "is_staff",
        "is_superuser",
    )
    ordering = ("email",)
    list_display = ("email", "full_name", "role", "staff_role", "is_active", "email_verified_at")
    list_filter = ("role", "staff_role", "is_active")
    search_fields = ("email", "full_name", "phone")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "phone", "otp_login_enabled")}),
        ("Access", {"fields": ("role", "staff_role", "is_active", "is_staff", "is_superuser")}),
        ("Verification", {"fields": ("email_verified_at", "phone_verified_at")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "role",
                    "staff_role",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    filter_horizontal = ()


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor_email", "target_type", "target_id", "ip")
    list_filter = ("action", "target_type")
    search_fields = ("actor_email", "target_id", "trace_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
