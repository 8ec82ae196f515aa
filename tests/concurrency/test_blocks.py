"""Two staff members lift the same block at the same moment: the block's row lock decides
(docs/architecture.md, "Lock order"), one wins, the other is told it is already lifted, and
exactly one lifting is stored and audited."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.blocks import services
from apps.blocks.models import Block
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
