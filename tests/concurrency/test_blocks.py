"""Two staff members lift the same block at the same moment: the block's row lock decides
(docs/architecture.md, "Lock order"), one wins, the other is told it is already lifted, and
exactly one lifting is stored and audited."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.blocks import services
from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions.models import Commission
from apps.core.errors import ValidationFailed
from apps.identities.models import User
from tests.concurrency.support import at_once
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def _revoke(user: User, commission: Commission, block: Block, reason: str) -> str:
    """Lift `block` in this thread's own connection: the reason when it won, else the refusal's code."""
    try:
        services.block_revoke(actor=user, commission=commission, block=block, reason=reason)
        return reason
    except ValidationFailed as exc:
        return exc.code
    finally:
        connection.close()


def test_two_revokes_of_one_block_at_once_lift_it_once(tree: Any, patient: User) -> None:
    staff = [make_staff(tree["cardio"], "Nina", f"Nurse{i}", care=True) for i in range(2)]
    acting = [(user, Commission.objects.get(employee=employee)) for user, employee in staff]
    for round_ in range(3):
        block = services.block_register(actor=acting[0][0], commission=acting[0][1],
                                        patient=patient.person, block_type=Block.Type.INNER,
                                        care_provider=tree["region"], care_unit=tree["cardio"])

        answers = at_once([partial(_revoke, user, commission, block, f"Asked {round_}.{i}")
                           for i, (user, commission) in enumerate(acting)])
        assert sorted(answers)[0].startswith("Asked")
        assert "block.already_revoked" in answers
        stored = Block.objects.get(pk=block.pk)
        assert stored.revoke_reason in answers
        assert AuditEvent.objects.filter(action="block.revoked",
                                         target_id=str(block.pk)).count() == 1


def _lift_for(user: User, commission: Commission, block: Block) -> str:
    """Lift `block` temporarily for the acting unit in this thread's own connection."""
    try:
        services.temporary_revoke_register(
            actor=user, commission=commission, block=block, care_unit=commission.care_unit,  # type: ignore[arg-type]
            reason="patients_consent", valid_until=timezone.now() + timedelta(hours=4))
        return "lifted"
    except ValidationFailed as exc:
        return exc.code
    finally:
        connection.close()


def test_two_temporary_revokes_for_one_unit_at_once_make_one(tree: Any, patient: User) -> None:
    owner, owner_employee = make_staff(tree["cardio"], "Nina", "Nurse", care=True)
    staff = [make_staff(tree["ortho"], "Olle", f"Ortho{i}", care=True) for i in range(2)]
    block = services.block_register(
        actor=owner, commission=Commission.objects.get(employee=owner_employee),
        patient=patient.person, block_type=Block.Type.INNER, care_provider=tree["region"],
        care_unit=tree["cardio"])
    answers = at_once([partial(_lift_for, user, Commission.objects.get(employee=employee), block)
                       for user, employee in staff])
    assert sorted(answers) == ["lifted", "temporary_revoke.already_lifted"]
    assert TemporaryRevoke.objects.filter(block=block).count() == 1
