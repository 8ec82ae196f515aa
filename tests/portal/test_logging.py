"""Logging settings: each record is written once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

SCRIPT = """
import django
django.setup()
from django.test import Client
Client().get("/no/such/page/")
"""


def test_a_404_is_logged_once_with_debug_on(tmp_path: Path) -> None:
    """Newcomer report: every 4xx line appeared twice in `make run`'s output: Django's default
    configuration gives the "django" logger a console handler of its own (debug on) that also
    propagates to the root logger's console handler."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "true",
           "PORTAL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "DJANGO_ALLOWED_HOSTS": "testserver", "LOG_LEVEL": "INFO"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    lines = [line for line in result.stderr.splitlines() if "Not Found: /no/such/page/" in line]
    assert len(lines) == 1, result.stderr
