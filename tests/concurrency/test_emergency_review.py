"""Two administrators follow up the same emergency opening at the same moment: the opening's row
lock decides (`apps.rules.services.emergency_review`), one wins, the other is told it has been
followed up already, and exactly one follow-up is stored and audited."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.core.errors import ValidationFailed
from apps.identities.models import User
from apps.rules import services
from apps.rules.models import EmergencyOpening
from tests.concurrency.support import at_once
from tests.conftest import make_staff
from tests.rules.support import care_commission, open_emergency

pytestmark = pytest.mark.django_db(transaction=True)


def _review(admin: User, opening: EmergencyOpening, comment: str) -> str:
    """Follow up in this thread's own connection: the comment when it won, else the refusal's
    code."""
    try:
        services.emergency_review(actor=admin, opening=opening, comment=comment)
        return comment
    except ValidationFailed as exc:
        return exc.code
    finally:
        connection.close()


def test_two_follow_ups_of_one_opening_at_once_store_one(tree: Any, patient: User) -> None:
    admins = []
    for name in ("Astrid", "Berit"):
        admin, _ = make_staff(tree["hospital"], name, "Admin")
        commissions.role_grant(actor=SYSTEM, person=admin.person, role=Role.LOCAL_ADMIN,
                               organisation=tree["hospital"], valid_from=timezone.now(),
                               valid_until=None)
        admins.append(admin)
    _nina, nina = make_staff(tree["cardio"], "Nina", "Nurse")
    commission = care_commission(nina, tree["cardio"], ["Läsa;alla;SJF"])
    for round_ in range(3):
        opening = open_emergency(commission, patient.person, tree["other_unit"])
        answers = at_once([partial(_review, admin, opening, f"Checked {round_}.{i}")
                           for i, admin in enumerate(admins)])
        assert sorted(answers) == sorted([answers[0], answers[1]])
        assert answers.count("emergency.already_reviewed") == 1, answers
        won = next(a for a in answers if a.startswith("Checked"))
        assert EmergencyOpening.objects.get(pk=opening.pk).review_comment == won
        events = AuditEvent.objects.filter(action="emergency_access.reviewed",
                                           target_id=str(opening.pk))
        assert [e.reason for e in events] == [won]
