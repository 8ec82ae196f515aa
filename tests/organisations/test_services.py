"""The organisation tree: HSA-ids, care providers and care units."""

from __future__ import annotations

import pytest

from apps.core.actors import SYSTEM
from apps.core.errors import ValidationFailed
from apps.organisations.services import organisation_create


def test_hsa_ids_differing_only_in_case_are_one_id(tree) -> None:
    """`...-ab` beside `...-AB` would fall into the other's subtree on SQLite."""
    organisation_create(actor=SYSTEM, hsa_id="SE2321000016-AB", name="Upper", parent=tree["hospital"])
    with pytest.raises(ValidationFailed) as exc:
        organisation_create(actor=SYSTEM, hsa_id="SE2321000016-ab", name="Lower",
                            parent=tree["hospital"])
    assert str(exc.value.message) == "An organisation with this HSA-id already exists."


def test_a_care_unit_needs_a_care_provider_above_it(db) -> None:
    with pytest.raises(ValidationFailed) as exc:
        organisation_create(actor=SYSTEM, hsa_id="SE2321000016-X1", name="Orphan", is_care_unit=True)
    assert exc.value.code == "organisation.no_care_provider"


def test_a_care_provider_needs_a_valid_organisation_number(db) -> None:
    with pytest.raises(ValidationFailed) as exc:
        organisation_create(actor=SYSTEM, hsa_id="SE2321000016-X2", name="Bad",
                            is_care_provider=True, org_number="232100-0017")
    assert exc.value.field == "org_number"
