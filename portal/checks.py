"""System checks run at start-up (`manage.py check`, `runserver`, `migrate`).

`PORTAL_REQUIRED_PROGRAMS` maps each system program the portal needs to the Debian package that
provides it; a missing one stops start-up with the command that installs it. Checks of one app's
own configuration live in that app (`apps/<app>/checks.py`, registered by its AppConfig).
"""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def required_programs(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """portal.E001: a required system program is not on PATH."""
    return [
        Error(f"The system program {program!r} is not installed.",
              hint=f"Install it: apt-get install {package}", id="portal.E001")
        for program, package in settings.PORTAL_REQUIRED_PROGRAMS.items()
        if shutil.which(program) is None
    ]
