"""System checks of the login methods' configuration."""

from __future__ import annotations

from typing import Any

import pytest

from apps.authn.checks import webauthn_relying_party


@pytest.mark.parametrize("rp_id", ["127.0.0.1", "[::1]", "::1"])
def test_an_address_as_relying_party_id_warns(settings: Any, rp_id: str) -> None:
    settings.PORTAL_WEBAUTHN_RP_ID = rp_id
    assert [w.id for w in webauthn_relying_party(None)] == ["authn.W001"]


@pytest.mark.parametrize("rp_id", ["localhost", "portal.example.org"])
def test_a_host_name_passes(settings: Any, rp_id: str) -> None:
    settings.PORTAL_WEBAUTHN_RP_ID = rp_id
    assert webauthn_relying_party(None) == []
