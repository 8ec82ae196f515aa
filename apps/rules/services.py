"""The rules service's writes: one access decision (its audit row, and for an emergency opening the
follow-up row, in one transaction), and following up an emergency opening."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit import context
from apps.audit.models import AuditEvent
from apps.audit.services import AuditTarget, record
from apps.core.calls import service
from apps.core.errors import ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.rules import audit, facts, policies
from apps.rules.decision import AccessRequest, Verdict, evaluate, states_a_reason
from apps.rules.models import EmergencyOpening

#: The longest follow-up comment kept (characters).
COMMENT_MAX = 2000


@dataclasses.dataclass(frozen=True)
class Decision:
    """A decision as the caller gets it: `id` (its audit event, UTC `decided_at`) and the
    `verdict` (allowed, deciding rule, obligations)."""

    id: str
    decided_at: datetime
    verdict: Verdict

    @property
    def allowed(self) -> bool:
        return self.verdict.allowed


def _changes(actor: facts.AccessActor, request: AccessRequest, verdict: Verdict) -> dict:
    return {
        "system": actor.client_id,
        "system_label": actor.client_label,
        "rule": verdict.rule.code,
        "decision": "allow" if verdict.allowed else "deny",
        "activity": request.activity,
        "information_type": request.information_type,
        "purpose": request.purpose,
        "owner_provider": request.care_provider_hsa_id or "",
        "owner_unit": request.care_unit_hsa_id or "",
        "emergency": verdict.emergency,
        "obligations": [f"{o.id}={o.value}" if o.value else o.id for o in verdict.obligations],
        "block": str(verdict.block) if verdict.block else None,
    }


@service
def access_decide(*, actor: facts.AccessActor, request: AccessRequest) -> Decision:
    """Decide `request` for the staff member `actor` acts for (`decision.evaluate` over
    `facts.gather`), and log it: one audit event, allow or deny (`access.decided`, outcome success
    or failure), with the staff member as actor, the commission, the acting unit (its HSA-id and
    name, read with the commission: no extra statement) as organisation, the patient as subject,
    the emergency reason (stated, or the emergency access assertion's) as reason, and the owner,
    activity, rule and obligations as changes; an allowed emergency opening also gets its
    `EmergencyOpening` row. The allowed decisions are the reads in the patient's log extract
    (PDL 2008:355 8 kap. 3 §; HSLF-FS 2016:40 4 kap. 9 §). Never raises for what is asked: an
    unknown or malformed member is a deny. Raises Forbidden when the actor is not a
    system acting for its staff member (`policies.require_decision_caller`)."""
    policies.require_decision_caller(actor)
    found = facts.gather(request, actor)
    verdict = evaluate(request, found)
    commission = actor.commission
    ctx = dataclasses.replace(
        context.current(),
        commission_hsa_id=commission.commission_hsa_id if commission else None,
        organisation_hsa_id=commission.acting_hsa_id if commission else None)
    acting = (_Organisation(commission.acting_hsa_id, commission.acting_name)
              if commission and commission.acting_hsa_id else None)
    stated = request.emergency_reason.strip() if states_a_reason(request.emergency_reason) else ""
    reason = (stated or found.emergency_assertion_reason)[:2000] if verdict.emergency else ""
    target = AuditTarget(type=audit.ACCESS_TARGET, id=str(found.patient_id or ""),
                         label=f"{request.activity};{request.information_type}")
    with transaction.atomic(), context.using(ctx):
        event = record(
            actor=actor, action=audit.ACCESS_DECIDED.code, target=target,
            subject=_Subject(found.patient_id) if found.patient_id else None,
            changes=_changes(actor, request, verdict),
            reason=reason, organisation=acting,
            outcome=AuditEvent.Outcome.SUCCESS if verdict.allowed else AuditEvent.Outcome.FAILURE,
        )
        if verdict.emergency:
            assert commission is not None and found.patient_id and found.owner_provider_id
            EmergencyOpening.objects.create(
                decision_id=event.id, opened_at=event.occurred_at, patient_id=found.patient_id,
                commission_id=commission.commission_id,
                care_provider_id=commission.care_provider_id,
                care_unit_id=commission.care_unit_id,
                owner_provider_id=found.owner_provider_id, owner_unit_id=found.owner_unit_id,
                assertion_id=None if stated else found.emergency_assertion_id,
                activity=request.activity, information_type=request.information_type,
                reason=reason,
            )
    return Decision(id=str(event.id), decided_at=event.occurred_at, verdict=verdict)


@dataclasses.dataclass(frozen=True)
class _Organisation:
    """The acting care unit (or care provider) as the audit row's organisation: its HSA-id and
    name as `facts.acting_staff` read them, so that the patient's log extract names the unit."""

    hsa_id: str
    name: str

    def __str__(self) -> str:
        return self.name or self.hsa_id


@dataclasses.dataclass(frozen=True)
class _Subject:
    """The patient as the audit row's subject, by id (the label is not read for a decision: the
    patient's name stays out of a row that the patient's own id already names)."""

    id: object

    def __str__(self) -> str:
        return ""


@service
def emergency_review(*, actor: Actor, opening: EmergencyOpening, comment: str) -> EmergencyOpening:
    """Mark `opening` followed up with `comment` (stripped, 1..COMMENT_MAX characters), once.
    Raises NotFound outside the actor's scope (`policies.require_follow_up`), ValidationFailed
    (`field` "comment") for an empty or too long comment, and ValidationFailed
    (`emergency.already_reviewed`) when it was followed up before (also by someone at once: the
    row is locked)."""
    policies.require_follow_up(actor, opening)
    comment = comment.strip()
    if not comment:
        raise ValidationFailed(_("Write what the follow-up found."), code="emergency.comment",
                               field="comment")
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed(_("The comment can be at most 2,000 characters."),
                               code="emergency.comment_too_long", field="comment")
    with transaction.atomic():
        locked = EmergencyOpening.objects.select_for_update().get(pk=opening.pk)
        if locked.reviewed_at is not None:
            raise ValidationFailed(_("This emergency access has already been followed up."),
                                   code="emergency.already_reviewed")
        locked.reviewed_at = timezone.now()
        locked.reviewed_by_id = actor_id(actor)
        locked.reviewed_by_label = str(actor)[:200]
        locked.review_comment = comment
        locked.save(update_fields=["reviewed_at", "reviewed_by_id", "reviewed_by_label",
                                   "review_comment", "updated_at"])
        record(actor=actor, action=audit.EMERGENCY_REVIEWED.code, target=locked,
               subject=locked.patient, reason=comment, organisation=locked.care_unit
               or locked.care_provider)
    return locked
