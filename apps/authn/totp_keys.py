"""TOTP keys at rest: encrypted with keys kept outside the database.

A TOTP key (RFC 6238) is a shared secret: whoever reads it computes every future code. The database
holds only its Fernet token (the `cryptography` library: AES-128-CBC with HMAC-SHA256, encrypt then
MAC), made with the first key of `settings.PORTAL_TOTP_ENCRYPTION_KEYS`; every key in the setting
decrypts, so a new key is put first and the old one dropped after `manage.py totp_keys_rotate`
(docs/security.md, docs/configuration.md). A copy of the database alone computes no codes.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.PORTAL_TOTP_ENCRYPTION_KEYS])


def encrypt(key: bytes) -> str:
    """The Fernet token (URL-safe base64 text) of the binary TOTP `key`, under the first key."""
    return _fernet().encrypt(key).decode("ascii")


def decrypt(token: str) -> bytes:
    """The binary TOTP key in `token`. Raises `cryptography.fernet.InvalidToken` when no key of
    the setting made it or it was altered (an operator error: a key removed too early)."""
    return _fernet().decrypt(token.encode("ascii"))


def rotate(token: str) -> str:
    """`token` re-encrypted under the first key (the TOTP key itself is unchanged). Raises
    `InvalidToken` like `decrypt`."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")
