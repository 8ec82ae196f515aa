"""Keys and self-signed certificates of the local test IdP, kept as PEM files in one directory.

Files (`key_dir`, default `var/testidp/`): `<name>-key.pem` (PKCS#8, mode 0600) and
`<name>-cert.pem` for each name in `KEY_NAMES`: one signing key per personality, `metadata` (signs
the IdP metadata only; the portal verifies metadata with `metadata-cert.pem`) and `untrusted` (a
key no metadata names, for the "signed by a foreign key" responses). RSA 2048 with SHA-256
(xmlsec1 signs and verifies RSA with every version in Debian), certificates valid 10 years: the
IdP is a development tool, its keys protect nothing.

A key and its certificate are written together under an exclusive lock (`fcntl.flock` on
`<key_dir>/.lock`), each file by write-then-rename, so two processes starting at once (the test
IdP and `testidp_init`, or parallel tests) end with one consistent pair.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from apps.core.files import write_atomically

PERSONALITY_NAMES = ("staff", "citizen")
KEY_NAMES = (*PERSONALITY_NAMES, "metadata", "untrusted")
VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class KeyPair:
    """The paths of one key (PEM, PKCS#8) and its self-signed certificate (PEM)."""

    key: Path
    cert: Path

    @property
    def cert_pem(self) -> str:
        return self.cert.read_text()

    @property
    def cert_base64(self) -> str:
        """The certificate's DER in base64 on one line, as ds:X509Certificate carries it."""
        lines = self.cert_pem.strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))

    @property
    def key_der(self) -> bytes:
        """The private key's DER bytes (a secret to derive per-IdP values from)."""
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def key_pair(key_dir: Path, name: str) -> KeyPair:
    """The paths of key `name` (one of `KEY_NAMES`) in `key_dir`, whether or not they exist."""
    if name not in KEY_NAMES:
        raise ValueError(f"Unknown test IdP key {name!r}; one of {', '.join(KEY_NAMES)}.")
    return KeyPair(key=key_dir / f"{name}-key.pem", cert=key_dir / f"{name}-cert.pem")


@contextlib.contextmanager
def _locked(key_dir: Path) -> Iterator[None]:
    with open(key_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _self_signed(name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Local test IdP (development only)"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"test IdP {name}"),
    ])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def ensure_keys(key_dir: Path) -> list[str]:
    """Create every missing key and certificate of `KEY_NAMES` in `key_dir` (made with mode 0700
    if absent). Returns the names created, [] when all existed (nothing is rewritten then). A key
    whose certificate is missing (or the reverse) is replaced as a pair."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    created: list[str] = []
    with _locked(key_dir):
        for name in KEY_NAMES:
            pair = key_pair(key_dir, name)
            if pair.key.exists() and pair.cert.exists():
                continue
            key_pem, cert_pem = _self_signed(name)
            write_atomically(pair.key, key_pem, 0o600)
            write_atomically(pair.cert, cert_pem, 0o644)
            created.append(name)
    return created
