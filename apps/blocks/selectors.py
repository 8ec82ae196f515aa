"""Reads of blocks and temporary revokes: for the access decision (one SQL statement each, on the
indexes (patient, care provider) and (block, care unit)) and for the staff pages (a block or
temporary revoke outside the acting care provider or unit is NotFound, so existence never leaks)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions.models import Employee
from apps.core.errors import NotFound
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


#: Block states a list can be filtered by (Block.Status), as queryset filters.
_STATUS_FILTERS = {
    Block.Status.ACTIVE: Q(revoked_at__isnull=True, deleted_at__isnull=True),
    Block.Status.REVOKED: Q(revoked_at__isnull=False),
    Block.Status.DELETED: Q(deleted_at__isnull=False),
}


def _revokes() -> Prefetch:  # type: ignore[type-arg]
    return Prefetch("temporary_revokes", queryset=TemporaryRevoke.objects.select_related(
        "care_unit", "employee__person").order_by("-registered_at"))


def block_list_for_patient(patient: Person, care_provider: Organisation) -> QuerySet[Block]:
    """All of `patient`'s blocks of `care_provider`'s information (active, lifted and removed),
    newest first, with their care unit and their temporary revokes (newest first, with unit and
    employee): one query for the blocks, one for all their temporary revokes."""
    return (Block.objects.filter(patient=patient, care_provider=care_provider)
            .select_related("care_unit").prefetch_related(_revokes())
            .order_by("-registered_at", "-id"))


def block_list_for_care_provider(care_provider: Organisation, *,
                                 care_unit: Organisation | None = None,
                                 status: str | None = None) -> QuerySet[Block]:
    """The blocks of `care_provider`'s information, newest registration first, optionally only
    those of `care_unit` and in `status` (a Block.Status value; another value matches nothing),
    with the patient, their identity numbers and the care unit (one query for the page of blocks,
    one for the patients' numbers)."""
    blocks = Block.objects.filter(care_provider=care_provider)
    if care_unit is not None:
        blocks = blocks.filter(care_unit=care_unit)
    if status:
        blocks = blocks.filter(_STATUS_FILTERS.get(status, Q(pk__in=[])))  # type: ignore[call-overload]
    return (blocks.select_related("patient", "care_unit")
            .prefetch_related("patient__identity_numbers").order_by("-registered_at", "-id"))


def block_get(block_id: uuid.UUID, care_provider: Organisation) -> Block:
    """The block `block_id` of `care_provider`'s information, with its patient, care provider and
    care unit. Raises NotFound when there is none, or it is another care provider's."""
    block = (Block.objects.select_related("patient", "care_provider", "care_unit")
             .filter(pk=block_id, care_provider=care_provider).first())
    if block is None:
        raise NotFound()
    return block


def temporary_revoke_get(revoke_id: uuid.UUID, care_unit: Organisation) -> TemporaryRevoke:
    """The temporary revoke `revoke_id` registered for `care_unit`, with its block, the block's
    patient and units, and the employee. Raises NotFound when there is none, or it is for another
    care unit."""
    revoke = (TemporaryRevoke.objects
              .select_related("block__patient", "block__care_provider", "block__care_unit",
                              "care_unit", "employee__person")
              .filter(pk=revoke_id, care_unit=care_unit).first())
    if revoke is None:
        raise NotFound()
    return revoke
