"""Role-aware permission classes. Object-level access is decided by each resource's selector."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from users.models import Role, StaffRole


def _authenticated(request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.is_active)


class IsAuthenticatedUser(BasePermission):
    def has_permission(self, request, view) -> bool:
        return _authenticated(request)


class AllowAnyone(BasePermission):
    """For the few public endpoints: registration, login, health, password reset."""

    def has_permission(self, request, view) -> bool:
        return True


def has_role(*roles: str) -> type[BasePermission]:
    """A permission class admitting users whose role is one of `roles`."""

    class _HasRole(BasePermission):
        message = "Your account type cannot use this endpoint."

        def has_permission(self, request, view) -> bool:
            return _authenticated(request) and request.user.role in roles

    _HasRole.__name__ = "HasRole_" + "_".join(roles)
    return _HasRole


def has_staff_role(*staff_roles: str) -> type[BasePermission]:
    """Admits admin users whose staff role is one of `staff_roles` (superadmin always)."""
    allowed = set(staff_roles) | {StaffRole.SUPERADMIN}

    class _HasStaffRole(BasePermission):
        message = "Your staff role cannot use this endpoint."

        def has_permission(self, request, view) -> bool:
            user = request.user
            return (
                _authenticated(request) and user.role == Role.ADMIN and user.staff_role in allowed
            )

    _HasStaffRole.__name__ = "HasStaffRole_" + "_".join(sorted(allowed))
    return _HasStaffRole


IsArtist = has_role(Role.ARTIST)
IsPublisher = has_role(Role.PUBLISHER)
IsStation = has_role(Role.STATION)
IsStaff = has_role(Role.ADMIN)
IsSuperadmin = has_staff_role(StaffRole.SUPERADMIN)
IsSupportStaff = has_staff_role(StaffRole.SUPPORT)
IsFinanceStaff = has_staff_role(StaffRole.FINANCE)


def is_staff_user(user) -> bool:
    return bool(user and user.is_authenticated and user.role == Role.ADMIN)
