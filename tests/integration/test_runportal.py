"""`make run`'s supervisor: serves pages with a worker, Celery beat, the test IdP and the local
SCIM target, restarts a stopped worker or beat, keeps the SCIM target stopped while stopped on
purpose, stops all of them (with their own children) on SIGTERM, and sends the e-mail of an e-ID
bound while no worker ran."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.management.commands.runportal import POLL_SECONDS
from tests.portal.support import unreachable_broker_url

pytestmark = pytest.mark.integration

#: Binds a mobile e-ID to the demo nurse through the services, as the activation API does.
BIND_EID = """
from apps.core.actors import MOBILE_APP, SYSTEM
from apps.identities.models import User
from apps.issuance import services
from tests.issuance.support import device_csr

person = User.objects.get(username="sara.staff").person
issued = services.activation_code_issue(actor=SYSTEM, person=person)
services.activation_code_redeem(actor=MOBILE_APP, csr_pem=device_csr()[1], device_name="Phone",
                                qr_payload=issued.qr_payload)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate, seconds: float = 60) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _answers(url: str) -> bool:
    try:
        return bool(urllib.request.urlopen(url, timeout=2).status == 200)
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:  # gone meanwhile
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # not a zombie
    except OSError:
        return False


def _development_env(var_dir: Path) -> dict[str, str]:
    """`make run`'s environment: debug defaults (SQLite, filesystem broker) under `var_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_"))}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings.base", DJANGO_DEBUG="true",
               PORTAL_VAR_DIR=str(var_dir), TESTIDP_BASE_URL=f"http://127.0.0.1:{_free_port()}",
               # Free ports, so that a developer's `make run` (8001, 8002) is never in the way.
               PORTAL_DEMO_ESERVICE_URL=f"http://127.0.0.1:{_free_port()}",
               PORTAL_DEMO_SCIM_TARGET_URL=f"http://127.0.0.1:{_free_port()}")
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    """`manage.py *args` in `env`; returns what it printed."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
                          check=True, timeout=120, capture_output=True, text=True).stdout


def test_runportal_serves_restarts_the_worker_and_beat_and_stops_cleanly(tmp_path: Path) -> None:
    env = _development_env(tmp_path)
    _manage(env, "migrate", "-v0")
    port = _free_port()
    portal = subprocess.Popen([sys.executable, "manage.py", "runportal", f"127.0.0.1:{port}"],
                              cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)

    def child(kind: str, *, other_than: int = 0) -> int | None:
        return next((p for p in _children(portal.pid) if p != other_than
                     and f"celery\x00-A\x00portal\x00{kind}" in _cmdline(p)), None)

    try:
        def serving() -> bool:
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status == 200
            except OSError:
                return False

        assert _wait(serving), "the portal did not answer"
        # Web server, worker, beat and (debug on) the local test IdP and SCIM target.
        assert _wait(lambda: len(_children(portal.pid)) == 5)
        idp_metadata = f"{env['TESTIDP_BASE_URL']}/staff/metadata"
        assert _wait(lambda: _answers(idp_metadata)), "the test IdP did not answer"
        # Beat keeps its schedule under PORTAL_VAR_DIR (it is started with no file argument).
        assert _wait(lambda: any(tmp_path.glob("celerybeat-schedule*"))), "beat did not start"
        for kind in ("worker", "beat"):
            pid = child(kind)
            assert pid is not None, f"no celery {kind} child"
            os.kill(pid, signal.SIGTERM)
            assert _wait(lambda kind=kind, pid=pid: child(kind, other_than=pid) is not None), (
                f"the celery {kind} was not restarted")
        everything = _children(portal.pid)
        everything += [grandchild for child_pid in everything for grandchild in _children(child_pid)]
    finally:
        portal.send_signal(signal.SIGTERM)
        output, _ = portal.communicate(timeout=60)
    assert "The Celery worker stopped" in output
    assert "The Celery beat scheduler stopped" in output
    assert "No hostname was supplied" not in output, output
    assert _wait(lambda: not any(_alive(p) for p in everything), 30), "children left running"


def test_an_email_of_an_e_id_bound_while_no_worker_ran_is_sent_by_make_run(tmp_path: Path) -> None:
    """The README's e-ID journey: the e-ID is bound while only the web server runs (and even the
    broker is unreachable); when `make run` starts later, the e-mail arrives."""
    env = _development_env(tmp_path)
    for command in (["migrate", "-v0"], ["issuance_ca_init"], ["demo_data"]):
        _manage(env, *command)
    _manage({**env, "CELERY_BROKER_URL": unreachable_broker_url()}, "shell", "-v0", "-c", BIND_EID)
    mail_dir = tmp_path / "mail"
    assert not list(mail_dir.glob("*.log"))

    portal = subprocess.Popen([sys.executable, "manage.py", "runportal", f"127.0.0.1:{_free_port()}"],
                              cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert _wait(lambda: list(mail_dir.glob("*.log"))), "no e-mail within 60 s of make run"
    finally:
        portal.send_signal(signal.SIGTERM)
        output, _ = portal.communicate(timeout=60)
    sent = [path.read_text() for path in mail_dir.glob("*.log")]
    assert len(sent) == 1, output
    assert "To: sara" in sent[0]


def _scim_status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_the_local_scim_target_is_served_stopped_on_purpose_and_started_again(
        tmp_path: Path) -> None:
    """The README's provisioning journey: `make run` prints the target's base URL and token and
    serves it; `manage.py scim_target stop` stops it for good (not restarted as a crash would
    be); `manage.py scim_target start` has it served again."""
    env = _development_env(tmp_path)
    _manage(env, "migrate", "-v0")
    printed = _manage(env, "demo_data")
    config = json.loads((tmp_path / "scim-target.json").read_text())
    assert config["base_url"] == f"{env['PORTAL_DEMO_SCIM_TARGET_URL']}/v2"
    assert config["token"] in printed
    users = f"{config['base_url']}/Users"
    portal = subprocess.Popen([sys.executable, "manage.py", "runportal", f"127.0.0.1:{_free_port()}"],
                              cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert _wait(lambda: _scim_status(users, config["token"]) == 200), "no SCIM target"
        assert _answers(f"{config['base_url']}/ServiceProviderConfig")
        assert _scim_status(users, "wrong") == 401
        stopped = _manage(env, "scim_target", "stop")
        assert "Stopped the local SCIM target" in stopped
        time.sleep(3 * POLL_SECONDS)  # a crashed target would have been restarted by now
        assert _scim_status(users, config["token"]) == 0
        started = _manage(env, "scim_target", "start")
        assert "answers on" in started
        assert _scim_status(users, config["token"]) == 200
    finally:
        portal.send_signal(signal.SIGTERM)
        output, _ = portal.communicate(timeout=60)
    assert "The local SCIM target was stopped" in output
    assert "Starting the local SCIM target again" in output
