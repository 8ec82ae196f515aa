"""Reads of the rules service: emergency openings (nödöppningar) for the care provider's
follow-up (PDL 2008:355 4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §), in an administrator's scope.

An opening belongs to the care unit its commission sits at, or to the care provider for a
commission without a unit; it is in scope when that organisation lies in one of the scope roots'
subtrees (`apps.commissions.policies.scope_roots`). A page is one statement: the opening with its
staff member, patient, units and the patient's identity number joined in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery

from apps.core.errors import NotFound
from apps.identities.identifiers import OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER
from apps.identities.models import IdentityNumber
from apps.organisations.models import Organisation
from apps.organisations.selectors import subtree_q
from apps.rules.models import EmergencyOpening


def _in_scope(roots: list[Organisation]) -> Q:
    """Openings whose unit (or, without one, care provider) lies in the subtree of a root."""
    return (Q(care_unit__isnull=False) & subtree_q(roots, "care_unit__")) | (
        Q(care_unit__isnull=True) & subtree_q(roots, "care_provider__"))


def _with_everything(openings: QuerySet[EmergencyOpening]) -> QuerySet[EmergencyOpening]:
    """Joined: the staff member (commission → employee → person), the patient, the acting and
    the owning organisations; annotated: the patient's personnummer or samordningsnummer
    (`patient_number`, the stored 12 digits)."""
    number = IdentityNumber.objects.filter(
        person=OuterRef("patient_id"), root__in=[OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER]
    ).values("extension")[:1]
    return openings.select_related(
        "commission__employee__person", "patient", "care_provider", "care_unit",
        "owner_provider", "owner_unit",
    ).annotate(patient_number=Subquery(number))


@dataclass(frozen=True)
class OpeningPosition:
    """A keyset position in a list of openings (opened_at UTC, id): the next page holds the
    openings strictly after it in the list's order. `encode()` gives the text carried in a link;
    `decode()` reads it back and raises ValueError for anything else. A position only says where
    to continue: the scope is applied again on every page, so a crafted one shows nothing more."""

    opened_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return f"{self.opened_at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}_{self.id.hex}"

    @classmethod
    def decode(cls, text: str) -> OpeningPosition:
        when, separator, pk = text.partition("_")
        if not separator:
            raise ValueError("not an opening position")
        opened_at = datetime.strptime(when, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        return cls(opened_at, uuid.UUID(hex=pk))


def emergency_opening_page_in_scope(
    roots: list[Organisation], *, reviewed: bool, after: OpeningPosition | None = None,
    size: int = 50,
) -> tuple[list[EmergencyOpening], OpeningPosition | None]:
    """One page of the openings in the scope of `roots`, in one statement: not yet followed up
    (`reviewed` False) oldest first, the ones to act on first; followed up (`reviewed` True)
    newest first. At most `size` openings after `after`, and the position of the next page (None
    when there is none). Each opening carries `patient_number` (stored digits, or None). No roots:
    nothing (deny by default)."""
    openings = EmergencyOpening.objects.filter(_in_scope(roots), reviewed_at__isnull=not reviewed)
    if reviewed:
        order = ["-opened_at", "-id"]
        if after is not None:
            openings = openings.filter(Q(opened_at__lt=after.opened_at)
                                       | Q(opened_at=after.opened_at, id__lt=after.id))
    else:
        order = ["opened_at", "id"]
        if after is not None:
            openings = openings.filter(Q(opened_at__gt=after.opened_at)
                                       | Q(opened_at=after.opened_at, id__gt=after.id))
    rows = list(_with_everything(openings).order_by(*order)[:size + 1])
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], OpeningPosition(last.opened_at, last.id)


def emergency_opening_get_in_scope(roots: list[Organisation],
                                   opening_id: uuid.UUID) -> EmergencyOpening:
    """The opening `opening_id` with everything a page shows (one statement), when it lies in the
    scope of `roots`. Raises NotFound for a missing one and for one outside the scope alike."""
    found = _with_everything(EmergencyOpening.objects.filter(_in_scope(roots), pk=opening_id)
                             ).first()
    if found is None:
        raise NotFound()
    return found
