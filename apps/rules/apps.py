from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "apps.rules"
    label = "rules"
    verbose_name = "Rules service"

    def ready(self) -> None:
        from apps.rules import audit  # noqa: F401  (registers action codes)
