"""Reads of consent and emergency access assertions, and the choices the consent forms offer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from apps.commissions.models import Commission, Employee
from apps.commissions.vocabularies import Purpose
from apps.consents.models import ConsentAssertion
from apps.core.errors import NotFound
from apps.identities.models import Person, User
from apps.organisations.models import Organisation


def _with_relations(qs: QuerySet[ConsentAssertion]) -> QuerySet[ConsentAssertion]:
    return qs.select_related("care_unit", "care_provider", "employee__person")


def consent_is_valid(*, patient: Person, care_unit: Organisation, employee: Employee,
                     when: datetime) -> bool:
    """True when a consent or emergency access for `patient` lets `employee` read at `care_unit`
    at `when` (UTC): the employee holds an active care commission at that unit, and an assertion
    in force (ConsentQuerySet.valid_at) for the unit names no employee ("all staff with a
    commission at that unit") or names this one (Inera's Samtycke contract, "Consent assertion"). The complete
    access decision (care relationship, blocks) is the rules service's (docs/architecture.md)."""
    at_unit = Commission.objects.active_at(when).filter(
        employee=employee, care_unit=care_unit, purpose=Purpose.CARE
    )
    return at_unit.exists() and ConsentAssertion.objects.valid_at(when).filter(
        Q(employee__isnull=True) | Q(employee=employee), patient=patient, care_unit=care_unit
    ).exists()


def consent_list_for_patient(patient: Person) -> QuerySet[ConsentAssertion]:
    """All assertions about `patient` (any state), newest start first, with units and staff."""
    return _with_relations(ConsentAssertion.objects.filter(patient=patient)).order_by(
        "-valid_from", "-registered_at"
    )


@dataclass(frozen=True)
class PatientConsents:
    """A patient's assertions at a moment, grouped as the patient's page shows them: consents in
    force or upcoming (`current`), `expired`, withdrawn or removed (`ended`), and `emergencies`;
    each newest start first."""

    current: list[ConsentAssertion]
    expired: list[ConsentAssertion]
    ended: list[ConsentAssertion]
    emergencies: list[ConsentAssertion]


def consents_grouped_for_patient(patient: Person, now: datetime) -> PatientConsents:
    """The patient's assertions grouped by where they stand at `now` (one query)."""
    items = list(consent_list_for_patient(patient))
    consents = [c for c in items if not c.is_emergency]
    status = ConsentAssertion.Status
    return PatientConsents(
        current=[c for c in consents if c.in_force_or_upcoming(now)],
        expired=[c for c in consents if c.status(now) == status.EXPIRED],
        ended=[c for c in consents if c.status(now) in (status.WITHDRAWN, status.DELETED)],
        emergencies=[c for c in items if c.is_emergency],
    )


def consent_get_for_patient(patient: Person, consent_id: uuid.UUID) -> ConsentAssertion:
    """The patient's own assertion; NotFound when missing or someone else's."""
    consent = _with_relations(ConsentAssertion.objects.filter(pk=consent_id, patient=patient)).first()
    if consent is None:
        raise NotFound()
    return consent


def consent_list_registered_by(user: User, since: datetime,
                               care_units: list[Organisation]) -> QuerySet[ConsentAssertion]:
    """Assertions `user` registered since `since` (UTC) at `care_units`, newest first."""
    return _with_relations(
        ConsentAssertion.objects.filter(registered_by_id=user.pk, registered_at__gte=since,
                                        care_unit__in=care_units)
    ).select_related("patient").order_by("-registered_at")


def consent_get_registered_by(user: User, consent_id: uuid.UUID,
                              care_units: list[Organisation]) -> ConsentAssertion:
    """An assertion `user` registered at one of `care_units`; NotFound otherwise."""
    consent = _with_relations(
        ConsentAssertion.objects.filter(pk=consent_id, registered_by_id=user.pk,
                                        care_unit__in=care_units)
    ).select_related("patient").first()
    if consent is None:
        raise NotFound()
    return consent


def employee_list_for_unit(care_unit: Organisation, when: datetime) -> QuerySet[Employee]:
    """Employees (employee HSA-ids) holding an active care commission (Vård och behandling) at
    `care_unit` at `when` (UTC), each once however many such commissions they hold, by family
    name, given name and HSA-id: whom a consent may name at that unit. One query."""
    holders = Commission.objects.active_at(when).filter(
        care_unit=care_unit, purpose=Purpose.CARE
    ).values("employee_id")
    return Employee.objects.filter(pk__in=holders).select_related("person").order_by(
        "person__family_name", "person__given_name", "hsa_id"
    )
