"""The challenges the mobile e-ID app signs to answer an out-of-band login (UTF-8, fields joined
by "|"). The first field names the answer and the format's version, so a signature for one answer
is never accepted as the other (domain separation):

- approval, `rules.OOB_CHALLENGE_PREFIX`: "EIDAUTH1|<reference>|<origin>|<number>|<nonce>" with
  the number the person typed. The origin binds the approval to this portal, the number to the
  browser showing it (NIST SP 800-63B 5.2.10 and 5.1.3.2), the nonce to this request.
- denial, `rules.OOB_DENIAL_PREFIX`: "EIDDENY1|<reference>|<origin>|<nonce>": no number, since a
  person saying no to a login they did not start has no browser showing one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from apps.issuance import rules

if TYPE_CHECKING:
    from apps.issuance.models import OutOfBandRequest


def challenge(req: OutOfBandRequest, origin: str | None = None,
              number: str | None = None) -> bytes:
    """The bytes the app signs to approve `req`; `origin` is `settings.PORTAL_BASE_URL` and
    `number` the request's own number unless given (the app signs the number the person
    typed)."""
    origin = settings.PORTAL_BASE_URL if origin is None else origin
    number = req.number if number is None else number
    return "|".join([rules.OOB_CHALLENGE_PREFIX, req.reference, origin, number,
                     req.nonce]).encode()


def denial_challenge(req: OutOfBandRequest, origin: str | None = None) -> bytes:
    """The bytes the app signs to deny `req`; `origin` is `settings.PORTAL_BASE_URL` unless
    given."""
    origin = settings.PORTAL_BASE_URL if origin is None else origin
    return "|".join([rules.OOB_DENIAL_PREFIX, req.reference, origin, req.nonce]).encode()
