"""Signals of the commissions app, for the apps above it (no layer imports upward).

`entitlement_ended` is sent inside the transaction of the change that ended a person's staff
entitlement: their last active commission or role ended, or their login account was deactivated.
Receivers end what the entitlement entitled (activation codes, e-IDs on deactivation) as services
with the same `actor`, so the change and its consequences commit or roll back together.

Arguments: `actor` (who ended it), `person`, `reason` (text for the audit rows) and
`revoke_eids` (True on account deactivation: e-IDs are revoked too; on a last commission ending
they are only offered for revocation).

`commission_ended` is sent inside the transaction that ended one commission (`actor`,
`commission`, `reason`); receivers (apps.federation) end what it carried.
"""

from django.dispatch import Signal

entitlement_ended = Signal()
commission_ended = Signal()
