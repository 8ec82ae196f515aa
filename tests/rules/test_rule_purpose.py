"""Patient information is processed for care and treatment, under a commission for it (PDL
2008:355 2 kap. 4 §, 4 kap. 1 §; clinical e-services accept only "Vård och behandling")."""

from __future__ import annotations

import pytest

from tests.rules.conftest import _staff, rule

CASES = [
    ("care asked under a care commission", "Vård och behandling", "Vård och behandling", True),
    ("statistics asked under a care commission", "Vård och behandling", "Statistik", False),
    ("care asked under a quality assurance commission", "Kvalitetssäkring",
     "Vård och behandling", False),
    ("administration asked under an administration commission", "Administration",
     "Administration", False),
]


@pytest.mark.parametrize(("case", "commission_purpose", "asked", "allowed"), CASES,
                         ids=[c[0] for c in CASES])
def test_only_care_and_treatment_reads(world, case, commission_purpose, asked, allowed):
    staff = _staff(world.tree["cardio"], "Pia", "Purpose", ["Läsa;alla;VE"],
                   purpose=commission_purpose)
    decision = world.ask(staff, purpose=asked)
    assert decision.allowed is allowed
    if not allowed:
        assert rule(decision) == "purpose.not_allowed"
