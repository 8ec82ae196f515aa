"""`manage.py testidp_init`: create the local test IdP's keys and certificates if missing.

Idempotent and quiet: prints only what it created (`make run` calls it each time). Refused unless
debug is on, like `manage.py testidp`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo.management.commands.testidp import REFUSAL, enabled
from apps.testidp.keys import ensure_keys


class Command(BaseCommand):
    help = ("Create the test IdP's signing keys (one per personality), its metadata signing key and "
            "certificates in TESTIDP_KEY_DIR unless they exist.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not enabled():
            raise CommandError(REFUSAL)
        key_dir = settings.TESTIDP_KEY_DIR
        created = ensure_keys(key_dir)
        if created:
            self.stdout.write(f"Created the test IdP keys {', '.join(created)} in {key_dir}; "
                              f"its metadata verifies with {key_dir / 'metadata-cert.pem'}")
