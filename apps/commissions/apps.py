from django.apps import AppConfig


class CommissionsConfig(AppConfig):
    name = "apps.commissions"
    label = "commissions"

    def ready(self) -> None:
        from apps.commissions import audit  # noqa: F401
