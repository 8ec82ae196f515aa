"""Reads of blocks, temporary revokes and block requests for the pages (a block, temporary revoke or
request outside the acting care provider or unit is NotFound, so existence never leaks). The access
decision reads its own facts (apps.rules.facts)."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, Q, QuerySet

from apps.blocks.models import Block, BlockRequest, TemporaryRevoke
from apps.core.errors import NotFound
from apps.identities.models import Person
from apps.organisations.models import Organisation

#: Block states a list can be filtered by (Block.Status), as queryset filters.
_STATUS_FILTERS = {
    Block.Status.ACTIVE: Q(revoked_at__isnull=True, deleted_at__isnull=True),
    Block.Status.REVOKED: Q(revoked_at__isnull=False),
    Block.Status.DELETED: Q(deleted_at__isnull=False),
}


def _revokes() -> Prefetch:  # type: ignore[type-arg]
    return Prefetch("temporary_revokes", queryset=TemporaryRevoke.objects.select_related(
        "care_unit", "employee__person").order_by("-registered_at"))


def block_list_for_patient(patient: Person,
                           care_provider: Organisation | None = None) -> QuerySet[Block]:
    """All of `patient`'s blocks (active, lifted and removed), of `care_provider`'s information
    only when given (the staff pages; the patient's own page shows all), newest first, with their
    care provider and unit and their temporary revokes (newest first, with unit and employee): one
    query for the blocks, one for all their temporary revokes."""
    blocks = Block.objects.filter(patient=patient)
    if care_provider is not None:
        blocks = blocks.filter(care_provider=care_provider)
    return (blocks.select_related("care_provider", "care_unit").prefetch_related(_revokes())
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
