"""Who may register, withdraw and delete consent and emergency access. Deny by default.

- The patient themself (a patient account whose person is the patient) may give and withdraw their
  own consent (PDL 2008:355 6 kap. 3 § 3 p.: the consent is the patient's).
- A staff member with an active care commission (purpose "Vård och behandling") at the care unit may
  register a consent for a patient who is present, register emergency access (PDL 6 kap. 4 §) and
  delete a wrong registration (makulering) at that unit.
- The system actor (demo data, management commands) passes.

A patient acting on someone else's consent gets NotFound (existence never leaks); a staff member
without a commission at the unit gets Forbidden.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Commission, Employee
from apps.commissions.vocabularies import Purpose
from apps.core.actors import is_operator
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.organisations.models import Organisation

if TYPE_CHECKING:
    from apps.consents.models import ConsentAssertion


def is_patient_self(actor: Actor, patient: Person) -> bool:
    """True when `actor` is the patient's own patient account."""
    return (
        isinstance(actor, User) and actor.kind == User.Kind.PATIENT and actor.person_id == patient.pk
    )


def care_commission_employee(actor: Actor, care_unit: Organisation,
                             when: datetime | None = None) -> Employee | None:
    """The actor's employee HSA-id holding an active care commission at `care_unit` at `when`
    (default now, UTC), or None (also for patients and the system actor)."""
    if not isinstance(actor, User) or actor.kind != User.Kind.STAFF:
        return None
    commission = (
        Commission.objects.active_at(when or timezone.now())
        .filter(employee__person_id=actor.person_id, care_unit=care_unit, purpose=Purpose.CARE)
        .select_related("employee")
        .order_by("valid_from")
        .first()
    )
    return commission.employee if commission else None


@policy
def require_staff_at_unit(actor: Actor, care_unit: Organisation,
                          patient: Person | None = None) -> Employee | None:
    """The acting employee at `care_unit` (None for the system actor). Raises Forbidden when the
    actor has no active care commission there, or is the `patient` (nobody registers consent or
    emergency access to their own records as staff)."""
    if is_operator(actor):
        return None
    if not isinstance(actor, User):
        raise Forbidden(_("You have no active care commission at this care unit."),
                        code="consent.no_commission", field="care_unit")
    if patient is not None and actor.person_id == patient.pk:
        raise Forbidden(_("You cannot register consent or emergency access for yourself."),
                        code="consent.self")
    employee = care_commission_employee(actor, care_unit)
    if employee is None:
        raise Forbidden(_("You have no active care commission at this care unit."),
                        code="consent.no_commission", field="care_unit")
    return employee


@policy
def require_give_consent(actor: Actor, patient: Person, care_unit: Organisation) -> str:
    """Who is giving the consent: "system", "patient" or "staff". Raises NotFound for a patient
    acting for another patient, Forbidden for staff without a care commission at the unit."""
    if is_operator(actor):
        return "system"
    if is_patient_self(actor, patient):
        return "patient"
    if isinstance(actor, User) and actor.kind == User.Kind.STAFF:
        require_staff_at_unit(actor, care_unit, patient)
        return "staff"
    raise NotFound()


@policy
def require_withdraw_consent(actor: Actor, patient: Person) -> None:
    """Only the patient (or the system) withdraws a consent. Raises NotFound otherwise."""
    if is_operator(actor) or is_patient_self(actor, patient):
        return
    raise NotFound()


def can_withdraw_consent(consent: ConsentAssertion, now: datetime) -> bool:
    """A consent (never an emergency access) still in force or upcoming at `now`."""
    return not consent.is_emergency and consent.in_force_or_upcoming(now)
