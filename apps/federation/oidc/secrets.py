"""Client secrets: random, 256 bits or more, stored as a keyed hash (docs/identity-provider.md,
"Client secrets").

A secret is `secrets.token_urlsafe(SECRET_BYTES)` (RFC 6749 10.10: credentials an attacker cannot
guess). It is stored as `hmac-sha256$<hex>` of HMAC-SHA-256 (RFC 2104) under
settings.OAUTH_CLIENT_SECRET_PEPPER, not as a password hash: a 256-bit random value needs no
stretching, and a fast keyed hash keeps the token endpoint from spending ~100 ms of CPU on each
attempt, right or wrong. A copy of the database alone, without the pepper, does not even allow an
offline comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

#: 48 random bytes: 384 bits, 64 URL-safe characters.
SECRET_BYTES = 48
PREFIX = "hmac-sha256$"


def generate() -> str:
    """A new client secret (shown once, never stored)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """What the client row stores for `secret`."""
    mac = hmac.new(settings.OAUTH_CLIENT_SECRET_PEPPER.encode(), secret.encode(), hashlib.sha256)
    return PREFIX + mac.hexdigest()


def matches(secret: str, stored: str) -> bool:
    """True when `secret` is the one `stored` was made from (constant-time comparison). A stored
    value of another shape (a public client's "") matches nothing."""
    if not stored.startswith(PREFIX) or not secret:
        return False
    return hmac.compare_digest(digest(secret), stored)
