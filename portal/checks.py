"""System checks run at start-up (`manage.py check`, `runserver`, `migrate`).

`PORTAL_REQUIRED_PROGRAMS` maps each system program the portal needs to the Debian package that
provides it; a missing one stops start-up with the command that installs it. (SAML login will add
`xmlsec1`; roadmap item 2.)
"""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def required_programs(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """portal.E001: a required system program is not on PATH."""
    return [
        Error(f"The system program {program!r} is not installed.",
              hint=f"Install it: apt-get install {package}", id="portal.E001")
        for program, package in settings.PORTAL_REQUIRED_PROGRAMS.items()
        if shutil.which(program) is None
    ]


@register()
def ca_key_permissions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """portal.W001: the issuing CA's private key is readable by others than its owner."""
    key = settings.ISSUANCE_CA_DIR / "ca.key"
    if key.exists() and key.stat().st_mode & 0o077:
        return [Warning(f"{key} is readable by group or others.",
                        hint=f"chmod 600 {key}", id="portal.W001")]
    return []
