"""Fixtures of the provisioning tests."""

from __future__ import annotations

import pytest

from apps.organisations.models import Organisation
from apps.provisioning import credentials
from apps.provisioning.models import DownstreamSystem


def downstream_system(name: str, owner: Organisation, *scope: Organisation,
                      state: str = DownstreamSystem.State.ENABLED) -> DownstreamSystem:
    """A downstream system of `owner` receiving the people of `scope`, as registered in
    administration (bearer token; its pushes are not run by these tests)."""
    system = DownstreamSystem.objects.create(
        organisation=owner, name=name, base_url="http://127.0.0.1:9/scim/v2",
        auth_method=DownstreamSystem.AuthMethod.BEARER,
        credentials=credentials.encrypt({"token": "not-used"}), state=state,
        created_by_label="system:portal")
    system.scope.set(scope)
    return system


@pytest.fixture
def systems(tree: dict[str, Organisation]) -> dict[str, DownstreamSystem]:
    """`record`: the region's record system (the whole region); `clinic`: the other care
    provider's system; `directory`: a paused directory of the hospital."""
    return {
        "record": downstream_system("Region record system", tree["region"], tree["region"]),
        "clinic": downstream_system("Clinic system", tree["other"], tree["other"]),
        "directory": downstream_system("Hospital directory", tree["region"], tree["hospital"],
                                       state=DownstreamSystem.State.PAUSED),
    }
