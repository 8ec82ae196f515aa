"""Signals of the commissions app, for the apps above it (no layer imports upward).

`entitlement_ended` is sent inside the transaction of the change that ended a person's staff
entitlement: their last active commission or role ended, or their login account was deactivated.
Receivers end what the entitlement entitled (activation codes, e-IDs on deactivation) as services
with the same `actor`, so the change and its consequences commit or roll back together.

Arguments: `actor` (who ended it), `person`, `reason` (text for the audit rows), `cause` (what
ended it: one of the `CAUSE_*` below, so what the receivers end says why) and `revoke_eids` (True
on account deactivation: e-IDs are revoked too; on a last commission ending they are only offered
for revocation).

`commission_ended` is sent inside the transaction that ended one commission (`actor`,
`commission`, `reason`); receivers (apps.federation) end what it carried.
"""

from django.dispatch import Signal

#: The person's last active commission or role ended.
CAUSE_ENTITLEMENT_ENDED = "entitlement_ended"
#: The person's login account was deactivated.
CAUSE_ACCOUNT_DEACTIVATED = "account_deactivated"
#: The person was made a leaver (`services.person_leave`, or a planned leaver carried out).
CAUSE_LEAVER = "leaver"

entitlement_ended = Signal()
commission_ended = Signal()
