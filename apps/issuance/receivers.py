"""What the issuance app does when another app's change ends a person's entitlement."""

from __future__ import annotations

from typing import Any

from apps.identities.actors import Actor
from apps.identities.models import Person
from apps.issuance import services
from apps.issuance.models import MobileEID


def end_issued_credentials(sender: Any, *, actor: Actor, person: Person, reason: str,
                           cause: str, revoke_eids: bool, **kwargs: Any) -> None:
    """`commissions.signals.entitlement_ended`: end the person's open activation codes (saying
    what ended them: `cause`) and, with
    `revoke_eids` (account deactivated), revoke their active mobile e-IDs, as `actor`, in the
    transaction of the change (each a service with its own policy and audit event)."""
    services.activation_codes_end(actor=actor, person=person, cause=cause)
    if revoke_eids:
        for eid in MobileEID.objects.filter(person=person, status=MobileEID.Status.ACTIVE):
            services.eid_revoke(actor=actor, eid=eid, reason=reason)
