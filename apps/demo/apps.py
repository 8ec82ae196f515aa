from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Synthetic demo data for development (`make run`); built through the services, so audited."""

    name = "apps.demo"
    label = "demo"
