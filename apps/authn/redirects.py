"""Where a page may send the browser next: the one rule for every `next` the portal follows."""

from __future__ import annotations

from urllib.parse import urlsplit

#: A longer `next` is not followed.
MAX_NEXT_LENGTH = 2000


def safe_next(value: str | None) -> str:
    """`value` when it is a same-site relative path (`/...`, not `//host` nor `/\\host`, no scheme,
    no host, no control characters, at most MAX_NEXT_LENGTH characters); else "/". No open
    redirect (OWASP ASVS 5.0 V3.7: the portal redirects only within itself)."""
    value = value or ""
    parts = urlsplit(value)
    if (not value.startswith("/") or value.startswith("//") or "\\" in value
            or parts.scheme or parts.netloc or any(ord(c) < 32 or ord(c) == 127 for c in value)
            or len(value) > MAX_NEXT_LENGTH):
        return "/"
    return value
