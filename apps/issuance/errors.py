"""Errors of activation-code redemption, with stable codes (the API's problem `code`).

| code | HTTP | meaning |
|---|---|---|
| `code_invalid` | 400 | no such code/person, a wrong secret / short form (a failed try), a typed dead code |
| `code_expired` | 410 | older than 10 minutes |
| `code_ended` | 410 | replaced by a newer code, or cancelled (the message says why) |
| `code_used` | 409 | already redeemed (also the loser of two concurrent redemptions) |
| `code_dead` | 403 | 5 failed tries (QR form); ask for a new code (after the failure window) |
| `not_entitled` | 403 | the person is no longer staff or the account is deactivated; the code is ended |
| `too_many_eids` | 409 | the person already has 3 active mobile e-IDs |
| `csr_invalid` | 400 | the CSR is not a P-256 PKCS#10 request with a valid signature |
| `ca_unavailable` | 503 | the issuing CA files are missing or unusable (operator error) |
"""

from __future__ import annotations

from apps.core.errors import Conflict, Forbidden, PortalError, ValidationFailed


class CodeInvalid(ValidationFailed):
    default_code = "code_invalid"


class CodeGone(PortalError):
    """Expired or ended (HTTP 410 Gone)."""

    status = 410
    default_code = "code_expired"


class CodeUsed(Conflict):
    default_code = "code_used"


class CodeDead(Forbidden):
    default_code = "code_dead"


class TooManyEIDs(Conflict):
    default_code = "too_many_eids"


class CAUnavailable(PortalError):
    status = 503
    default_code = "ca_unavailable"


class NotEntitled(Forbidden):
    """The person lost the entitlement (no active commission or account) since the code was issued."""

    default_code = "not_entitled"
