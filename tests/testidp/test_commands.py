"""`manage.py testidp` and `testidp_init`: development only; keys made once."""

from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from apps.demo.management.commands.testidp import parse_addrport


@pytest.mark.parametrize("command", ["testidp", "testidp_init"])
def test_refused_with_debug_off(settings: Any, command: str) -> None:
    settings.DEBUG = False
    settings.TESTIDP_ENABLED = True  # even if a settings file said so
    with pytest.raises(CommandError, match="only in development: set DJANGO_DEBUG=true") as caught:
        call_command(command)
    assert "\n" not in str(caught.value)


def test_refused_when_disabled(settings: Any) -> None:
    settings.DEBUG, settings.TESTIDP_ENABLED = True, False
    with pytest.raises(CommandError):
        call_command("testidp")


def test_enabled_exactly_when_debug_is() -> None:
    source = (Path(django_settings.BASE_DIR) / "portal" / "settings" / "base.py").read_text()
    assert "TESTIDP_ENABLED: bool = DEBUG\n" in source
    # Assigned once, from DEBUG alone (never from the environment).
    assert len(re.findall(r"^TESTIDP_ENABLED\b.*=", source, re.M)) == 1


def test_init_creates_keys_once_and_then_prints_nothing(settings: Any, tmp_path: Path) -> None:
    settings.DEBUG, settings.TESTIDP_KEY_DIR = True, tmp_path / "testidp"
    out = io.StringIO()
    call_command("testidp_init", stdout=out)
    assert "metadata-cert.pem" in out.getvalue()
    assert (tmp_path / "testidp" / "metadata-cert.pem").exists()
    assert oct((tmp_path / "testidp" / "staff-key.pem").stat().st_mode & 0o777) == "0o600"
    before = (tmp_path / "testidp" / "staff-cert.pem").read_bytes()
    again = io.StringIO()
    call_command("testidp_init", stdout=again)
    assert again.getvalue() == ""
    assert (tmp_path / "testidp" / "staff-cert.pem").read_bytes() == before


def test_addrport() -> None:
    assert parse_addrport("127.0.0.1:8001") == ("127.0.0.1", 8001)
    assert parse_addrport("9000") == ("127.0.0.1", 9000)
    with pytest.raises(CommandError):
        parse_addrport("localhost:http")


def test_no_portal_app_imports_the_test_idp() -> None:
    """The import-linter contract names every app but the test IdP, so a new app is covered."""
    base = Path(django_settings.BASE_DIR)
    config = tomllib.loads((base / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"]
                    if c.get("forbidden_modules") == ["apps.testidp"])
    apps = {f"apps.{path.parent.name}" for path in (base / "apps").glob("*/__init__.py")}
    assert set(contract["source_modules"]) == (apps - {"apps.testidp"}) | {"portal"}
