from django.apps import AppConfig


class FederationConfig(AppConfig):
    """Federated login: the portal as a SAML2 service provider (djangosaml2 on pysaml2)."""

    name = "apps.federation"
    label = "federation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.federation import audit, checks, saml  # noqa: F401  (registers actions, checks)

        saml.install_key_cache()
