from django.apps import AppConfig


class FederationConfig(AppConfig):
    """Federated login: the portal as a SAML2 service provider (djangosaml2 on pysaml2)."""

    name = "apps.federation"
    label = "federation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.authn.signals import session_ended
        from apps.commissions.signals import commission_ended
        from apps.federation import audit, checks, receivers, saml  # noqa: F401  (registers actions, checks)
        from apps.identities.signals import sessions_ended
        from apps.issuance.signals import eid_revoked

        saml.install_key_cache()
        session_ended.connect(receivers.session_ended, dispatch_uid="federation-session-ended")
        sessions_ended.connect(receivers.sessions_ended, dispatch_uid="federation-sessions-ended")
        commission_ended.connect(receivers.commission_ended,
                                 dispatch_uid="federation-commission-ended")
        eid_revoked.connect(receivers.eid_revoked, dispatch_uid="federation-eid-revoked")
