"""Permission primitives shared by every app. Role-aware classes live in users.permissions."""

from rest_framework.permissions import BasePermission


class DenyAll(BasePermission):
    """The default: an endpoint that does not name who may use it serves nobody."""

    def has_permission(self, request, view) -> bool:
        return False
