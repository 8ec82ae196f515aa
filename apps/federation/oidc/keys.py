"""The signing keys of ID tokens and access tokens: private keys in files outside the database
(settings.OIDC_KEY_DIR, folder 0700, files 0600), one current key per algorithm: `es256.pem`
(ECDSA P-256, RFC 7518 3.4) and `rs256.pem` (RSA 3072, RFC 7518 3.3). `manage.py
oidc_keys_init` creates the missing ones; `manage.py oidc_keys_rotate` replaces them.

Rotation (docs/identity-provider.md, "Signing keys"): the new key signs at once; the old key's
private half is deleted and its public half kept in `retired/<kid>.json` with the time it was
retired, so the JWKS (RFC 7517) still publishes it until every token it signed has expired
(`retention_seconds`). `prune` then deletes it. Every published key carries its RFC 7638
thumbprint as `kid`.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from jwcrypto import jwk

from apps.core.files import write_atomically

FILES = {"ES256": "es256.pem", "RS256": "rs256.pem"}
#: Leeway for verifiers' clocks (seconds) added to the retention of a retired key.
CLOCK_SKEW_SECONDS = 60


def _folder() -> Path:
    return Path(settings.OIDC_KEY_DIR)


def _path(algorithm: str) -> Path:
    return _folder() / FILES[algorithm]


def _retired_folder() -> Path:
    return _folder() / "retired"


def _new_private_pem(algorithm: str) -> bytes:
    key: Any = (ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256"
                else rsa.generate_private_key(public_exponent=65537, key_size=3072))
    return bytes(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def ensure() -> list[str]:
    """Create every missing key file (folder 0700, files 0600). Returns the algorithms whose key
    was created."""
    _folder().mkdir(parents=True, exist_ok=True, mode=0o700)
    created = []
    for algorithm in FILES:
        path = _path(algorithm)
        if path.exists():
            continue
        write_atomically(path, _new_private_pem(algorithm))
        created.append(algorithm)
    return created


@functools.lru_cache(maxsize=8)
def _load(path: str, modified: int, inode: int) -> jwk.JWK:
    return jwk.JWK.from_pem(Path(path).read_bytes())


def signing_key(algorithm: str) -> jwk.JWK:
    """The current private JWK for `algorithm` ("ES256" or "RS256"), read again when its file
    was replaced (each process notices a rotation at its next signature). Raises KeyError for
    another algorithm, OSError when the file is missing or unreadable."""
    path = _path(algorithm)
    status = path.stat()
    return _load(str(path), status.st_mtime_ns, status.st_ino)


def kid(key: jwk.JWK) -> str:
    """The key id: the RFC 7638 thumbprint (SHA-256) of the public key."""
    return str(key.thumbprint())


def _public(key: jwk.JWK, algorithm: str) -> dict[str, Any]:
    return {**key.export_public(as_dict=True), "kid": kid(key), "alg": algorithm, "use": "sig"}


def retention_seconds() -> int:
    """How long a retired key stays published (seconds): the longest lifetime of a token it may
    have signed (access token or ID token, settings.OAUTH2_PROVIDER) plus `CLOCK_SKEW_SECONDS`."""
    provider = settings.OAUTH2_PROVIDER
    return max(int(provider["ACCESS_TOKEN_EXPIRE_SECONDS"]),
               int(provider["ID_TOKEN_EXPIRE_SECONDS"])) + CLOCK_SKEW_SECONDS


def rotate(algorithm: str) -> tuple[str | None, str]:
    """Make a new key current for `algorithm`; the old one's public half is kept as retired
    (published until `retention_seconds` have passed) and its private half is gone. Returns
    (old kid or None when there was no key, new kid). Raises KeyError for another algorithm."""
    path = _path(algorithm)
    ensure()
    old = None
    if path.exists():
        previous = signing_key(algorithm)
        old = kid(previous)
        folder = _retired_folder()
        folder.mkdir(exist_ok=True, mode=0o700)
        record = {"retired_at": int(time.time()), "jwk": _public(previous, algorithm)}
        write_atomically(folder / f"{old}.json", json.dumps(record).encode())
    write_atomically(path, _new_private_pem(algorithm))
    return old, kid(signing_key(algorithm))


def _retired() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(_retired_folder().glob("*.json")):
        try:
            found.append((path, json.loads(path.read_bytes())))
        except (OSError, ValueError):
            continue
    return found


def prune(now: float | None = None) -> list[str]:
    """Delete the retired keys whose retention has passed at `now` (seconds since the epoch,
    default: the current time). Returns their kids."""
    moment = time.time() if now is None else now
    removed = []
    for path, record in _retired():
        if record["retired_at"] + retention_seconds() <= moment:
            path.unlink(missing_ok=True)
            removed.append(str(record["jwk"]["kid"]))
    return removed


def jwks() -> dict[str, list[dict[str, Any]]]:
    """The public JWK Set (RFC 7517 section 5): each current key, then each retired key still
    within its retention, with `kid`, `alg` and `use: sig`."""
    keys = []
    for algorithm in FILES:
        try:
            keys.append(_public(signing_key(algorithm), algorithm))
        except OSError:
            continue
    now = time.time()
    keys += [record["jwk"] for _, record in _retired()
             if record["retired_at"] + retention_seconds() > now]
    return {"keys": keys}
