from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from users import auth_audit

        auth_audit.connect()
