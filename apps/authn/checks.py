"""System checks of the login methods' configuration."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import Warning as CheckWarning
from django.core.checks import register


@register()
def webauthn_relying_party(app_configs: Any, **kwargs: Any) -> list[CheckWarning]:
    """A WebAuthn relying party ID must be a domain: browsers refuse passkeys whose RP ID is an IP
    address (W3C Web Authentication Level 2, 5.1.2, and the HTML standard's "valid domain"), so a
    portal served at http://127.0.0.1 could neither register nor use one."""
    rp_id = settings.PORTAL_WEBAUTHN_RP_ID.strip("[]")
    try:
        ipaddress.ip_address(rp_id)
    except ValueError:
        return []
    return [CheckWarning(
        f"PORTAL_WEBAUTHN_RP_ID is the address {rp_id}: browsers refuse passkeys for an address.",
        hint="Serve the portal by a host name (PORTAL_BASE_URL=http://localhost:8000 in "
             "development) or set PORTAL_WEBAUTHN_RP_ID to one.", id="authn.W001")]
