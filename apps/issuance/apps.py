from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "apps.issuance"
    label = "issuance"

    def ready(self) -> None:
        from django.core.checks import register

        from apps.commissions.signals import entitlement_ended
        from apps.issuance import audit  # noqa: F401  (registers the audit action codes)
        from apps.issuance.checks import ca_key_permissions
        from apps.issuance.events import EID_TOPICS
        from apps.issuance.handlers import eid_owner_notify
        from apps.issuance.receivers import end_issued_credentials
        from apps.outbox import registry as outbox

        register(ca_key_permissions)
        entitlement_ended.connect(end_issued_credentials, dispatch_uid="issuance.end_credentials")
        for topic in EID_TOPICS:
            outbox.register(topic, eid_owner_notify)
