"""The challenge the mobile e-ID app signs to approve an out-of-band login (UTF-8, fields joined
by "|"): "EIDAUTH1|<reference>|<origin>|<number>|<nonce>". The origin binds the approval to this
portal, the number to the browser showing it (NIST SP 800-63B 5.2.10 and 5.1.3.2), the nonce to
this request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from apps.issuance import rules

if TYPE_CHECKING:
    from apps.issuance.models import OutOfBandRequest


def challenge(req: OutOfBandRequest, origin: str | None = None) -> bytes:
    """The bytes the app signs for `req`; `origin` is `settings.PORTAL_BASE_URL` unless given."""
    origin = settings.PORTAL_BASE_URL if origin is None else origin
    return "|".join([rules.OOB_CHALLENGE_PREFIX, req.reference, origin, req.number,
                     req.nonce]).encode()
