"""Access needs a care relationship (aktuell patientrelation): inside the care provider PDL
2008:355 4 kap. 1 §, across care providers 6 kap. 3 § 1 p. The record system asserts it."""

from __future__ import annotations

import pytest

from tests.rules.conftest import rule


@pytest.mark.parametrize("across", [False, True], ids=["inside the provider", "across providers"])
def test_without_a_care_relationship_access_is_denied(world, across):
    who = world.other_doctor if across else world.cardio_nurse
    if across:
        world.consent(who)
    assert world.ask(who).allowed
    decision = world.ask(who, care_relationship=False)
    assert rule(decision) == "care_relationship.missing"


def test_a_care_relationship_does_not_stand_in_for_a_right(world):
    assert rule(world.ask(world.cardio_nurse, owner_unit="ortho")) == "right.missing"
