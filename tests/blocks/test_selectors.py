"""Reads of blocks for the staff pages: which blocks hide information from a care unit agrees
with the policy the service and the access decision use (`policies.block_hides_from`)."""

from __future__ import annotations

from itertools import product

import pytest
from django.utils import timezone

from apps.blocks import policies, selectors, services
from apps.blocks.models import Block
from apps.core.actors import SYSTEM
from apps.core.errors import NotFound


def test_the_queryset_filter_agrees_with_the_policy(tree, patient, nurse):
    units = ("cardio", "ortho", "other_unit")
    blocks = [
        services.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                                block_type=block_type, care_provider=tree[unit].care_provider,
                                care_unit=tree[unit])
        for block_type, unit in product(Block.Type.values, units)
    ]
    blocks.append(services.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                                          block_type=Block.Type.OUTER, care_provider=tree["other"]))
    for unit in (tree[u] for u in units):
        by_policy = {b.pk for b in blocks if policies.block_hides_from(b, unit)}
        by_query = set(Block.objects.filter(selectors._hides_from(unit))
                       .values_list("pk", flat=True))
        assert by_query == by_policy
        other = {b.pk for b in selectors.block_list_hiding_from(
            patient.person, unit, employee=nurse[1], when=timezone.now())}
        assert other == {pk for pk in by_policy
                         if Block.objects.get(pk=pk).care_provider_id != unit.care_provider_id}
        for block in blocks:
            if block.pk in by_policy:
                assert selectors.block_get_hiding_from(block.pk, unit) == block
            else:
                with pytest.raises(NotFound):
                    selectors.block_get_hiding_from(block.pk, unit)


def test_no_care_unit_sees_nothing(tree, patient, nurse):
    block = services.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                                    block_type=Block.Type.OUTER, care_provider=tree["other"])
    assert selectors.block_list_hiding_from(patient.person, tree["hospital"], employee=nurse[1],
                                            when=timezone.now()) == []
    with pytest.raises(NotFound):
        selectors.block_get_hiding_from(block.pk, tree["hospital"])
