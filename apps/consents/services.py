"""Writes of consent and emergency access assertions; each audited in the same transaction.

Every event is recorded with the patient as `subject` (so it appears in the patient's log extract,
PDL 2008:355 8 kap. 3 §) and the care unit as `organisation`. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.commissions.models import Commission, Employee
from apps.commissions.vocabularies import Purpose
from apps.consents import audit, policies
from apps.consents.models import ConsentAssertion
from apps.core.actors import is_operator
from apps.core.calls import service
from apps.core.errors import ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.identities.models import Person
from apps.organisations.models import Organisation

#: How far in the past a consent's start may lie (clock skew, a form left open): 5 minutes.
BACKDATE_TOLERANCE = timedelta(minutes=5)
#: Emergency access lasts 24 hours unless a shorter end is given ...
EMERGENCY_DEFAULT_DURATION = timedelta(hours=24)
#: ... and never more than 7 days (the same bound as a temporary revoke of a block).
EMERGENCY_MAX_DURATION = timedelta(days=7)



def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _check_care_unit(care_unit: Organisation) -> Organisation:
    if not care_unit.is_care_unit or care_unit.care_provider_id is None:
        raise ValidationFailed(_("Choose a care unit."), code="consent.not_care_unit",
                               field="care_unit")
    return care_unit.care_provider  # type: ignore[return-value]


def _check_employee_at_unit(employee: Employee, care_unit: Organisation, when: datetime) -> None:
    active = Commission.objects.active_at(when).filter(
        employee=employee, care_unit=care_unit, purpose=Purpose.CARE
    )
    if not active.exists():
        raise ValidationFailed(
            _("This staff member has no active care commission at the chosen care unit."),
            code="consent.employee_not_at_unit", field="employee",
        )


@service
def consent_give(
    *,
    actor: Actor,
    patient: Person,
    care_unit: Organisation,
    valid_from: datetime,
    valid_until: datetime | None = None,
    employee: Employee | None = None,
    representative_name: str = "",
    patient_present: bool = False,
) -> ConsentAssertion:
    """Register the patient's consent (samtycke, PDL 2008:355 6 kap. 3 §) for `care_unit`: all staff
    with a commission there, or only `employee`, from `valid_from` until `valid_until` (UTC, open end
    allowed; the end is exclusive).

    The actor is the patient themself, or a staff member with an active care commission at the unit
    registering the consent of a patient who is present (`patient_present` must be True: the staff
    member confirms the patient is there and consents), or the system.

    Raises NotFound (a patient acting for someone else), Forbidden (staff without a commission
    there), ValidationFailed with `field` for: staff without `patient_present` (`patient_present`),
    not a care unit (`care_unit`), an employee without an active care commission at the unit
    (`employee`), a start more than BACKDATE_TOLERANCE in the past for anyone but the system
    (`valid_from`; a consent cannot make earlier reading lawful), an end not after the start or
    already passed (`valid_until`), and an existing consent (neither withdrawn nor deleted) for the
    same unit and staff that already covers the whole period (`care_unit`, `consent.duplicate`).
    """
    giver = policies.require_give_consent(actor, patient, care_unit)
    if giver == "staff" and not patient_present:
        raise ValidationFailed(_("Confirm that the patient is present and has given consent."),
                               code="consent.patient_not_present", field="patient_present")
    care_provider = _check_care_unit(care_unit)
    now = timezone.now()
    if not is_operator(actor) and valid_from < now - BACKDATE_TOLERANCE:
        raise ValidationFailed(_("The start cannot be in the past."), code="consent.start_in_past",
                               field="valid_from")
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationFailed(_("The end must be after the start."),
                               code="validity.end_before_start", field="valid_until")
    if valid_until is not None and valid_until <= now and not is_operator(actor):
        raise ValidationFailed(_("The end must be in the future."), code="consent.end_in_past",
                               field="valid_until")
    if employee is not None:
        _check_employee_at_unit(employee, care_unit, max(valid_from, now))
    representative_name = representative_name.strip()
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=patient.pk)  # serialise consents per patient
        covering = ConsentAssertion.objects.not_revoked().filter(
            assertion_type=ConsentAssertion.Type.CONSENT, patient=patient, care_unit=care_unit,
            employee=employee, valid_from__lte=valid_from,
        )
        if valid_until is None:
            covering = covering.filter(valid_until__isnull=True)
        else:
            covering = covering.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_until))
        if covering.exists():
            raise ValidationFailed(
                _("There is already a consent for this care unit and staff covering that period."),
                code="consent.duplicate", field="care_unit",
            )
        consent = ConsentAssertion.objects.create(
            assertion_type=ConsentAssertion.Type.CONSENT, patient=patient,
            care_provider=care_provider, care_unit=care_unit, employee=employee,
            valid_from=valid_from, valid_until=valid_until,
            representative_name=representative_name, registered_at=now,
            registered_by_id=actor_id(actor), registered_by_label=str(actor)[:200],
        )
        record(
            actor=actor, action=audit.CONSENT_GIVEN.code, target=consent, subject=patient,
            organisation=care_unit,
            changes={"care_unit": [None, care_unit.hsa_id],
                     "employee": [None, employee.hsa_id if employee else None],
                     "valid_from": [None, _iso(valid_from)], "valid_until": [None, _iso(valid_until)],
                     "representative_name": [None, representative_name or None]},
        )
    return consent


@service
def consent_withdraw(*, actor: Actor, consent: ConsentAssertion) -> ConsentAssertion:
    """Withdraw a consent now (återkallelse): only the patient may. The row stays, marked withdrawn.

    Raises NotFound when the actor is not the patient; ValidationFailed for an emergency access
    (code `consent.not_withdrawable`) or a consent already withdrawn, deleted or expired
    (`consent.not_active`).
    """
    policies.require_withdraw_consent(actor, consent.patient)
    if consent.is_emergency:
        raise ValidationFailed(_("Emergency access cannot be withdrawn."),
                               code="consent.not_withdrawable")
    now = timezone.now()
    with transaction.atomic():
        locked = ConsentAssertion.objects.select_for_update().get(pk=consent.pk)
        if locked.status(now) not in (ConsentAssertion.Status.ACTIVE, ConsentAssertion.Status.UPCOMING):
            raise ValidationFailed(_("This consent is no longer in force."), code="consent.not_active")
        locked.cancelled_at = now
        locked.cancelled_by_id = actor_id(actor)
        locked.cancelled_by_label = str(actor)[:200]
        locked.save(update_fields=["cancelled_at", "cancelled_by_id", "cancelled_by_label",
                                   "updated_at"])
        record(
            actor=actor, action=audit.CONSENT_WITHDRAWN.code, target=locked, subject=locked.patient,
            organisation=locked.care_unit, changes={"cancelled_at": [None, now.isoformat()]},
        )
    return locked


@service
def consent_delete(*, actor: Actor, consent: ConsentAssertion, reason: str) -> ConsentAssertion:
    """Remove a wrongly registered consent (makulering) with a reason; the row stays, marked
    deleted, and no longer counts. Staff with an active care commission at the consent's unit (or
    the system) may; emergency access cannot be deleted, so it always stays for follow-up.

    Raises Forbidden without a commission at the unit (or for one's own records); ValidationFailed
    for an empty reason (`reason`), an emergency access (`consent.not_deletable`), a consent the
    patient gave themself (`consent.given_by_patient`: only they withdraw it), or one already
    deleted or withdrawn (`consent.already_deleted`, `consent.already_withdrawn`).
    """
    if policies.is_patient_self(actor, consent.patient):
        raise ValidationFailed(_("Withdraw the consent instead."), code="consent.patient_delete")
    policies.require_staff_at_unit(actor, consent.care_unit, consent.patient)
    if consent.registered_by_id is not None and consent.registered_by_id in set(
        consent.patient.users.values_list("id", flat=True)
    ):
        raise ValidationFailed(_("The patient registered this consent; only the patient can "
                                 "withdraw it."), code="consent.given_by_patient")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="consent.no_reason", field="reason")
    if consent.is_emergency:
        raise ValidationFailed(_("Emergency access cannot be removed."), code="consent.not_deletable")
    now = timezone.now()
    with transaction.atomic():
        locked = ConsentAssertion.objects.select_for_update().get(pk=consent.pk)
        if locked.deleted_at is not None:
            raise ValidationFailed(_("This consent has already been removed."),
                                   code="consent.already_deleted")
        if locked.cancelled_at is not None:
            raise ValidationFailed(_("The patient has already withdrawn this consent."),
                                   code="consent.already_withdrawn")
        locked.deleted_at = now
        locked.deleted_by_id = actor_id(actor)
        locked.deleted_by_label = str(actor)[:200]
        locked.delete_reason = reason
        locked.save(update_fields=["deleted_at", "deleted_by_id", "deleted_by_label", "delete_reason",
                                   "updated_at"])
        record(
            actor=actor, action=audit.CONSENT_DELETED.code, target=locked, subject=locked.patient,
            organisation=locked.care_unit, reason=reason,
            changes={"deleted_at": [None, now.isoformat()]},
        )
    return locked


@service
def emergency_access_register(
    *,
    actor: Actor,
    patient: Person,
    care_unit: Organisation,
    reason: str,
    valid_until: datetime | None = None,
    employee: Employee | None = None,
) -> ConsentAssertion:
    """Register emergency access (nödåtkomst, PDL 2008:355 6 kap. 4 §) for the acting staff member
    at `care_unit`, starting now and ending at `valid_until` (default now + 24 hours, at most now +
    7 days). The assertion names the acting employee: emergency access is personal. `employee` is
    only for the system actor (demo data); staff always act as themselves.

    Raises Forbidden without an active care commission at the unit; ValidationFailed for an empty
    reason (`reason`), not a care unit (`care_unit`), or an end not in (now, now + 7 days]
    (`valid_until`).
    """
    acting_employee = policies.require_staff_at_unit(actor, care_unit, patient)
    if acting_employee is not None:
        employee = acting_employee
    care_provider = _check_care_unit(care_unit)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give the reason for emergency access."),
                               code="emergency.no_reason", field="reason")
    if employee is None:
        raise ValidationFailed(_("Choose the staff member."), code="emergency.no_employee",
                               field="employee")
    now = timezone.now()
    valid_until = valid_until or now + EMERGENCY_DEFAULT_DURATION
    if valid_until <= now:
        raise ValidationFailed(_("The end must be in the future."), code="emergency.end_in_past",
                               field="valid_until")
    if valid_until > now + EMERGENCY_MAX_DURATION:
        raise ValidationFailed(_("Emergency access can last at most 7 days."),
                               code="emergency.too_long", field="valid_until")
    with transaction.atomic():
        access = ConsentAssertion.objects.create(
            assertion_type=ConsentAssertion.Type.EMERGENCY, patient=patient,
            care_provider=care_provider, care_unit=care_unit, employee=employee,
            valid_from=now, valid_until=valid_until, reason=reason, registered_at=now,
            registered_by_id=actor_id(actor), registered_by_label=str(actor)[:200],
        )
        record(
            actor=actor, action=audit.EMERGENCY_ACCESS_REGISTERED.code, target=access, subject=patient,
            organisation=care_unit, reason=reason,
            changes={"care_unit": [None, care_unit.hsa_id], "employee": [None, employee.hsa_id],
                     "valid_from": [None, now.isoformat()], "valid_until": [None, valid_until.isoformat()]},
        )
    return access


@service
def patient_looked_up(*, actor: Actor, patient: Person, care_unit: Organisation) -> None:
    """Record that staff at `care_unit` looked the patient up by identity number (to register
    consent or emergency access): reading personal data is logged and shown in the patient's log
    extract (HSLF-FS 2016:40 4 kap. 9 §). Raises Forbidden without a care commission there or for
    one's own number."""
    policies.require_staff_at_unit(actor, care_unit, patient)
    with transaction.atomic():
        record(actor=actor, action=audit.PATIENT_LOOKED_UP.code, target=patient, subject=patient,
               organisation=care_unit)
