"""Signals of the issuance app, for the apps above it (no layer imports upward).

`eid_revoked` is sent inside the transaction that revoked a mobile e-ID (`services.eid_revoke`,
after it locked the person, then the e-ID): `actor` who revoked it, `eid` the revoked
`MobileEID`, `reason` the revocation's reason. Receivers (apps.federation) end what the e-ID
entitled, the login sessions it logged in or stepped up and their tokens, in the same
transaction (docs/identity-provider.md, "Revocation").
"""

from django.dispatch import Signal

eid_revoked = Signal()
