"""Reads of blocks, temporary revokes and block requests: for the access decision (one SQL statement
each, on the indexes (patient, care provider) and (block, care unit)) and for the pages."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from apps.blocks.models import Block, BlockRequest, TemporaryRevoke
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


def block_list_for_patient(patient: Person) -> QuerySet[Block]:
    """All of `patient`'s blocks, newest first, lifted and removed ones too, with their care
    provider and unit and their temporary revokes (with unit and staff member) prefetched: what the
    patient's "My blocks" page shows. Three queries, however many blocks."""
    return Block.objects.filter(patient=patient).select_related(
        "care_provider", "care_unit"
    ).prefetch_related(
        Prefetch("temporary_revokes",
                 queryset=TemporaryRevoke.objects.select_related("care_unit", "employee__person"))
    )


def block_request_list_for_patient(patient: Person) -> QuerySet[BlockRequest]:
    """All of `patient`'s block requests, newest first, with care provider and unit."""
    return BlockRequest.objects.filter(patient=patient).select_related("care_provider", "care_unit")


def block_request_get_for_patient(patient: Person, request_id: uuid.UUID) -> BlockRequest:
    """`patient`'s own block request `request_id`; NotFound for a missing or another's."""
    request = block_request_list_for_patient(patient).filter(pk=request_id).first()
    if request is None:
        raise NotFound()
    return request


def block_request_list_pending_for_provider(care_provider: Organisation) -> QuerySet[BlockRequest]:
    """Pending block requests about `care_provider`'s information, oldest first (first asked,
    first answered), with the patient, care provider and unit."""
    return BlockRequest.objects.filter(
        care_provider=care_provider, state=BlockRequest.State.PENDING
    ).select_related("patient", "care_provider", "care_unit").order_by("requested_at")


def block_request_get_for_provider(care_provider: Organisation,
                                   request_id: uuid.UUID) -> BlockRequest:
    """Block request `request_id` about `care_provider`'s information, in any state; NotFound for
    a missing one or another care provider's (existence never leaks)."""
    request = BlockRequest.objects.filter(care_provider=care_provider, pk=request_id).select_related(
        "patient", "care_provider", "care_unit", "block").first()
    if request is None:
        raise NotFound()
    return request


def care_provider_list() -> QuerySet[Organisation]:
    """Every care provider, by name: whose information an outer block may hide."""
    return Organisation.objects.filter(is_care_provider=True).order_by("name")


def care_unit_list() -> QuerySet[Organisation]:
    """Every care unit that belongs to a care provider, with it, by care provider and name: whose
    information an inner block may hide."""
    return Organisation.objects.filter(is_care_unit=True, care_provider__isnull=False).select_related(
        "care_provider").order_by("care_provider__name", "name")
