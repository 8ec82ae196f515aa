from django.apps import AppConfig


class BlocksConfig(AppConfig):
    name = "apps.blocks"
    label = "blocks"
    verbose_name = "Blocks"

    def ready(self) -> None:
        from apps.blocks import audit  # noqa: F401  (registers action codes)
