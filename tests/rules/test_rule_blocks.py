"""Blocks (spärrar) after Inera's CheckBlocks: an inner block hides a unit's information from the
rest of its care provider (PDL 2008:355 4 kap. 4 §) and from other providers; an outer block hides a
care provider's information from other providers (6 kap. 2 §). An excluded information type is not
blocked; a block with an information period blocks only information inside or overlapping it; a
temporary revoke in force for the acting unit (or named employee) lifts it; a lifted or removed
block does not apply."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.blocks import services as blocks
from apps.blocks.models import Block
from apps.core.actors import SYSTEM
from tests.rules.conftest import rule

INNER, OUTER = Block.Type.INNER, Block.Type.OUTER


def test_an_inner_block_hides_the_unit_from_the_rest_of_the_provider(world):
    assert world.ask(world.ortho_doctor).allowed
    world.block(INNER, unit="cardio")
    assert rule(world.ask(world.ortho_doctor)) == "block.inner"
    # the unit itself still reads its own information
    assert world.ask(world.cardio_nurse).allowed
    # information of another unit is not hidden by it
    assert world.ask(world.ortho_doctor, owner_unit="ortho").allowed


def test_an_inner_block_applies_when_the_owner_unit_is_not_named(world):
    world.block(INNER, unit="cardio")
    assert rule(world.ask(world.ortho_doctor, owner_unit=None)) == "block.inner"


def test_an_inner_block_also_hides_the_unit_from_other_providers(world):
    world.consent(world.other_doctor)
    world.block(INNER, unit="cardio")
    assert rule(world.ask(world.other_doctor)) == "block.inner"


def test_an_outer_block_hides_the_provider_from_other_providers_only(world):
    world.consent(world.other_doctor)
    assert world.ask(world.other_doctor).allowed
    world.block(OUTER, unit=None)
    assert rule(world.ask(world.other_doctor)) == "block.outer"
    assert world.ask(world.ortho_doctor).allowed


def test_a_block_of_another_care_provider_does_not_apply(world):
    world.block(OUTER, unit=None, owner="other")
    world.block(INNER, unit="other_unit", owner="other")
    assert world.ask(world.ortho_doctor).allowed


@pytest.mark.parametrize(("excluded", "information_type", "blocked"), [
    (["lak"], "lak", False),
    (["lak"], "dia", True),
    (["lak", "upp"], "upp", False),
    (["lak", "upp"], "alla", True),
    ([], "lak", True),
])
def test_an_excluded_information_type_is_not_blocked(world, excluded, information_type, blocked):
    world.block(INNER, unit="cardio", excluded_types=excluded)
    decision = world.ask(world.ortho_doctor, information_type=information_type)
    assert decision.allowed is not blocked


DAY = timedelta(days=1)


@pytest.mark.parametrize(("case", "info_from", "info_until", "blocked"), [
    ("inside the period", -25, -20, True),
    ("overlapping its start", -40, -25, True),
    ("overlapping its end", -15, -5, True),
    ("wholly before it", -60, -40, False),
    ("wholly after it", -9, -1, False),
    ("of unknown time", None, None, True),
    ("with only a start, after the period", -5, None, False),
    ("with only an end, before the period", None, -35, False),
])
def test_a_block_period_blocks_what_lies_inside_or_overlaps_it(world, case, info_from,
                                                               info_until, blocked):
    now = timezone.now()
    world.block(INNER, unit="cardio", period_start=now - 30 * DAY, period_end=now - 10 * DAY)
    decision = world.ask(
        world.ortho_doctor,
        information_from=None if info_from is None else now + info_from * DAY,
        information_until=None if info_until is None else now + info_until * DAY)
    assert decision.allowed is not blocked, case


def test_a_temporary_revoke_for_the_unit_lifts_the_block(world):
    block = world.block(INNER, unit="cardio")
    assert not world.ask(world.ortho_doctor).allowed
    world.temporary_revoke(block, world.ortho_doctor)
    decision = world.ask(world.ortho_doctor)
    assert decision.allowed
    assert rule(decision) == "allow.care_provider"


def test_a_temporary_revoke_for_one_employee_lifts_it_for_them_only(world):
    from tests.rules.conftest import _staff
    colleague = _staff(world.tree["ortho"], "Ove", "Ortho", ["Läsa;alla;VG"])
    block = world.block(INNER, unit="cardio")
    world.temporary_revoke(block, world.ortho_doctor, named=True)
    assert world.ask(world.ortho_doctor).allowed
    assert rule(world.ask(colleague)) == "block.inner"


def test_a_temporary_revoke_for_another_unit_does_not_lift_it(world):
    block = world.block(INNER, unit="cardio")
    world.consent(world.other_doctor)
    world.temporary_revoke(block, world.ortho_doctor)
    assert rule(world.ask(world.other_doctor)) == "block.inner"
    world.temporary_revoke(block, world.other_doctor)
    assert world.ask(world.other_doctor).allowed


def test_a_temporary_revoke_ended_early_or_expired_no_longer_lifts(world):
    block = world.block(INNER, unit="cardio")
    revoke = world.temporary_revoke(block, world.ortho_doctor, hours=2)
    assert world.ask(world.ortho_doctor).allowed
    assert rule(world.ask(world.ortho_doctor, when=timezone.now() + timedelta(hours=3))) \
        == "block.inner"
    blocks.temporary_revoke_cancel(actor=SYSTEM, commission=None, revoke=revoke,
                                   reason="Visit over")
    assert rule(world.ask(world.ortho_doctor)) == "block.inner"


def test_a_lifted_block_no_longer_applies_and_a_removed_one_never_did(world):
    lifted = world.block(INNER, unit="cardio")
    blocks.block_revoke(actor=SYSTEM, commission=None, block=lifted, reason="Patient asked")
    assert world.ask(world.ortho_doctor).allowed
    removed = world.block(INNER, unit="cardio")
    blocks.block_delete(actor=SYSTEM, commission=None, block=removed, reason="Wrong patient")
    assert world.ask(world.ortho_doctor).allowed


def test_emergency_access_across_providers_does_not_lift_a_block(world):
    world.block(OUTER, unit=None)
    decision = world.ask(world.other_doctor, emergency=True, emergency_reason="Unconscious")
    assert rule(decision) == "block.outer"
    assert decision.verdict.block is not None


def test_an_outer_block_naming_a_unit_hides_only_that_units_information(world):
    world.consent(world.other_doctor)
    world.block(OUTER, unit="ortho")
    assert rule(world.ask(world.other_doctor, owner_unit="ortho")) == "block.outer"
    assert rule(world.ask(world.other_doctor, owner_unit=None)) == "block.outer"
    assert rule(world.ask(world.other_doctor, owner_unit="cardio")) == "allow.consent"


def test_information_ending_as_the_block_period_starts_is_not_blocked(world):
    start = timezone.now() - 30 * DAY
    world.block(INNER, unit="cardio", period_start=start)
    # [from, until) ends exclusive, as every period in the portal: ending at the start is before it
    assert world.ask(world.ortho_doctor, information_until=start).allowed
    assert not world.ask(world.ortho_doctor,
                         information_until=start + timedelta(seconds=1)).allowed
