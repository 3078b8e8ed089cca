from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Member libraries and accounts"

    def ready(self):
        # The sign-in guard counts failures and remembers places from the auth signals.
        from . import sign_in  # noqa: F401
