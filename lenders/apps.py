from django.apps import AppConfig


class LendersConfig(AppConfig):
    name = "lenders"
    verbose_name = "Lender directory"
