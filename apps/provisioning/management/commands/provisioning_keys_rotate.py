"""`manage.py provisioning_keys_rotate`: re-encrypt every downstream system's stored credentials
with the first key of PORTAL_PROVISIONING_CREDENTIAL_KEYS, so the older keys can be removed from
the setting afterwards (docs/configuration.md)."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.core.actors import SYSTEM
from apps.provisioning.services import downstream_system_credentials_rotate


class Command(BaseCommand):
    help = ("Re-encrypt every downstream system's credentials with the first key of "
            "PORTAL_PROVISIONING_CREDENTIAL_KEYS. Run it after putting a new key first; then "
            "remove the old one.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = downstream_system_credentials_rotate(actor=SYSTEM)
        self.stdout.write(f"Re-encrypted the credentials of {count} downstream systems with the "
                          "first key of PORTAL_PROVISIONING_CREDENTIAL_KEYS; the older keys can "
                          "now be removed.")
