"""`manage.py oidc_keys_init`: create the missing ID token signing keys (apps.federation.oidc.keys)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.federation.oidc import keys


class Command(BaseCommand):
    help = "Create the missing OpenID Connect signing keys (ES256, RS256) in PORTAL_OIDC_KEY_DIR."

    def handle(self, *args: Any, **options: Any) -> None:
        created = keys.ensure()
        folder = settings.OIDC_KEY_DIR
        if created:
            self.stdout.write(f"Created {', '.join(created)} signing keys in {folder}.")
        else:
            self.stdout.write(f"Signing keys present in {folder}.")
