"""`manage.py audit_seal_key_init [--rotate]`: create the audit log's sealing key where missing
(apps.audit.integrity), or replace it keeping the old public key (docs/audit-log.md, "Keys")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.audit import integrity


class Command(BaseCommand):
    help = ("Create the Ed25519 key that signs the audit log's seals in PORTAL_AUDIT_SEAL_KEY_FILE "
            "unless it exists; --rotate replaces it (its public key is kept for verification).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rotate", action="store_true",
                            help="sign later seals with a new key; older seals keep verifying")

    def handle(self, *args: Any, rotate: bool, **options: Any) -> None:
        try:
            self._handle(rotate)
        except integrity.SealKeyError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"{exc.filename} cannot be written ({exc.strerror}): check the "
                               "folders of PORTAL_AUDIT_SEAL_KEY_FILE and "
                               "PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR.") from exc

    def _handle(self, rotate: bool) -> None:
        path = settings.PORTAL_AUDIT_SEAL_KEY_FILE
        if rotate:
            old, new = integrity.seal_key_rotate()
            self.stdout.write(f"Audit seal key {new} created in {path}"
                              + (f"; {old} retired (public key kept)." if old else "."))
            return
        kid, created = integrity.seal_key_init()
        self.stdout.write(f"Audit seal key {kid} {'created in' if created else 'present in'} "
                          f"{path}.")
