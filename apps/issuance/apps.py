from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "apps.issuance"
    label = "issuance"

    def ready(self) -> None:
        from apps.commissions.signals import entitlement_ended
        from apps.issuance import audit  # noqa: F401  (registers the audit action codes)
        from apps.issuance.handlers import eid_owner_notify
        from apps.issuance.receivers import end_issued_credentials
        from apps.issuance.services.notify import EID_TOPICS
        from apps.outbox import registry as outbox

        entitlement_ended.connect(end_issued_credentials, dispatch_uid="issuance.end_credentials")
        for topic in EID_TOPICS:
            outbox.register(topic, eid_owner_notify)
