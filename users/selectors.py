from django.db.models import QuerySet

from users.models import AuditLog, Role, StaffRole, User
from zamio import statements

_USER_BY_ID = statements.CompiledInstance(User, lambda users, pk: users.filter(pk=pk))


def user_by_id(*, user_id: int) -> User | None:
    """The user with this id, every field loaded, or None (authentication reads it on
    every request, see users.authentication; compiled once, zamio.statements)."""
    return _USER_BY_ID.get(user_id)


def users_visible_to(*, user: User) -> QuerySet[User]:
    """Superadmins and support see every account; anybody else only themselves."""
    if user.role == Role.ADMIN and user.staff_role in (StaffRole.SUPERADMIN, StaffRole.SUPPORT):
        return User.objects.all().order_by("id")
    return User.objects.filter(pk=user.pk)


def audit_log_visible_to(*, user: User) -> QuerySet[AuditLog]:
    if user.role == Role.ADMIN and user.staff_role in (StaffRole.SUPERADMIN, StaffRole.SUPPORT):
        return AuditLog.objects.select_related("actor").all()
    return AuditLog.objects.none()
