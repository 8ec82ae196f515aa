from django.apps import AppConfig


class IdentitiesConfig(AppConfig):
    name = "apps.identities"
    label = "identities"

    def ready(self) -> None:
        from apps.identities import audit  # noqa: F401  (registers action codes)
