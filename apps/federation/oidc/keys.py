"""The ID token signing keys: private keys in files outside the database (settings.OIDC_KEY_DIR,
mode 0600), one per algorithm: `es256.pem` (ECDSA P-256, RFC 7518 3.4) and `rs256.pem` (RSA 3072,
RFC 7518 3.3). `manage.py oidc_keys_init` creates the missing ones. The JWKS (RFC 7517) publishes
their public halves, each with its RFC 7638 thumbprint as `kid`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from jwcrypto import jwk

FILES = {"ES256": "es256.pem", "RS256": "rs256.pem"}


def _path(algorithm: str) -> Path:
    return Path(settings.OIDC_KEY_DIR) / FILES[algorithm]


def ensure() -> list[str]:
    """Create every missing key file (folder 0700, files 0600). Returns the algorithms whose key
    was created."""
    folder = Path(settings.OIDC_KEY_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = []
    for algorithm in FILES:
        path = _path(algorithm)
        if path.exists():
            continue
        key: Any = (ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256"
                    else rsa.generate_private_key(public_exponent=65537, key_size=3072))
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        created.append(algorithm)
    _load.cache_clear()
    return created


@functools.lru_cache(maxsize=8)
def _load(path: str, modified: float) -> jwk.JWK:
    return jwk.JWK.from_pem(Path(path).read_bytes())


def signing_key(algorithm: str) -> jwk.JWK:
    """The private JWK for `algorithm` ("ES256" or "RS256"), read again when its file changed.
    Raises KeyError for another algorithm, OSError when the file is missing or unreadable."""
    path = _path(algorithm)
    return _load(str(path), path.stat().st_mtime)


def kid(key: jwk.JWK) -> str:
    """The key id: the RFC 7638 thumbprint (SHA-256) of the public key."""
    return str(key.thumbprint())


def jwks() -> dict[str, list[dict[str, Any]]]:
    """The public JWK Set (RFC 7517 section 5): each present key with `kid`, `alg`, `use: sig`."""
    keys = []
    for algorithm in FILES:
        try:
            key = signing_key(algorithm)
        except OSError:
            continue
        public = key.export_public(as_dict=True)
        keys.append({**public, "kid": kid(key), "alg": algorithm, "use": "sig"})
    return {"keys": keys}
