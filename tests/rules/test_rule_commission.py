"""The commission must be valid when the access happens (HSLF-FS 2016:40 4 kap. 2 §): a commission
that expired or was ended mid-session, or that has not begun, gives no access."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from tests.rules.conftest import _staff, rule


def test_a_valid_commission_at_its_own_unit_reads(world):
    decision = world.ask(world.cardio_nurse)
    assert decision.allowed
    assert rule(decision) == "allow.care_provider"


@pytest.mark.parametrize(("case", "offset"), [("later today", timedelta(hours=2)),
                                              ("a year ahead", timedelta(days=365))])
def test_a_commission_that_has_not_begun_is_denied(world, case, offset):
    later = _staff(world.tree["cardio"], "Frida", "Future", ["Läsa;alla;VE"],
                   valid_from=timezone.now() + offset)
    assert rule(world.ask(later)) == "commission.not_valid"


def test_a_commission_that_expired_mid_session_is_denied(world):
    expiring = _staff(world.tree["cardio"], "Eva", "Expiring", ["Läsa;alla;VE"],
                      valid_until=timezone.now() + timedelta(hours=1))
    assert world.ask(expiring).allowed
    later = timezone.now() + timedelta(hours=2)
    assert rule(world.ask(expiring, when=later)) == "commission.not_valid"


def test_a_commission_ended_early_is_denied_at_once(world):
    assert world.ask(world.cardio_nurse).allowed
    commissions.commission_end(actor=SYSTEM, commission=world.cardio_nurse.commission,
                               reason="Left the unit")
    assert rule(world.ask(world.cardio_nurse)) == "commission.not_valid"
