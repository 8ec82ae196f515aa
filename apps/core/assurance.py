"""Proof that a person re-entered a second factor just now (step-up), as a value, not a boolean.

Only the authentication code mints a `StepUpProof` (`apps.authn.services.step_up_verify`, after a
second factor was verified); a service that needs a fresh step-up takes the proof and calls
`check_step_up`, which verifies its MAC (HMAC-SHA256 keyed from SECRET_KEY), that it belongs to the
acting user and that it is at most `STEP_UP_MAX_AGE_SECONDS` old. A view cannot pass `True`, and a
proof cannot be moved to another user or kept for later. Each proof carries a random `nonce`; the
action it authorises stores the nonce under a unique constraint in the same transaction, so one
proof authorises one action even when a session sends the same request many times at once. (NIST SP
800-63B 4.2.3 / OWASP ASVS 2.0 V6.8: re-authentication before a sensitive action.)
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from apps.core import loa as levels
from apps.core.errors import Forbidden

#: A step-up is fresh for 5 minutes.
STEP_UP_MAX_AGE_SECONDS = 300
_SALT = "apps.core.assurance.StepUpProof"


@dataclass(frozen=True)
class StepUpProof:
    """`user_id` authenticated again by `method` (RFC 8176 name, e.g. "otp", or "saml" for a
    ForceAuthn login at an IdP) at level of assurance `loa` (a framework URI, `apps.core.loa`) at
    `verified_at` (epoch seconds, UTC); `nonce` (32 hex characters) names this proof, so the action
    it authorises can record that it was spent; `mac` binds the five."""

    user_id: uuid.UUID
    method: str
    loa: str
    verified_at: int
    nonce: str
    mac: str

    def as_session(self) -> dict[str, object]:
        """A JSON-able form for the session (`from_session` reads it back)."""
        return {"user_id": str(self.user_id), "method": self.method, "loa": self.loa,
                "verified_at": self.verified_at, "nonce": self.nonce, "mac": self.mac}

    @classmethod
    def from_session(cls, value: object) -> StepUpProof | None:
        """The proof stored by `as_session`, or None for anything else."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(user_id=uuid.UUID(str(value["user_id"])), method=str(value["method"]),
                       loa=str(value["loa"]), verified_at=int(value["verified_at"]),
                       nonce=str(value["nonce"]), mac=str(value["mac"]))
        except (KeyError, TypeError, ValueError):
            return None


def _mac(user_id: uuid.UUID, method: str, loa: str, verified_at: int, nonce: str) -> str:
    return salted_hmac(_SALT, f"{user_id}:{method}:{loa}:{verified_at}:{nonce}",
                       algorithm="sha256").hexdigest()


def mint_step_up(user_id: uuid.UUID, method: str, *, loa: str,
                 now: float | None = None) -> StepUpProof:
    """A proof that `user_id` just authenticated again by `method` at level `loa`. Call only
    after verifying it."""
    at = int(now if now is not None else time.time())
    nonce = secrets.token_hex(16)
    return StepUpProof(user_id=user_id, method=method, loa=loa, verified_at=at, nonce=nonce,
                       mac=_mac(user_id, method, loa, at, nonce))


def is_fresh(proof: StepUpProof | None, user_id: uuid.UUID, *, now: float | None = None,
             min_loa: str | None = None) -> bool:
    """True when `proof` is genuine, belongs to `user_id`, is at most STEP_UP_MAX_AGE_SECONDS old
    and, when `min_loa` is given, was made at that level or a stronger one."""
    if proof is None or proof.user_id != user_id:
        return False
    if not hmac.compare_digest(proof.mac, _mac(proof.user_id, proof.method, proof.loa,
                                               proof.verified_at, proof.nonce)):
        return False
    if min_loa and not levels.satisfies(proof.loa, min_loa):
        return False
    age = (now if now is not None else time.time()) - proof.verified_at
    return 0 <= age <= STEP_UP_MAX_AGE_SECONDS


def check_step_up(proof: StepUpProof | None, user_id: uuid.UUID, *,
                  min_loa: str | None = None) -> None:
    """Raise Forbidden (`step_up_required`) unless `is_fresh(proof, user_id, min_loa=min_loa)`."""
    if not is_fresh(proof, user_id, min_loa=min_loa):
        raise Forbidden(_("Confirm it is you first (log in again with your e-ID)."),
                        code="step_up_required")
