"""`manage.py issuance_ca_init`: creates the CA once (key mode 0600), then keeps it."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

from django.core.management import call_command

from apps.issuance import authority


def test_creates_then_keeps_the_ca(settings: Any, tmp_path: Path) -> None:
    settings.ISSUANCE_CA_DIR = tmp_path / "ca"
    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert "Created issuing CA" in out.getvalue()
    paths = authority.ca_paths()
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
    first = paths.cert.read_bytes()

    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert "Kept the existing issuing CA" in out.getvalue()
    assert paths.cert.read_bytes() == first

    paths.key.chmod(0o644)
    out = io.StringIO()
    call_command("issuance_ca_init", stdout=out)
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600 and "Fixed" in out.getvalue()
