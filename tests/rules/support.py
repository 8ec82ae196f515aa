"""Making access decisions in tests the way a record system asks for them: the acting staff
member's commission read by `facts.acting_staff`, then `services.access_decide`."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.commissions import services as commissions
from apps.commissions.models import Commission, Employee
from apps.core.actors import SYSTEM
from apps.identities.identifiers import parse_person_number
from apps.identities.models import Person
from apps.organisations.models import Organisation
from apps.rules import facts, services
from apps.rules.decision import AccessRequest
from apps.rules.models import EmergencyOpening

CARE = "Vård och behandling"


def care_commission(employee: Employee, unit: Organisation, rights: list[str]) -> Commission:
    """An active care commission of `employee` at `unit` with `rights`."""
    return commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=unit, purpose=CARE, rights=rights,
        valid_from=timezone.now() - timedelta(days=1), valid_until=None)


def decide(commission: Commission, patient: Person, owner: Organisation, *,
           activity: str = "Läsa", information_type: str = "alla", emergency: bool = False,
           reason: str = "") -> services.Decision:
    """`commission`'s holder asks, through the e-service "Journal", to take `activity` on
    `patient`'s `information_type` owned by the care unit `owner`."""
    actor = facts.acting_staff(client_id="journal", client_label="Journal",
                               client_care_provider_id=commission.care_provider_id,
                               employee_hsa_id=commission.employee.hsa_id,
                               commission_hsa_id=commission.hsa_id)
    provider = owner.care_provider if owner.is_care_unit else owner
    assert provider is not None
    request = AccessRequest(
        patient=parse_person_number(patient.person_number), care_provider_hsa_id=provider.hsa_id,
        care_unit_hsa_id=owner.hsa_id if owner.is_care_unit else None,
        information_type=information_type, activity=activity, purpose=CARE,
        when=timezone.now(), care_relationship=True, emergency=emergency,
        emergency_reason=reason)
    return services.access_decide(actor=actor, request=request)


def open_emergency(commission: Commission, patient: Person, owner: Organisation,
                   reason: str = "Unconscious on arrival; the medication list is needed.",
                   ) -> EmergencyOpening:
    """An allowed emergency opening of another care provider's information."""
    decision = decide(commission, patient, owner, emergency=True, reason=reason)
    assert decision.allowed and decision.verdict.emergency, decision.verdict.rule.code
    return EmergencyOpening.objects.get(decision_id=decision.id)
