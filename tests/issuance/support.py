"""Helpers for the e-ID tests: a device key with its CSR, a CA in a temporary folder, a code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.core.actors import MOBILE_APP, SYSTEM
from apps.identities.models import Person
from apps.issuance import authority, services
from apps.issuance.ca import IssuingCA


def use_temporary_ca(settings: Any, folder: Path) -> IssuingCA:
    """Point settings.ISSUANCE_CA_DIR at `folder`, create the CA and its OCSP responder there (as
    `manage.py issuance_ca_init` does) and return the CA."""
    settings.ISSUANCE_CA_DIR = folder
    authority.ca_ensure()
    ca = authority.ca_load()
    authority.ocsp_responder_ensure(ca)
    return ca


def device_csr(name: str = "Test phone") -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key "on the device" and its PEM CSR (ECDSA-SHA256), as the mobile app builds it."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def issue(person: Person) -> services.IssuedCode:
    """A code for `person`, issued by the system actor (no step-up or document needed)."""
    return services.activation_code_issue(actor=SYSTEM, person=person)


def redeem_qr(issued: services.IssuedCode, device: str = "Test phone") -> services.Activation:
    return services.activation_code_redeem(actor=MOBILE_APP, csr_pem=device_csr(device)[1],
                                           device_name=device, qr_payload=issued.qr_payload)
