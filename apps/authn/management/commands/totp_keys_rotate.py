"""`manage.py totp_keys_rotate`: re-encrypt every stored TOTP key with the first key of
PORTAL_TOTP_ENCRYPTION_KEYS, so the older keys can be removed from the setting afterwards."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.authn.services import totp_keys_rotate
from apps.core.actors import SYSTEM


class Command(BaseCommand):
    help = ("Re-encrypt every stored TOTP key with the first key of PORTAL_TOTP_ENCRYPTION_KEYS "
            "(the codes do not change). Run it after putting a new key first; then remove the old one.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = totp_keys_rotate(actor=SYSTEM)
        self.stdout.write(f"Re-encrypted {count} TOTP keys with the first key of "
                          "PORTAL_TOTP_ENCRYPTION_KEYS; the older keys can now be removed.")
