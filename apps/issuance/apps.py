from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "apps.issuance"
    label = "issuance"

    def ready(self) -> None:
        from apps.commissions.signals import entitlement_ended
        from apps.issuance import audit  # noqa: F401  (registers the audit action codes)
        from apps.issuance.receivers import end_issued_credentials

        entitlement_ended.connect(end_issued_credentials, dispatch_uid="issuance.end_credentials")
