"""`manage.py issuance_ca_init`: create the issuing CA if missing, and its delegated OCSP responder
if missing or due for renewal."""

from __future__ import annotations

import stat
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.issuance import authority
from apps.issuance.ca import CAError, fingerprint_sha256


class Command(BaseCommand):
    help = (
        "Create the issuing CA key (mode 0600) and certificate in settings.ISSUANCE_CA_DIR unless "
        "they exist, and the delegated OCSP responder's key (mode 0600) and certificate beside "
        "them unless a current one exists (renewed within 10 days of its end). Idempotent: an "
        "existing CA is kept and checked."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = authority.ca_paths()
        try:
            created = authority.ca_ensure()
            ca = authority.ca_load()
            renewed = authority.ocsp_responder_ensure(ca)
            responder = authority.ocsp_responder_load(ca, timezone.now())
        except CAError as exc:
            raise CommandError(f"{exc.message} [{exc.code}]") from exc
        for what, key in (("CA", paths.key), ("OCSP responder", authority.ocsp_paths().key)):
            mode = stat.S_IMODE(key.stat().st_mode)
            if mode != 0o600:
                key.chmod(0o600)
                self.stdout.write(f"Fixed the {what} key's file mode: {oct(mode)} -> 0o600")
        verb = "Created" if created else "Kept the existing"
        self.stdout.write(f"{verb} issuing CA: {ca.cert.subject.rfc4514_string()}")
        self.stdout.write(f"  key:         {paths.key} (mode 0600)")
        self.stdout.write(f"  certificate: {paths.cert}")
        self.stdout.write(f"  valid until: {ca.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        self.stdout.write(f"  SHA-256:     {fingerprint_sha256(ca.cert)}")
        verb = "Created a new" if renewed else "Kept the current"
        self.stdout.write(f"{verb} OCSP responder certificate (delegated, id-kp-OCSPSigning)")
        self.stdout.write(f"  key:         {authority.ocsp_paths().key} (mode 0600)")
        self.stdout.write(f"  certificate: {authority.ocsp_paths().cert}")
        self.stdout.write(f"  valid until: {responder.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
