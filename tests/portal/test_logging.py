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
    """Found: every 4xx line appeared twice in `make run`'s output: Django's default
    configuration gives the "django" logger a console handler of its own (debug on) that also
    propagates to the root logger's console handler."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "true",
           "PORTAL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "DJANGO_ALLOWED_HOSTS": "testserver", "LOG_LEVEL": "INFO"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    lines = [line for line in result.stderr.splitlines() if "Not Found: /no/such/page/" in line]
    assert len(lines) == 1, result.stderr


def test_a_refusal_is_logged_as_one_line_without_a_traceback(rf, caplog) -> None:
    """Found: each 403 of a refused action printed two chained tracebacks into the
    console; a refusal is an answer, not a crash."""
    import logging

    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpResponse

    from apps.core.errors import Forbidden, NotFound
    from apps.core.middleware import PortalErrorMiddleware

    def request(path: str):  # type: ignore[no-untyped-def]
        made = rf.get(path)
        made.session, made.user = SessionStore(), AnonymousUser()
        return made

    middleware = PortalErrorMiddleware(lambda request: HttpResponse())
    with caplog.at_level(logging.WARNING):
        forbidden = middleware.process_exception(request("/x/"), Forbidden("No."))
        missing = middleware.process_exception(request("/y/"), NotFound())
    assert forbidden is not None and forbidden.status_code == 403
    assert missing is not None and missing.status_code == 404
    assert not any(record.exc_info for record in caplog.records)
