"""Downstream systems' credentials at rest: encrypted with keys kept outside the database.

A downstream system's bearer token or OAuth2 client secret lets whoever reads it write to that
system. The database holds only a Fernet token of the credentials (a JSON object), made with the
first key of `settings.PORTAL_PROVISIONING_CREDENTIAL_KEYS`; every key in the setting decrypts, so
a new key is put first and the old one dropped once every row is re-encrypted. A copy of the
database alone reveals no credential (docs/provisioning.md, "Credentials").
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.PORTAL_PROVISIONING_CREDENTIAL_KEYS])


def encrypt(credentials: dict[str, Any]) -> str:
    """The Fernet token (URL-safe base64 text) of `credentials`, a JSON object such as
    `{"token": "..."}` (bearer, RFC 6750) or `{"token_url": ..., "client_id": ..., "client_secret":
    ..., "scope": ...}` (OAuth2 client credentials, RFC 6749 §4.4), under the first key."""
    return _fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode("ascii")


def decrypt(token: str) -> dict[str, Any]:
    """The credentials in `token`. Raises `cryptography.fernet.InvalidToken` when no key of the
    setting made it or it was altered (an operator error: a key removed too early)."""
    value: dict[str, Any] = json.loads(_fernet().decrypt(token.encode("ascii")))
    return value


def rotate(token: str) -> str:
    """`token` re-encrypted under the first key. Raises `InvalidToken` like `decrypt`."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")
