"""`manage.py issuance_ca_init`: creates the CA once (key mode 0600), then keeps it; creates the
delegated OCSP responder beside it and renews it when it is due."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command

from apps.issuance import authority
from apps.issuance.ca import ensure_ocsp_responder


def test_creates_then_keeps_the_ca(settings: Any, tmp_path: Path) -> None:
    settings.ISSUANCE_CA_DIR = tmp_path / "ca"
    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert "Created issuing CA" in out.getvalue()
    paths = authority.ca_paths()
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
    first = paths.cert.read_bytes()

    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert "Kept the existing issuing CA" in out.getvalue()
    assert paths.cert.read_bytes() == first

    paths.key.chmod(0o644)
    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600 and "Fixed the CA key" in out.getvalue()


def test_creates_keeps_and_renews_the_ocsp_responder(settings: Any, tmp_path: Path) -> None:
    settings.ISSUANCE_CA_DIR = tmp_path / "ca"
    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert "Created a new OCSP responder certificate" in out.getvalue()
    responder = authority.ocsp_paths()
    assert responder.key.parent == authority.ca_paths().key.parent
    assert stat.S_IMODE(responder.key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(responder.cert.read_bytes())
    cert.verify_directly_issued_by(authority.ca_load().cert)

    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert "Kept the current OCSP responder" in out.getvalue()
    assert responder.cert.read_bytes() == cert.public_bytes(serialization.Encoding.PEM)

    # A responder certificate that ends within 10 days is renewed (a new key too).
    responder.cert.unlink()
    ensure_ocsp_responder(responder, authority.ca_load(), validity_seconds=5 * 86400,
                          renew_before_seconds=1)
    old_key = responder.key.read_bytes()
    responder.key.chmod(0o640)
    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert "Created a new OCSP responder certificate" in out.getvalue()
    assert responder.key.read_bytes() != old_key
    assert stat.S_IMODE(responder.key.stat().st_mode) == 0o600
