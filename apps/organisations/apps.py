from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "apps.organisations"
    label = "organisations"

    def ready(self) -> None:
        from apps.organisations import audit  # noqa: F401
