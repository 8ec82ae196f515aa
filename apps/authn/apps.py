from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "apps.authn"
    label = "authn"

    def ready(self) -> None:
        from apps.authn import (
            audit,  # noqa: F401  (registers action codes)
            checks,  # noqa: F401  (registers system checks)
            receivers,
        )
        from apps.identities.signals import sessions_ended

        sessions_ended.connect(receivers.sessions_ended, dispatch_uid="authn-sessions-ended")
