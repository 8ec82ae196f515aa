from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        import portal.checks  # noqa: F401  (registers the start-up checks)
