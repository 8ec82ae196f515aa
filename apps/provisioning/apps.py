from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "apps.provisioning"
    label = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        from apps.identities.changes import PERSON_CHANGED
        from apps.outbox import registry as outbox
        from apps.provisioning import audit  # noqa: F401  (registers action codes)
        from apps.provisioning.events import person_changed_handle

        outbox.register(PERSON_CHANGED, person_changed_handle)
