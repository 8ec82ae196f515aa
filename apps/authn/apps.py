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
        from apps.authn.account import ACCOUNT_TOPICS
        from apps.authn.handlers import account_owner_notify
        from apps.identities.signals import sessions_ended
        from apps.outbox import registry as outbox

        sessions_ended.connect(receivers.sessions_ended, dispatch_uid="authn-sessions-ended")
        for topic in ACCOUNT_TOPICS:
            outbox.register(topic, account_owner_notify)
