"""A right `activity;information class;scope` of the commission must cover the activity, the
information type and the owner (PDL 2008:355 4 kap. 2 §; HSLF-FS 2016:40 4 kap. 2 §). Scopes: VE
the commission's own unit, VG every unit of its care provider, SJF other care providers."""

from __future__ import annotations

import pytest

from tests.rules.conftest import _staff, rule

# (case, rights, owner, owner unit, activity, information type, allowed)
CASES = [
    ("VE reads its own unit", ["Läsa;alla;VE"], "region", "cardio", "Läsa", "lak", True),
    ("VE does not reach another unit", ["Läsa;alla;VE"], "region", "ortho", "Läsa", "lak", False),
    ("VE needs the owner unit", ["Läsa;alla;VE"], "region", None, "Läsa", "lak", False),
    ("VG reaches another unit", ["Läsa;alla;VG"], "region", "ortho", "Läsa", "lak", True),
    ("VG covers the own unit", ["Läsa;alla;VG"], "region", "cardio", "Läsa", "lak", True),
    ("VG without a named unit", ["Läsa;alla;VG"], "region", None, "Läsa", "lak", True),
    ("VG does not reach another care provider", ["Läsa;alla;VG"], "other", "other_unit",
     "Läsa", "lak", False),
    ("SJF does not replace VG inside the provider", ["Läsa;alla;SJF"], "region", "ortho",
     "Läsa", "lak", False),
    ("reading is not writing", ["Läsa;alla;VE"], "region", "cardio", "Skriva", "lak", False),
    ("writing needs a write right", ["Skriva;alla;VE"], "region", "cardio", "Skriva", "dia",
     True),
    ("a medication right reads medication", ["Läsa;lak;VE"], "region", "cardio", "Läsa", "lak",
     True),
    ("a medication right does not read diagnoses", ["Läsa;lak;VE"], "region", "cardio", "Läsa",
     "dia", False),
    ("a medication right does not read all information", ["Läsa;lak;VE"], "region", "cardio",
     "Läsa", "alla", False),
    ("an all-information right reads all information", ["Läsa;alla;VE"], "region", "cardio",
     "Läsa", "alla", True),
    ("printing needs a print right", ["Läsa;alla;VE"], "region", "cardio", "Utskrift", "lak",
     False),
]


@pytest.mark.parametrize(("case", "rights", "owner", "unit", "activity", "info", "allowed"),
                         CASES, ids=[c[0] for c in CASES])
def test_a_right_must_cover_the_request(world, case, rights, owner, unit, activity, info,
                                        allowed):
    staff = _staff(world.tree["cardio"], "Rita", "Rights", rights)
    if owner == "other":  # across providers the consent is needed too: give it
        world.consent(staff)
    decision = world.ask(staff, owner=owner, owner_unit=unit, activity=activity,
                         information_type=info)
    assert decision.allowed is allowed, rule(decision)
    if not allowed:
        assert rule(decision) == "right.missing"
