from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "apps.issuance"
    label = "issuance"

    def ready(self) -> None:
        from apps.issuance import audit  # noqa: F401  (registers the audit action codes)
