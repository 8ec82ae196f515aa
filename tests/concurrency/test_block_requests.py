"""Block requests under concurrency (docs/architecture.md, "Lock order"): two staff members confirm
the same request at the same moment and one block is registered; a confirmation and the patient's
withdrawal race and exactly one wins; many requests sent at once never pass the limit of pending
requests (the patient's row lock)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.blocks import services
from apps.blocks.models import Block, BlockRequest
from apps.commissions.models import Commission
from apps.core.errors import ValidationFailed
from apps.identities.models import User
from tests.concurrency.support import at_once
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def _in_own_connection(call: Any) -> str:
    """Run `call` in this thread's own connection: "ok" when it went through, else the refusal's
    code."""
    try:
        call()
        return "ok"
    except ValidationFailed as exc:
        return exc.code
    finally:
        connection.close()


def _ask(patient: User, tree: Any) -> BlockRequest:
    return services.block_request_submit(actor=patient, patient=patient.person,
                                         block_type=Block.Type.INNER,
                                         care_provider=tree["region"], care_unit=tree["cardio"])


def test_two_confirmations_of_one_request_register_one_block(tree: Any, patient: User) -> None:
    staff = [make_staff(tree["cardio"], "Nina", f"Nurse{i}", care=True) for i in range(2)]
    acting = [(user, Commission.objects.get(employee=employee)) for user, employee in staff]
    for _ in range(3):
        request = _ask(patient, tree)
        answers = at_once([partial(_in_own_connection, partial(
            services.block_request_confirm, actor=user, commission=commission, request=request,
            patient_met=True)) for user, commission in acting])
        assert sorted(answers) == ["block_request.not_pending", "ok"]
        stored = BlockRequest.objects.get(pk=request.pk)
        assert stored.state == BlockRequest.State.CONFIRMED
        assert Block.objects.filter(request=stored).count() == 1
        assert AuditEvent.objects.filter(action="block_request.confirmed",
                                         target_id=str(request.pk)).count() == 1
    # Three requests, three blocks: the losing confirmation left no block behind.
    assert Block.objects.count() == 3
    assert AuditEvent.objects.filter(action="block.registered").count() == 3


def test_a_confirmation_and_a_withdrawal_at_once_one_wins(tree: Any, patient: User) -> None:
    user, employee = make_staff(tree["cardio"], "Nina", "Nurse", care=True)
    commission = Commission.objects.get(employee=employee)
    for _ in range(3):
        request = _ask(patient, tree)
        answers = at_once([
            partial(_in_own_connection, partial(services.block_request_confirm, actor=user,
                                                commission=commission, request=request,
                                                patient_met=True)),
            partial(_in_own_connection, partial(services.block_request_withdraw, actor=patient,
                                                request=request)),
        ])
        assert sorted(answers) == ["block_request.not_pending", "ok"]
        stored = BlockRequest.objects.get(pk=request.pk)
        won_confirm = answers[0] == "ok"
        assert stored.state == (BlockRequest.State.CONFIRMED if won_confirm
                                else BlockRequest.State.WITHDRAWN)
        assert (stored.block is not None) == won_confirm


def test_requests_sent_at_once_never_pass_the_pending_limit(tree: Any, patient: User) -> None:
    for _ in range(3):
        _ask(patient, tree)
    answers = at_once([partial(_in_own_connection, partial(_ask, patient, tree))
                       for _ in range(6)])
    assert sorted(answers) == ["block_request.too_many_pending"] * 4 + ["ok"] * 2
    assert BlockRequest.objects.filter(state=BlockRequest.State.PENDING).count() == 5
