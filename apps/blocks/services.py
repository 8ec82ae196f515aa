"""Writes of blocks and temporary revokes; each audited in the same transaction.

Every event has the patient as `subject` (it shows in the patient's log extract, PDL 2008:355
8 kap. 3 §) and the block's owning unit or provider (or the temporary revoke's unit) as
`organisation`. Times are UTC. Lock order (docs/architecture.md, "Lock order"): the patient (for
a new block request), a block request, the block, then a temporary revoke of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.blocks import audit, policies
from apps.blocks.models import (
    EXCLUDABLE_TYPES,
    TEMPORARY_REVOKE_MAX,
    Block,
    BlockRequest,
    TemporaryRevoke,
)
from apps.commissions.models import Commission, Employee
from apps.commissions.vocabularies import InformationClass, Purpose
from apps.core.calls import service
from apps.core.errors import NotFound, ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.identities.models import Person
from apps.organisations.models import Organisation


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="block.no_reason", field="reason")
    return reason


def _lock_applying(block: Block) -> Block:
    """The block, locked, when it is neither lifted nor removed; else ValidationFailed."""
    locked = Block.objects.select_for_update().get(pk=block.pk)
    if locked.deleted_at is not None:
        raise ValidationFailed(_("This block has been removed as a wrong registration."),
                               code="block.already_deleted")
    if locked.revoked_at is not None:
        raise ValidationFailed(_("This block has already been lifted."),
                               code="block.already_revoked")
    return locked


def _checked_block(*, block_type: str, care_provider: Organisation,
                   care_unit: Organisation | None, period_start: datetime | None,
                   period_end: datetime | None, excluded_types: Iterable[str]) -> frozenset[str]:
    """The excluded type codes when the described block is well formed (the rules of
    `block_register`, shared with `block_request_submit`); else ValidationFailed with `field`."""
    if block_type not in Block.Type.values:
        raise ValidationFailed(_("Choose inner or outer block."), code="block.unknown_type",
                               field="block_type")
    if not care_provider.is_care_provider:
        raise ValidationFailed(_("Choose a care provider."), code="block.not_care_provider",
                               field="care_provider")
    if block_type == Block.Type.INNER and care_unit is None:
        raise ValidationFailed(_("An inner block needs the care unit whose information is blocked."),
                               code="block.inner_without_unit", field="care_unit")
    if care_unit is not None and not (care_unit.is_care_unit
                                      and care_unit.care_provider_id == care_provider.pk):
        raise ValidationFailed(_("Choose a care unit of this care provider."),
                               code="block.unit_not_at_provider", field="care_unit")
    if period_start is not None and period_end is not None and period_end <= period_start:
        raise ValidationFailed(_("The end must be after the start."),
                               code="validity.end_before_start", field="period_end")
    excluded = frozenset(excluded_types)
    if not excluded <= EXCLUDABLE_TYPES:
        raise ValidationFailed(_("Only medication and alert information can be excluded from a "
                                 "block."), code="block.type_not_excludable", field="excluded_types")
    return excluded


@service
def block_register(
    *,
    actor: Actor,
    commission: Commission | None,
    patient: Person,
    block_type: str,
    care_provider: Organisation,
    care_unit: Organisation | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    excluded_types: Iterable[str] = (),
) -> Block:
    """Register a block (spärr) of `care_provider`'s information about `patient` on the patient's
    request: `inner` (Block.Type) hides `care_unit`'s information from the rest of the care
    provider (PDL 2008:355 4 kap. 4 §), `outer` hides the care provider's (or only `care_unit`'s)
    information from other care providers (6 kap. 2 §). Optionally only information of the period
    [period_start, period_end) (UTC, either end open); `excluded_types` are information type codes
    left visible, only `lak` and `upp` (Inera's Spärr contract).

    Raises NotFound/Forbidden as `policies.require_block_owner_staff`; ValidationFailed with
    `field` for an unknown type (`block_type`), a care provider that is none (`care_provider`), an
    inner block without a care unit, or a unit that is not a care unit of that care provider
    (`care_unit`), an end not after the start (`period_end`), and another excluded type
    (`excluded_types`, `block.type_not_excludable`).
    """
    now = timezone.now()
    policies.require_block_owner_staff(actor, commission, patient, care_provider, now,
                                       existing=False)
    excluded = _checked_block(block_type=block_type, care_provider=care_provider,
                              care_unit=care_unit, period_start=period_start,
                              period_end=period_end, excluded_types=excluded_types)
    with transaction.atomic():
        block = Block.objects.create(
            block_type=block_type, patient=patient, care_provider=care_provider,
            care_unit=care_unit, period_start=period_start, period_end=period_end,
            excludes_medication=InformationClass.MEDICATION.value in excluded,
            excludes_alerts=InformationClass.ALERTS.value in excluded,
            registered_at=now, registered_by_id=actor_id(actor), registered_by_label=str(actor)[:200],
        )
        record(
            actor=actor, action=audit.BLOCK_REGISTERED.code, target=block, subject=patient,
            organisation=care_unit or care_provider,
            changes={"block_type": [None, block_type], "care_provider": [None, care_provider.hsa_id],
                     "care_unit": [None, care_unit.hsa_id if care_unit else None],
                     "period_start": [None, _iso(period_start)],
                     "period_end": [None, _iso(period_end)],
                     "excluded_types": [None, sorted(excluded)]},
        )
    return block


def _close(actor: Actor, commission: Commission | None, block: Block, reason: str, *,
           state: str, action: str) -> Block:
    """Mark `block` lifted (`state` "revoked") or removed ("deleted") from now, with who and why
    in the `<state>_at`, `<state>_by_*` and the reason columns (set once; the row stays), audited
    `action`. Policy and errors as `block_revoke`."""
    now = timezone.now()
    policies.require_block_owner_staff(actor, commission, block.patient, block.care_provider, now,
                                       existing=True)
    reason = _reason(reason)
    reason_field = {"revoked": "revoke_reason", "deleted": "delete_reason"}[state]
    with transaction.atomic():
        locked = _lock_applying(block)
        setattr(locked, f"{state}_at", now)
        setattr(locked, f"{state}_by_id", actor_id(actor))
        setattr(locked, f"{state}_by_label", str(actor)[:200])
        setattr(locked, reason_field, reason)
        locked.save(update_fields=[f"{state}_at", f"{state}_by_id", f"{state}_by_label",
                                   reason_field, "updated_at"])
        record(actor=actor, action=action, target=locked, subject=locked.patient,
               organisation=locked.care_unit or locked.care_provider, reason=reason,
               changes={f"{state}_at": [None, now.isoformat()]})
    return locked


@service
def block_revoke(*, actor: Actor, commission: Commission | None, block: Block,
                 reason: str) -> Block:
    """Lift a block permanently (hävning) on the patient's request, with a reason; the row stays,
    marked lifted from now, and its earlier effect stays in history (Inera's Spärr contract).

    Raises NotFound/Forbidden as `policies.require_block_owner_staff`; ValidationFailed for an
    empty reason (`reason`) or a block already lifted or removed (`block.already_revoked`,
    `block.already_deleted`; of two at once, one wins).
    """
    return _close(actor, commission, block, reason, state="revoked",
                  action=audit.BLOCK_REVOKED.code)


@service
def block_delete(*, actor: Actor, commission: Commission | None, block: Block,
                 reason: str) -> Block:
    """Remove a wrongly registered block (makulering) with a reason; the row stays, marked removed,
    and never counted (Inera's Spärr contract).

    Raises as `block_revoke` (a lifted block is not removed: docs/decisions.md, "Blocks").
    """
    return _close(actor, commission, block, reason, state="deleted",
                  action=audit.BLOCK_DELETED.code)


@service
def temporary_revoke_register(
    *,
    actor: Actor,
    commission: Commission | None,
    block: Block,
    care_unit: Organisation,
    reason: str,
    valid_until: datetime,
    employee: Employee | None = None,
) -> TemporaryRevoke:
    """Lift `block` from now until `valid_until` (UTC, at most now + 7 days, Inera's Spärr
    contract) for the staff of `care_unit`, or only `employee`, with the patient's consent or in an
    emergency (`reason`, TemporaryRevoke.Reason). For an inner block the unit is any other than the
    block's (an inner block hides its unit's information from every other unit, of its care
    provider or another, docs/rules.md); for an outer block, a unit of another care provider. An emergency
    revoke names the acting employee (like emergency access, PDL 2008:355 6 kap. 4 §).

    Raises NotFound/Forbidden as `policies.require_unit_staff`; ValidationFailed for an unknown
    reason (`reason`), a unit the block does not hide information from (`care_unit`), an employee
    without an active care commission at the unit (`employee`), an end not in (now, now + 7 days]
    (`valid_until`, `temporary_revoke.too_long`), a block lifted or removed, and a temporary
    revoke already in force for the same staff (the whole unit, or this employee):
    `temporary_revoke.already_lifted` (checked under the block's row lock, so two at once make
    one).
    """
    now = timezone.now()
    acting = policies.require_unit_staff(actor, commission, block.patient, care_unit, now,
                                         existing=False)
    if reason not in TemporaryRevoke.Reason.values:
        raise ValidationFailed(_("Choose the patient's consent or emergency."),
                               code="temporary_revoke.unknown_reason", field="reason")
    if not policies.block_hides_from(block, care_unit):
        raise ValidationFailed(_("This block does not hide information from that care unit."),
                               code="temporary_revoke.unit_not_blocked", field="care_unit")
    if reason == TemporaryRevoke.Reason.EMERGENCY and acting is not None:
        employee = acting
    if employee is not None and not Commission.objects.active_at(now).filter(
        employee=employee, care_unit=care_unit, purpose=Purpose.CARE
    ).exists():
        raise ValidationFailed(
            _("This staff member has no active care commission at the chosen care unit."),
            code="temporary_revoke.employee_not_at_unit", field="employee",
        )
    if valid_until <= now:
        raise ValidationFailed(_("The end must be in the future."),
                               code="temporary_revoke.end_in_past", field="valid_until")
    if valid_until > now + TEMPORARY_REVOKE_MAX:
        raise ValidationFailed(_("A block can be lifted temporarily for at most 7 days."),
                               code="temporary_revoke.too_long", field="valid_until")
    with transaction.atomic():
        locked = _lock_applying(block)
        # The time is read again under the block's lock: a revoke committed by a writer that
        # held the lock before began after the `now` read above, and must count as in force.
        now = timezone.now()
        covering = TemporaryRevoke.objects.in_force_at(now).filter(
            Q(employee__isnull=True) | Q(employee=employee) if employee is not None
            else Q(employee__isnull=True), block=locked, care_unit=care_unit,
        ).order_by("-valid_until").first()
        if covering is not None:
            raise ValidationFailed(
                _("The block is already lifted for them until %(end)s. To change that, end it "
                  "early first.") % {"end": formats.date_format(
                      timezone.localtime(covering.valid_until), "SHORT_DATETIME_FORMAT")},
                code="temporary_revoke.already_lifted")
        revoke = TemporaryRevoke.objects.create(
            block=locked, care_unit=care_unit, employee=employee, reason=reason, valid_from=now,
            valid_until=valid_until, registered_at=now, registered_by_id=actor_id(actor),
            registered_by_label=str(actor)[:200],
        )
        record(
            actor=actor, action=audit.TEMPORARY_REVOKE_REGISTERED.code, target=revoke,
            subject=locked.patient, organisation=care_unit, reason=reason,
            changes={"block": [None, str(locked.pk)], "care_unit": [None, care_unit.hsa_id],
                     "employee": [None, employee.hsa_id if employee else None],
                     "valid_from": [None, now.isoformat()],
                     "valid_until": [None, valid_until.isoformat()]},
        )
    return revoke


@service
def temporary_revoke_cancel(*, actor: Actor, commission: Commission | None,
                            revoke: TemporaryRevoke, reason: str) -> TemporaryRevoke:
    """End a temporary revoke now, before its end, with a reason; the row stays, marked ended.

    Raises NotFound/Forbidden as `policies.require_unit_staff` (staff at the revoke's unit);
    ValidationFailed for an empty reason (`reason`) or a revoke already ended or expired
    (`temporary_revoke.not_active`).
    """
    now = timezone.now()
    policies.require_unit_staff(actor, commission, revoke.block.patient, revoke.care_unit, now,
                                existing=True)
    reason = _reason(reason)
    with transaction.atomic():
        locked = TemporaryRevoke.objects.select_for_update().get(pk=revoke.pk)
        if locked.cancelled_at is not None or locked.valid_until <= now:
            raise ValidationFailed(_("This temporary lifting has already ended."),
                                   code="temporary_revoke.not_active")
        locked.cancelled_at = now
        locked.cancelled_by_id = actor_id(actor)
        locked.cancelled_by_label = str(actor)[:200]
        locked.cancel_reason = reason
        locked.save(update_fields=["cancelled_at", "cancelled_by_id", "cancelled_by_label",
                                   "cancel_reason", "updated_at"])
        record(actor=actor, action=audit.TEMPORARY_REVOKE_CANCELLED.code, target=locked,
               subject=revoke.block.patient, organisation=locked.care_unit, reason=reason,
               changes={"cancelled_at": [None, now.isoformat()]})
    return locked


@service
def patient_looked_up(*, actor: Actor, commission: Commission | None, patient: Person) -> None:
    """Record that staff acting under `commission` looked the patient up by identity number to see,
    register or change the patient's blocks at the commission's care provider, and to see which of
    the patient's blocks at other care providers hide information from the commission's care unit
    (docs/decisions.md, "Blocks"): reading personal data is logged and shown in the patient's log
    extract (HSLF-FS 2016:40 4 kap. 9 §; PDL 2008:355 8 kap. 3 §).

    Raises NotFound/Forbidden as `policies.require_block_owner_staff` (a commission of one's own,
    valid now, for care and treatment; never one's own records).
    """
    now = timezone.now()
    if commission is None:  # looked up for no care provider at all (deny by default)
        raise NotFound()
    policies.require_block_owner_staff(actor, commission, patient, commission.care_provider, now,
                                       existing=False)
    with transaction.atomic():
        record(actor=actor, action=audit.PATIENT_LOOKED_UP.code, target=patient, subject=patient,
               organisation=commission.care_unit or commission.care_provider)


@service
def block_list_viewed(*, actor: Actor, commission: Commission | None,
                      care_unit: Organisation | None, status: str, position: str,
                      shown: int) -> None:
    """Record that staff acting under `commission` saw a page (`position`: the keyset cursor the
    page was read at, "" for the first page; apps.core.paging) of the blocks of
    the commission's care provider, filtered by `care_unit` and `status`, naming `shown` patients:
    a list of who has blocked information is itself personal data read (HSLF-FS 2016:40 4 kap.
    9 §). One event for the page, with the care provider as target and organisation.

    Raises NotFound/Forbidden as `policies.require_block_list`.
    """
    policies.require_block_list(actor, commission, timezone.now())
    assert commission is not None
    with transaction.atomic():
        record(actor=actor, action=audit.BLOCK_LIST_VIEWED.code, target=commission.care_provider,
               organisation=commission.care_unit or commission.care_provider,
               changes={"care_unit": care_unit.hsa_id if care_unit else None,
                        "status": status or None, "position": position or None,
                        "shown": shown})


#: A patient has at most this many pending block requests (docs/decisions.md, "Block requests").
PENDING_REQUESTS_MAX = 5


def _request_changes(request: BlockRequest) -> dict[str, list[object]]:
    return {"block_type": [None, request.block_type],
            "care_provider": [None, request.care_provider.hsa_id],
            "care_unit": [None, request.care_unit.hsa_id if request.care_unit else None],
            "period_start": [None, _iso(request.period_start)],
            "period_end": [None, _iso(request.period_end)],
            "excluded_types": [None, sorted(request.excluded_types)]}


@service
def block_request_submit(
    *,
    actor: Actor,
    patient: Person,
    block_type: str,
    care_provider: Organisation,
    care_unit: Organisation | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    excluded_types: Iterable[str] = (),
    message: str = "",
) -> BlockRequest:
    """The patient asks for a block (begäran om spärr) of their own records, described as for
    `block_register`, with an optional `message` to staff (at most BlockRequest.MESSAGE_MAX = 500
    characters, surrounding space dropped). Staff at `care_provider` confirm or decline it
    (docs/decisions.md, "Block requests"). At most PENDING_REQUESTS_MAX pending requests per
    patient: the patient's row is locked while they are counted, so two requests at once cannot
    pass the limit together.

    Raises Forbidden unless `actor` is the patient themself (`policies.require_patient_self`);
    ValidationFailed as `block_register` for the block, for a message too long (`message`,
    `block_request.message_too_long`) and for a sixth pending request
    (`block_request.too_many_pending`).
    """
    policies.require_patient_self(actor, patient, existing=False)
    excluded = _checked_block(block_type=block_type, care_provider=care_provider,
                              care_unit=care_unit, period_start=period_start,
                              period_end=period_end, excluded_types=excluded_types)
    message = message.strip()
    if len(message) > BlockRequest.MESSAGE_MAX:
        raise ValidationFailed(
            _("Write at most %(n)d characters.") % {"n": BlockRequest.MESSAGE_MAX},
            code="block_request.message_too_long", field="message")
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=patient.pk).first()
        pending = BlockRequest.objects.filter(patient=patient,
                                              state=BlockRequest.State.PENDING).count()
        if pending >= PENDING_REQUESTS_MAX:
            raise ValidationFailed(
                _("You already have %(n)d requests waiting for staff. Wait until staff have "
                  "answered one, or withdraw one, before you ask again.")
                % {"n": PENDING_REQUESTS_MAX}, code="block_request.too_many_pending")
        request = BlockRequest.objects.create(
            patient=patient, block_type=block_type, care_provider=care_provider,
            care_unit=care_unit, period_start=period_start, period_end=period_end,
            excludes_medication=InformationClass.MEDICATION.value in excluded,
            excludes_alerts=InformationClass.ALERTS.value in excluded,
            message=message, requested_at=timezone.now(),
        )
        record(actor=actor, action=audit.BLOCK_REQUEST_SUBMITTED.code, target=request,
               subject=patient, organisation=care_unit or care_provider,
               changes={**_request_changes(request), "state": [None, request.state]})
    return request


def _lock_pending(request: BlockRequest) -> BlockRequest:
    """The request, locked, when it is still pending; else ValidationFailed
    (`block_request.not_pending`)."""
    locked = BlockRequest.objects.select_for_update().get(pk=request.pk)
    if locked.state != BlockRequest.State.PENDING:
        raise ValidationFailed(
            _("This request has already been answered or withdrawn: %(state)s.")
            % {"state": locked.get_state_display()}, code="block_request.not_pending")
    return locked


def _decide(actor: Actor, locked: BlockRequest, state: str, now: datetime) -> None:
    locked.state = state
    locked.decided_at = now
    locked.decided_by_id = actor_id(actor)
    locked.decided_by_label = str(actor)[:200]


@service
def block_request_withdraw(*, actor: Actor, request: BlockRequest) -> BlockRequest:
    """The patient withdraws their own pending block request; it stays in their history, marked
    withdrawn.

    Raises NotFound for another patient's request, Forbidden for anyone but a patient
    (`policies.require_patient_self`); ValidationFailed for a request no longer pending
    (`block_request.not_pending`; of a withdrawal and a staff answer at once, one wins).
    """
    policies.require_patient_self(actor, request.patient, existing=True)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_pending(request)
        _decide(actor, locked, BlockRequest.State.WITHDRAWN, now)
        locked.save(update_fields=["state", "decided_at", "decided_by_id", "decided_by_label",
                                   "updated_at"])
        record(actor=actor, action=audit.BLOCK_REQUEST_WITHDRAWN.code, target=locked,
               subject=locked.patient, organisation=locked.care_unit or locked.care_provider,
               changes={"state": [BlockRequest.State.PENDING.value, locked.state]})
    return locked


@service
def block_request_confirm(*, actor: Actor, commission: Commission | None, request: BlockRequest,
                          patient_met: bool) -> BlockRequest:
    """Confirm a pending block request: a staff member acting under `commission` (care, valid now,
    at the request's care provider) who has met the patient and checked their identity
    (`patient_met`) registers the asked-for block with `block_register`, in this same transaction,
    and marks the request confirmed with a link to it (docs/decisions.md, "Block requests").
    The request's row lock makes two confirmations at once register one block.

    Raises NotFound/Forbidden as `policies.require_block_owner_staff` (another care provider's
    request is NotFound); ValidationFailed without `patient_met` (`patient_met`,
    `block_request.patient_not_met`), for a request no longer pending
    (`block_request.not_pending`), and as `block_register`.
    """
    now = timezone.now()
    policies.require_block_owner_staff(actor, commission, request.patient, request.care_provider,
                                       now, existing=True)
    if patient_met is not True:
        raise ValidationFailed(
            _("Confirm that you have met the patient and checked their identity."),
            code="block_request.patient_not_met", field="patient_met")
    with transaction.atomic():
        locked = _lock_pending(request)
        block = block_register(
            actor=actor, commission=commission, patient=locked.patient,
            block_type=locked.block_type, care_provider=locked.care_provider,
            care_unit=locked.care_unit, period_start=locked.period_start,
            period_end=locked.period_end, excluded_types=locked.excluded_types,
        )
        _decide(actor, locked, BlockRequest.State.CONFIRMED, now)
        locked.block = block
        locked.patient_met = True
        locked.save(update_fields=["state", "decided_at", "decided_by_id", "decided_by_label",
                                   "block", "patient_met", "updated_at"])
        record(actor=actor, action=audit.BLOCK_REQUEST_CONFIRMED.code, target=locked,
               subject=locked.patient, organisation=locked.care_unit or locked.care_provider,
               changes={"state": [BlockRequest.State.PENDING.value, locked.state],
                        "block": [None, str(block.pk)], "patient_met": [False, True]})
    return locked


@service
def block_request_decline(*, actor: Actor, commission: Commission | None, request: BlockRequest,
                          reason: str) -> BlockRequest:
    """Decline a pending block request with a `reason` the patient sees on their page (e.g. asked
    to come in person). Staff as for `block_request_confirm`.

    Raises NotFound/Forbidden as `policies.require_block_owner_staff`; ValidationFailed for an
    empty reason (`reason`, `block.no_reason`) or a request no longer pending
    (`block_request.not_pending`).
    """
    now = timezone.now()
    policies.require_block_owner_staff(actor, commission, request.patient, request.care_provider,
                                       now, existing=True)
    reason = _reason(reason)
    with transaction.atomic():
        locked = _lock_pending(request)
        _decide(actor, locked, BlockRequest.State.DECLINED, now)
        locked.decline_reason = reason
        locked.save(update_fields=["state", "decided_at", "decided_by_id", "decided_by_label",
                                   "decline_reason", "updated_at"])
        record(actor=actor, action=audit.BLOCK_REQUEST_DECLINED.code, target=locked,
               subject=locked.patient, organisation=locked.care_unit or locked.care_provider,
               reason=reason, changes={"state": [BlockRequest.State.PENDING.value, locked.state]})
    return locked
