from django.apps import AppConfig


class ConsentsConfig(AppConfig):
    name = "apps.consents"
    label = "consents"
    verbose_name = "Consents and emergency access"

    def ready(self) -> None:
        from apps.consents import audit  # noqa: F401  (registers action codes)
