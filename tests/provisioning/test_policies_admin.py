"""Who administers downstream systems: local administrators of the owning organisation or of one
above it, now; nobody else (deny by default)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import MOBILE_APP, SYSTEM
from apps.core.errors import NotFound
from apps.provisioning import policies
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("organisation, allowed", [
    ("hospital", True), ("cardio", True), ("ortho", True),
    ("region", False), ("primary", False), ("other", False), ("other_unit", False),
])
def test_a_local_administrator_manages_the_systems_of_their_subtree(
        hospital_admin: Any, tree: Any, organisation: str, allowed: bool) -> None:
    assert policies.can_manage_system(hospital_admin, tree[organisation]) is allowed


def test_other_roles_and_devices_manage_nothing(tree: Any) -> None:
    issuer, _ = make_staff(tree["region"], "Ivar", "Issuer")
    commissions.role_grant(actor=SYSTEM, person=issuer.person, role=Role.ISSUER,
                           organisation=tree["region"], valid_from=timezone.now(), valid_until=None)
    nurse, _ = make_staff(tree["cardio"], "Nina", "Nurse", care=True)
    for actor in (issuer, nurse, MOBILE_APP):
        assert not policies.can_manage_system(actor, tree["cardio"])
        with pytest.raises(NotFound):
            policies.require_administer_systems(actor)
    assert policies.can_manage_system(SYSTEM, tree["other_unit"])


def test_an_ended_administrator_role_manages_nothing(tree: Any) -> None:
    former, _ = make_staff(tree["hospital"], "Frida", "Former")
    commissions.role_grant(actor=SYSTEM, person=former.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["hospital"],
                           valid_from=timezone.now() - timedelta(days=10),
                           valid_until=timezone.now() - timedelta(days=1))
    assert not policies.can_manage_system(former, tree["cardio"])
    with pytest.raises(NotFound):
        policies.require_manage_system(former, tree["cardio"])


def test_the_pages_exist_for_a_local_administrator(hospital_admin: Any, tree: Any) -> None:
    assert policies.require_administer_systems(hospital_admin) == [tree["hospital"]]
