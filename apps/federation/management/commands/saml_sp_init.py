"""Create the SAML SP's signing key and self-signed certificate when missing (development and
first deployment); prints nothing when they exist."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.management.base import BaseCommand


def write_key_pair(key_path: Path, cert_path: Path, common_name: str) -> None:
    """A 3072-bit RSA key (NIST SP 800-57: 128-bit security) and a self-signed certificate valid
    for 10 years; SAML metadata pins the certificate itself, not a CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class Command(BaseCommand):
    help = "Create the SAML SP key and certificate (SAML_SP_KEY_FILE, SAML_SP_CERT_FILE) if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        key, cert = Path(settings.SAML_SP_KEY_FILE), Path(settings.SAML_SP_CERT_FILE)
        if key.exists() and cert.exists():
            return
        write_key_pair(key, cert, "IAM portal SAML SP")
        self.stdout.write(f"Created the SAML SP key and certificate in {key.parent}.")
