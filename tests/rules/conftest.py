"""A world for the rules service: Region Demo (Cardiology, Orthopaedics, primary care) and Other
Care AB (Other Clinic), staff with commissions whose rights differ, and Tolvan as the patient.
`ask(who, ...)` puts one question through the real services on the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.blocks import services as blocks
from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions import services as commissions
from apps.commissions.models import Commission, Employee
from apps.consents import services as consents
from apps.consents.models import ConsentAssertion
from apps.core.actors import SYSTEM
from apps.identities.identifiers import parse_person_number
from apps.organisations.models import Organisation
from apps.rules import facts, services
from apps.rules.decision import AccessRequest
from tests.conftest import make_staff

CARE = "Vård och behandling"


@dataclass
class Staff:
    employee: Employee
    commission: Commission

    @property
    def unit(self) -> Organisation:
        assert self.commission.care_unit is not None
        return self.commission.care_unit


def _staff(unit: Organisation, given: str, family: str, rights: list[str], *,
           purpose: str = CARE, valid_from: datetime | None = None,
           valid_until: datetime | None = None) -> Staff:
    _, employee = make_staff(unit, given, family, totp=False)
    commission = commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=unit, purpose=purpose, rights=rights,
        valid_from=valid_from or timezone.now() - timedelta(days=1), valid_until=valid_until)
    return Staff(employee, commission)


@dataclass
class World:
    tree: dict[str, Organisation]
    patient: Any
    cardio_nurse: Staff
    ortho_doctor: Staff
    other_doctor: Staff
    other_colleague: Staff

    def ask(self, who: Staff, *, owner_unit: str | None = "cardio", owner: str = "region",
            commission_hsa_id: str | None = None, system: str | None = None,
            **kw: Any) -> services.Decision:
        """Decide: `who` asks, under their commission, to take `activity` (default read) on
        `information_type` (default medication) of Tolvan owned by `owner` (`owner_unit`),
        through a system of `system`'s care provider (default: the asker's own)."""
        actor = facts.acting_staff(
            client_id="record-system", client_label="Record system",
            client_care_provider_id=(self.tree[system].pk if system
                                     else who.commission.care_provider_id),
            employee_hsa_id=who.employee.hsa_id,
            commission_hsa_id=commission_hsa_id or who.commission.hsa_id)
        values: dict[str, Any] = {
            "patient": parse_person_number("19121212-1212"),
            "care_provider_hsa_id": self.tree[owner].hsa_id,
            "care_unit_hsa_id": self.tree[owner_unit].hsa_id if owner_unit else None,
            "information_type": "lak", "activity": "Läsa", "purpose": CARE,
            "when": timezone.now(), "care_relationship": True,
        }
        values.update(kw)
        return services.access_decide(actor=actor, request=AccessRequest(**values))

    def block(self, block_type: str = Block.Type.INNER, *, unit: str | None = "cardio",
              owner: str = "region", **kw: Any) -> Block:
        return blocks.block_register(
            actor=SYSTEM, commission=None, patient=self.patient, block_type=block_type,
            care_provider=self.tree[owner], care_unit=self.tree[unit] if unit else None, **kw)

    def temporary_revoke(self, block: Block, who: Staff, *, named: bool = False,
                         hours: int = 4, reason: str = TemporaryRevoke.Reason.PATIENTS_CONSENT
                         ) -> TemporaryRevoke:
        return blocks.temporary_revoke_register(
            actor=SYSTEM, commission=None, block=block, care_unit=who.unit,
            reason=reason, valid_until=timezone.now() + timedelta(hours=hours),
            employee=who.employee if named else None)

    def consent(self, who: Staff, *, named: bool = False, **kw: Any) -> ConsentAssertion:
        kw.setdefault("valid_from", timezone.now() - timedelta(minutes=1))
        return consents.consent_give(actor=SYSTEM, patient=self.patient,
                                     care_unit=who.unit,
                                     employee=who.employee if named else None, **kw)

    def emergency(self, who: Staff, reason: str = "Unconscious on arrival.") -> ConsentAssertion:
        return consents.emergency_access_register(
            actor=SYSTEM, patient=self.patient, care_unit=who.unit,
            employee=who.employee, reason=reason)


@pytest.fixture
def world(tree: dict[str, Organisation], patient: Any) -> World:
    return World(
        tree=tree, patient=patient.person,
        cardio_nurse=_staff(tree["cardio"], "Nina", "Nurse", ["Läsa;alla;VE", "Skriva;alla;VE"]),
        ortho_doctor=_staff(tree["ortho"], "Olle", "Ortoped", ["Läsa;alla;VG", "Läsa;lak;VE"]),
        other_doctor=_staff(tree["other_unit"], "Otto", "Other",
                            ["Läsa;alla;VE", "Läsa;alla;SJF"]),
        other_colleague=_staff(tree["other_unit"], "Cora", "Colleague",
                               ["Läsa;alla;VE", "Läsa;alla;SJF"]),
    )


def rule(decision: services.Decision) -> str:
    """The deciding rule's code."""
    return decision.verdict.rule.code
