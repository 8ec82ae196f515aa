"""`manage.py scim_target`: the local SCIM target of `make run` (a real scim2-server), its token
kept once under `var/`, and the stop and start the README's provisioning journey uses."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from apps.demo import scim_target
from apps.demo.management.commands import scim_target as command
from apps.provisioning.schema import HSA_USER_SCHEMA

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.fixture
def development(settings: Any, tmp_path: Path) -> Path:
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    settings.DEMO_SCIM_TARGET_URL = f"http://127.0.0.1:{_free_port()}"
    return tmp_path


def test_refused_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=true"):
        call_command("scim_target", "stop")


def test_the_token_is_drawn_once_and_readable_by_the_owner_only(development: Path) -> None:
    first = scim_target.ensure_config()
    assert first["base_url"] == f"{django_settings.DEMO_SCIM_TARGET_URL}/v2"
    assert len(first["token"]) >= 43
    assert scim_target.ensure_config() == first
    assert stat.S_IMODE(scim_target.config_path().stat().st_mode) == 0o600


def test_served_with_the_portals_schemas_stopped_and_kept_stopped(development: Path) -> None:
    """Served (as runportal serves it), it answers with the token only, knows the HSA extension
    on its User resource type, and `stop` ends it and leaves it held for runportal."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "true",
           "PORTAL_VAR_DIR": str(development),
           "PORTAL_DEMO_SCIM_TARGET_URL": django_settings.DEMO_SCIM_TARGET_URL}
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "manage.py", "scim_target"],
                              cwd=django_settings.BASE_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not command.answers():
            assert server.poll() is None and time.monotonic() < deadline, "the target did not start"
            time.sleep(0.3)
        config = scim_target.ensure_config()
        base = config["base_url"]
        assert _get(f"{base}/Users")[0] == 401
        status, users = _get(f"{base}/Users", config["token"])
        assert (status, users["totalResults"]) == (200, 0)
        _, user_type = _get(f"{base}/ResourceTypes/User", config["token"])
        assert {"schema": HSA_USER_SCHEMA, "required": False} in user_type["schemaExtensions"]
        assert _get(f"{base}/Schemas/{HSA_USER_SCHEMA}", config["token"])[0] == 200

        out = StringIO()
        call_command("scim_target", "stop", stdout=out)
        assert "Stopped the local SCIM target" in out.getvalue()
        assert server.wait(timeout=10) is not None
        assert not command.answers()
        assert scim_target.stopped_path().exists()
    finally:
        server.kill()
        server.communicate()


def test_start_without_make_run_says_how_to_serve_it(development: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(command, "START_WAIT_SECONDS", 0.5)
    call_command("scim_target", "stop", stdout=StringIO())
    with pytest.raises(CommandError, match="is `make run` running"):
        call_command("scim_target", "start")
    assert not scim_target.stopped_path().exists()


def test_a_token_beginning_with_a_hyphen_is_passed_as_the_token(tmp_path: Path) -> None:
    """URL-safe base64 tokens begin with "-" one time in 64; the server must not read it as an
    option of its command line."""
    from scim2_server.testserver.cli import build_parser

    command = scim_target.server_command(host="127.0.0.1", port=8003, token="-abc",
                                         directory=tmp_path)
    arguments = build_parser().parse_args(command[3:])
    assert arguments.bearer_token == ["-abc"]
