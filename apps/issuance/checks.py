"""System checks of the issuance app (registered by IssuanceConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning


def ca_key_permissions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """issuance.W001: the issuing CA's private key is readable by others than its owner."""
    key = settings.ISSUANCE_CA_DIR / "ca.key"
    if key.exists() and key.stat().st_mode & 0o077:
        return [Warning(f"{key} is readable by group or others.",
                        hint=f"chmod 600 {key}", id="issuance.W001")]
    return []
