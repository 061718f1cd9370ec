"""`make demo`: seed demo accounts on the embedded database and serve ZamIO."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from users.models import Role, StaffRole, User

DEMO_PASSWORD = "zamio-demo-2026"  # noqa: S105 - printed on purpose; demo data only

DEMO_ACCOUNTS = [
    ("admin@zamio.demo", Role.ADMIN, StaffRole.SUPERADMIN, "Ama Superadmin"),
    ("finance@zamio.demo", Role.ADMIN, StaffRole.FINANCE, "Kofi Finance"),
    ("support@zamio.demo", Role.ADMIN, StaffRole.SUPPORT, "Esi Support"),
    ("artist@zamio.demo", Role.ARTIST, "", "Kwame Highlife"),
    ("publisher@zamio.demo", Role.PUBLISHER, "", "Accra Songs Publishing"),
    ("station@zamio.demo", Role.STATION, "", "Demo FM 99.7"),
]


def seed_demo_accounts() -> list[User]:
    """Creates the demo accounts once; running it again changes nothing."""
    users = []
    with transaction.atomic():
        for email, role, staff_role, name in DEMO_ACCOUNTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email,
                    DEMO_PASSWORD,
                    role=role,
                    staff_role=staff_role,
                    full_name=name,
                    is_staff=role == Role.ADMIN,
                    is_superuser=staff_role == StaffRole.SUPERADMIN,
                    email_verified_at=timezone.now(),
                    phone="+233200000000",
                )
            users.append(user)
    return users


class Command(BaseCommand):
    help = "Seeds demo data on the embedded database and runs the ZamIO server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-serve", action="store_true", help="Seed and report, then exit instead of serving."
        )

    def handle(self, *args, host: str, port: int, no_serve: bool, **options):
        self.stdout.write(self.style.MIGRATE_HEADING("ZamIO demo"))
        users = seed_demo_accounts()
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for user in users:
            label = user.role + (f" / {user.staff_role}" if user.staff_role else "")
            self.stdout.write(f"  {user.email:<24} {label}")
        base = f"http://{host}:{port}"
        self.stdout.write("")
        self.stdout.write(f"  API docs      {base}/api/docs/")
        self.stdout.write(f"  Health        {base}/api/v1/health/")
        self.stdout.write(f"  Django admin  {base}/admin/")
        if no_serve:
            return
        self.stdout.write(self.style.SUCCESS(f"Serving on {base}/ (Ctrl-C to stop)"))
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(["-b", host, "-p", str(port), "zamio.asgi:application"])
