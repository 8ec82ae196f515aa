"""Revoking mobile e-IDs: by the owner, an issuer, or when the account is deactivated."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.core.calls import service
from apps.core.db import atomic_with_retry
from apps.core.errors import Conflict, ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.identities.models import Person
from apps.issuance import audit, policies, revocation, rules, signals
from apps.issuance.events import eid_event_publish
from apps.issuance.models import MobileEID


@service
def eid_revoke(*, actor: Actor, eid: MobileEID, reason: str) -> MobileEID:
    """Revoke a mobile e-ID: the CRL and OCSP say so from the next fetch on (the CRL endpoint
    serves a new CRL from the commit on: `apps.issuance.revocation.crl_after_revocation`).

    Allowed for the owner, an issuer or local administrator in scope of the owner and the operator
    (`policies.require_revoke_eid`). `reason` is 1-500 characters. Records who, when and why (the
    revocation record of the reference architecture), audits `eid.revoked` and publishes it
    to the outbox, which e-mails the person after the commit. Sends `signals.eid_revoked` in the
    same transaction: the login sessions the e-ID logged in or stepped up end, with their OIDC
    tokens (apps.federation.receivers). Locks the person, then the e-ID, then those sessions
    (docs/architecture.md, "Lock order"); a transaction that loses a lock race runs again
    (apps.core.db.atomic_with_retry).

    Raises NotFound (not the actor's to revoke), ValidationFailed (`reason.required`,
    `reason.too_long`), Conflict (`eid.already_revoked`), `apps.core.db.Busy`.
    """
    policies.require_revoke_eid(actor, eid)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give a reason for the revocation."), code="reason.required",
                               field="reason")
    if len(reason) > rules.MAX_REASON_LENGTH:
        raise ValidationFailed(_("Keep the reason under 500 characters."), code="reason.too_long",
                               field="reason")
    now = timezone.now()

    def attempt() -> MobileEID:
        Person.objects.select_for_update().filter(pk=eid.person_id).first()
        locked = MobileEID.objects.select_for_update().select_related("person").get(pk=eid.pk)
        if locked.status == MobileEID.Status.REVOKED:
            raise Conflict(_("This e-ID is already revoked."), code="eid.already_revoked")
        locked.status = MobileEID.Status.REVOKED
        locked.revoked_at = now
        locked.revoked_by_id = actor_id(actor)
        locked.revoked_by_label = str(actor)[:200]
        locked.revocation_reason = reason
        locked.save(update_fields=["status", "revoked_at", "revoked_by_id", "revoked_by_label",
                                   "revocation_reason", "updated_at"])
        record(actor=actor, action=audit.EID_REVOKED.code, target=locked, subject=locked.person,
               changes={"status": [MobileEID.Status.ACTIVE, MobileEID.Status.REVOKED],
                        "serial": [locked.serial, locked.serial]},
               reason=reason)
        eid_event_publish(locked, "revoked")
        signals.eid_revoked.send(sender=MobileEID, actor=actor, eid=locked, reason=reason)
        revocation.crl_after_revocation()
        return locked

    return atomic_with_retry(attempt)
