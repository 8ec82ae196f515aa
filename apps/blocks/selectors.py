"""Reads of blocks, temporary revokes and block requests for the pages (a block, temporary revoke or
request outside the acting care provider or unit is NotFound, so existence never leaks; only
another care provider's block in force that hides information from the acting care unit is read
for that unit, `block_list_hiding_from` and `block_get_hiding_from`). The access decision reads its
own facts (apps.rules.facts)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from apps.blocks import policies
from apps.blocks.models import Block, BlockRequest, TemporaryRevoke
from apps.commissions.models import Employee
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


#: The order of a care provider's list of blocks, newest registration first: a total order the
#: index `block_provider_registered_idx` covers, the keyset of its pages.
BLOCK_LIST_KEYS = ("-registered_at", "-id")


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
            .prefetch_related("patient__identity_numbers").order_by(*BLOCK_LIST_KEYS))


def block_get(block_id: uuid.UUID, care_provider: Organisation) -> Block:
    """The block `block_id` of `care_provider`'s information, with its patient, care provider and
    care unit. Raises NotFound when there is none, or it is another care provider's."""
    block = (Block.objects.select_related("patient", "care_provider", "care_unit")
             .filter(pk=block_id, care_provider=care_provider).first())
    if block is None:
        raise NotFound()
    return block


def _hides_from(care_unit: Organisation) -> Q:
    """Blocks that hide information from staff at `care_unit`, as a queryset filter: the same
    test as `policies.block_hides_from` (an inner block: any unit but its own; an outer block: a
    unit of another care provider)."""
    return (Q(block_type=Block.Type.INNER) & ~Q(care_unit=care_unit)) | (
        Q(block_type=Block.Type.OUTER) & ~Q(care_provider_id=care_unit.care_provider_id))


def block_list_hiding_from(patient: Person, care_unit: Organisation, *, employee: Employee,
                           when: datetime) -> list[Block]:
    """`patient`'s blocks in force at `when` (UTC) of care providers other than `care_unit`'s that
    hide information from `care_unit` (`policies.block_hides_from`): what staff at the unit cannot
    read (PDL 2008:355 4 kap. 4 §, 6 kap. 2 §; docs/decisions.md, "Blocks"). Ordered by the owner
    care provider's name, then newest first, with the care provider and unit. Each block carries
    the temporary revoke in force at `when` that lifts it for `care_unit`'s staff or for
    `employee`, the one ending last: `lifted_until` (UTC, None when none),
    `lifted_revoke_id` and `lifted_employee_id` (None for all staff at the unit). One query; a
    `care_unit` that is no care unit gets an empty list."""
    if not care_unit.is_care_unit or care_unit.care_provider_id is None:
        return []
    lifting = (TemporaryRevoke.objects.in_force_at(when)
               .filter(Q(employee__isnull=True) | Q(employee=employee), block=OuterRef("pk"),
                       care_unit=care_unit)
               .order_by("-valid_until", "-registered_at"))
    blocks = (Block.objects.in_force_at(when)
              .filter(_hides_from(care_unit), patient=patient)
              .exclude(care_provider_id=care_unit.care_provider_id)
              .annotate(lifted_until=Subquery(lifting.values("valid_until")[:1]),
                        lifted_revoke_id=Subquery(lifting.values("pk")[:1]),
                        lifted_employee_id=Subquery(lifting.values("employee_id")[:1]))
              .select_related("care_provider", "care_unit")
              .order_by("care_provider__name", "-registered_at", "-id"))
    return [b for b in blocks if policies.block_hides_from(b, care_unit)]


def block_get_hiding_from(block_id: uuid.UUID, care_unit: Organisation) -> Block:
    """The block `block_id` that hides information from staff at `care_unit`
    (`policies.block_hides_from`), so that it may be lifted temporarily there (Inera's Spärr
    contract; docs/decisions.md, "Blocks"), with its patient, care provider and care unit: a block
    of `care_unit`'s own care provider in any state (its staff see its whole history; a lifted or
    removed one is then refused on the form), or another care provider's block in force now.
    Raises NotFound when there is none, it hides nothing from `care_unit`, or it is another care
    provider's lifted or removed block (existence never leaks)."""
    block = (Block.objects.select_related("patient", "care_provider", "care_unit")
             .filter(pk=block_id).first())
    if block is None or not policies.block_hides_from(block, care_unit):
        raise NotFound()
    if block.care_provider_id != care_unit.care_provider_id and (
            block.status != Block.Status.ACTIVE or block.registered_at > timezone.now()):
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
