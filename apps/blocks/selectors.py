"""Reads of blocks and temporary revokes, shaped for the access decision: one SQL statement each,
on the indexes (patient, care provider) and (block, care unit)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Q, QuerySet

from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions.models import Employee
from apps.identities.models import Person
from apps.organisations.models import Organisation


def blocks_in_force(patient: Person, when: datetime) -> QuerySet[Block]:
    """`patient`'s blocks that apply at `when` (UTC; Block.objects.in_force_at), newest first."""
    return Block.objects.in_force_at(when).filter(patient=patient)


def temporarily_revoked_block_ids(patient: Person, care_unit: Organisation,
                                  employee: Employee | None, when: datetime) -> set[uuid.UUID]:
    """Ids of `patient`'s blocks lifted at `when` (UTC) for `employee` acting at `care_unit`: a
    temporary revoke in force for that unit naming no employee (all its staff) or this one
    (Inera's Spärr contract). Without an employee only unit-wide revokes count."""
    who = Q(employee__isnull=True) if employee is None else (
        Q(employee__isnull=True) | Q(employee=employee))
    return set(
        TemporaryRevoke.objects.in_force_at(when)
        .filter(who, block__patient=patient, care_unit=care_unit)
        .values_list("block_id", flat=True)
    )
