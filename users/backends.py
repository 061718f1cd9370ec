"""Django admin permissions by staff role, decided in one place.

Superadmins are Django superusers and may do anything. Support and finance staff see
every model in the admin; each may add and change only in the apps of its duties.
Nobody but a superadmin deletes (money and audit records are append-only, and removals
go through services).
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.backends import BaseBackend

from users.models import Role, StaffRole

EDITABLE_APPS = {
    StaffRole.SUPPORT: {
        "artists",
        "tracks",
        "stations",
        "stream_capture",
        "detections",
        "notifications",
    },
    StaffRole.FINANCE: {"royalties", "wallets"},
}


def _role_permissions(staff_role: str) -> frozenset[str]:
    perms = set()
    editable = EDITABLE_APPS.get(staff_role, set())
    for model in apps.get_models():
        label, name = model._meta.app_label, model._meta.model_name
        perms.add(f"{label}.view_{name}")
        if label in editable:
            perms.update({f"{label}.add_{name}", f"{label}.change_{name}"})
    return frozenset(perms)


class StaffRoleBackend(BaseBackend):
    """Grants support and finance staff the admin permissions of their role (no login)."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not (
            user_obj.is_active
            and user_obj.is_authenticated
            and getattr(user_obj, "role", None) == Role.ADMIN
            and user_obj.staff_role in EDITABLE_APPS
        ):
            return set()
        if not hasattr(user_obj, "_staff_role_perm_cache"):
            user_obj._staff_role_perm_cache = _role_permissions(user_obj.staff_role)
        return set(user_obj._staff_role_perm_cache)

    def has_perm(self, user_obj, perm, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label) -> bool:
        prefix = f"{app_label}."
        return any(p.startswith(prefix) for p in self.get_all_permissions(user_obj))
