"""Who may register, lift and remove blocks and temporary revokes. Deny by default.

- A staff member acting under one of their own commissions, valid now, for care and treatment
  (purpose "Vård och behandling") at the information-owning care provider registers a block on the
  patient's request, lifts it (hävning) and removes a wrong registration (makulering) (PDL
  2008:355 4 kap. 4 §, 6 kap. 2 §; Inera's Spärr contract).
- A temporary revoke is registered, and ended early, by a staff member acting under such a
  commission at the care unit it is for, where the patient consents or the emergency is
  (docs/decisions.md, "Blocks").
- Nobody acts as staff on blocks of their own records. The system actor (demo data, management
  commands) passes.
- A patient asks for a block of their own records (a block request, docs/decisions.md, "Block
  requests") and withdraws their own pending request; only the patient themself, through their
  patient account. Staff who may register the block (above) confirm or decline the request.
- Guardians cannot block on a child's behalf (domain: PDL 4 kap. 4 §); the portal has no
  guardianship yet, so no path lets anyone but staff at the owner register a block, and a request
  is made only by the patient's own account.

A commission that is missing or someone else's is NotFound (commissions.policies); a block or
temporary revoke outside the actor's care provider or unit is NotFound too (existence never leaks),
except that another care provider's block in force that hides information from the actor's care
unit (`block_hides_from`) is shown to staff there who looked the patient up, to be lifted
temporarily for that unit (docs/decisions.md, "Blocks").
"""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from apps.blocks.models import Block
from apps.commissions.models import Commission, Employee
from apps.commissions.policies import require_act_under_commission
from apps.commissions.vocabularies import Purpose
from apps.core.actors import is_operator
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.organisations.models import Organisation


def _acting_employee(actor: Actor, commission: Commission | None, patient: Person,
                     now: datetime) -> Employee:
    require_act_under_commission(actor, commission, now)
    assert commission is not None  # require_act_under_commission refuses None
    if commission.employee.person_id == patient.pk:
        raise Forbidden(_("You cannot register or change blocks of your own records."),
                        code="block.self")
    if commission.purpose != Purpose.CARE:
        raise Forbidden(_("Choose a commission for care and treatment."),
                        code="block.not_care_commission")
    return commission.employee


@policy
def require_block_list(actor: Actor, commission: Commission | None, now: datetime) -> None:
    """`actor` acts under `commission`, of their own, valid at `now` (UTC), for care and treatment:
    who may list the blocks of that commission's care provider. Raises NotFound for a missing or
    someone else's commission, Forbidden (`block.not_care_commission`) for another purpose."""
    if is_operator(actor):
        return
    require_act_under_commission(actor, commission, now)
    assert commission is not None
    if commission.purpose != Purpose.CARE:
        raise Forbidden(_("Choose a commission for care and treatment."),
                        code="block.not_care_commission")


@policy
def require_block_owner_staff(actor: Actor, commission: Commission | None, patient: Person,
                              care_provider: Organisation, now: datetime, *,
                              existing: bool) -> Employee | None:
    """The acting employee (None for the system actor) when `actor` acts under `commission`, valid
    at `now` (UTC), for care at `care_provider`. Raises NotFound for a missing or someone else's
    commission, and for an `existing` block of another care provider; Forbidden to register at
    another care provider (`block.not_information_owner`), for one's own records (`block.self`) and
    for a commission of another purpose (`block.not_care_commission`)."""
    if is_operator(actor):
        return None
    employee = _acting_employee(actor, commission, patient, now)
    assert commission is not None
    if commission.care_provider_id != care_provider.pk:
        if existing:
            raise NotFound()
        raise Forbidden(_("Only staff at the care provider that owns the information can block it."),
                        code="block.not_information_owner", field="care_provider")
    return employee


@policy
def require_unit_staff(actor: Actor, commission: Commission | None, patient: Person,
                       care_unit: Organisation, now: datetime, *, existing: bool) -> Employee | None:
    """The acting employee (None for the system actor) when `actor` acts under `commission`, valid
    at `now` (UTC), for care at `care_unit`. Raises as `require_block_owner_staff`, with
    `block.not_at_unit` for a new temporary revoke at another unit."""
    if is_operator(actor):
        return None
    employee = _acting_employee(actor, commission, patient, now)
    assert commission is not None
    if commission.care_unit_id != care_unit.pk:
        if existing:
            raise NotFound()
        raise Forbidden(_("Act under a commission at the care unit the block is lifted for."),
                        code="block.not_at_unit", field="care_unit")
    return employee


def block_hides_from(block: Block, care_unit: Organisation) -> bool:
    """Whether `block` hides information from staff at `care_unit`, so that it may be lifted
    temporarily there: for an inner block, any care unit but the block's own, of its care
    provider or another (PDL 2008:355 4 kap. 4 §: the unit's information is hidden from everyone
    else, docs/rules.md); for an outer block, a care unit of another care provider (6 kap. 2 §).
    Not a unit at all: False. The same test as the access decision's (apps.rules.decision)."""
    if not care_unit.is_care_unit or care_unit.care_provider_id is None:
        return False
    if block.block_type == Block.Type.INNER:
        return care_unit.pk != block.care_unit_id
    return care_unit.care_provider_id != block.care_provider_id
@policy
def require_patient_self(actor: Actor, patient: Person, *, existing: bool) -> None:
    """Passes when `actor` is `patient`'s own patient account (a block is the patient's own choice,
    PDL 2008:355 4 kap. 4 §, 6 kap. 2 §; nobody asks on their behalf, not even a guardian).
    Raises NotFound for another patient's `existing` request, Forbidden otherwise
    (`block_request.not_patient`)."""
    if isinstance(actor, User) and actor.kind == User.Kind.PATIENT and actor.person_id == patient.pk:
        return
    if existing and isinstance(actor, User) and actor.kind == User.Kind.PATIENT:
        raise NotFound()
    raise Forbidden(_("Only the patient can ask for a block of their own records."),
                    code="block_request.not_patient")
