"""Activation code secrets: generation, the two presentation forms, normalisation and hashing.

An activation code (aktiveringskod) has two secrets, both shown once and never stored:

- the QR secret: 128 random bits (`secrets.token_urlsafe(16)`, 22 characters). The QR code carries
  `EIDACT1.<code id, 32 hex>.<secret>`; the code id only locates the row, the secret proves
  possession. NIST SP 800-63B 5.1.1.2 asks at least 112 bits for a look-up secret.
- the short typed form: 8 characters of Crockford's base32 (40 bits), shown as `XXXX-XXXX`. It is
  accepted only together with the person's identifier (personnummer), and its hash is bound to the
  person, so it means nothing for anybody else. The portal asks at least 40 bits
  (docs/decisions.md); 5 tries per code (and per person over 24 hours, see apps.issuance.rules)
  keep the chance of a guess at 5 / 2**40.

Hashes are HMAC-SHA256 keyed from `settings.SECRET_KEY` (`django.utils.crypto.salted_hmac` with a
purpose salt), so a copy of the database alone cannot brute-force the 40-bit short form; comparison
uses `hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from django.utils.crypto import salted_hmac

#: Crockford's base32 alphabet (no I, L, O, U): https://www.crockford.com/base32.html
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Characters of the short form: 8 x 5 bits = 40 bits.
SHORT_CODE_LENGTH = 8
#: Random bytes of the QR secret: 16 bytes = 128 bits.
SECRET_BYTES = 16
QR_PREFIX = "EIDACT1"

_QR_RE = re.compile(rf"{QR_PREFIX}\.(?P<id>[0-9a-f]{{32}})\.(?P<secret>[A-Za-z0-9_-]{{20,64}})")
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_QR_SALT = "apps.issuance.codes.qr-secret"
_SHORT_SALT = "apps.issuance.codes.short-code"


@dataclass(frozen=True)
class CodeSecrets:
    """The plaintext secrets of a new code: `qr_secret` (22 chars) and `short_code` (8 chars)."""

    qr_secret: str
    short_code: str

    def qr_payload(self, code_id: uuid.UUID) -> str:
        """The text the QR code carries: `EIDACT1.<code id hex>.<qr secret>`."""
        return qr_payload(code_id, self.qr_secret)

    @property
    def short_code_display(self) -> str:
        """The short form as people type it: `XXXX-XXXX`."""
        return format_short_code(self.short_code)


def new_secrets() -> CodeSecrets:
    """Fresh random secrets from the operating system's CSPRNG (`secrets`)."""
    short = "".join(secrets.choice(CROCKFORD) for _ in range(SHORT_CODE_LENGTH))
    return CodeSecrets(qr_secret=secrets.token_urlsafe(SECRET_BYTES), short_code=short)


def qr_payload(code_id: uuid.UUID, secret: str) -> str:
    return f"{QR_PREFIX}.{code_id.hex}.{secret}"


def parse_qr_payload(text: str) -> tuple[uuid.UUID, str] | None:
    """`(code id, secret)` from a QR payload, or None when the text is not one."""
    match = _QR_RE.fullmatch(text.strip())
    if match is None:
        return None
    return uuid.UUID(hex=match["id"]), match["secret"]


def format_short_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_short_code(text: str) -> str | None:
    """The 8 canonical characters of a typed short form, or None when it cannot be one.

    Case, spaces and hyphens are ignored; O reads as 0, I and L as 1 (Crockford's decoding rules).
    """
    cleaned = re.sub(r"[\s-]", "", text).upper().translate(_CROCKFORD_ALIASES)
    if len(cleaned) != SHORT_CODE_LENGTH or any(ch not in CROCKFORD for ch in cleaned):
        return None
    return cleaned


def hash_qr_secret(secret: str) -> str:
    """HMAC-SHA256 of the QR secret keyed from SECRET_KEY: 64 hex characters."""
    return salted_hmac(_QR_SALT, secret, algorithm="sha256").hexdigest()


def hash_short_code(person_id: uuid.UUID, short_code: str) -> str:
    """HMAC-SHA256 of the person id and the normalised short form: 64 hex characters."""
    return salted_hmac(_SHORT_SALT, f"{person_id.hex}:{short_code}", algorithm="sha256").hexdigest()


def hashes_match(stored: str, candidate: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii"))
