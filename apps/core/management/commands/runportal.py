"""`manage.py runportal`: the development server, a Celery worker and Celery beat, supervised.

Used by `make run`. Each runs in its own session, so a signal meant for the terminal's job does not
stop one of them behind the others' backs. Beat is a child of its own (`celery beat`, its schedule
file under `PORTAL_VAR_DIR`), as in production, where exactly one beat runs beside any number of
workers (docs/decisions.md). If the worker or beat stops, it is restarted with a message (each at
most `MAX_RESTARTS` times a minute, then everything stops with an error); if the web server stops,
the others are stopped too. Ctrl-C stops them all. With debug on (`TESTIDP_ENABLED`) the local
test IdP (`manage.py testidp`, docs/authentication.md) runs beside them, restarted like the worker,
and so do the demo e-service (clients/demo_eservice, docs/identity-provider.md) once the demo
data registered it, and the local SCIM target (`manage.py scim_target`, a downstream system to
provision to, docs/journey-provisioning.md). The SCIM target alone may be stopped on purpose
(`manage.py scim_target stop` leaves the file `SCIM_TARGET_STOPPED` under `PORTAL_VAR_DIR`): it is
then not restarted until `manage.py scim_target start` removes that file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MAX_RESTARTS = 3
POLL_SECONDS = 1.0
CELERY = [sys.executable, "-m", "celery", "-A", "portal"]
#: The restartable children: what the messages call them, and their command lines. Node names
#: (`-n`) tell the processes apart in Celery's own messages.
BACKGROUND = {
    "The Celery worker": [*CELERY, "worker", "-n", "worker@%h", "--pool=solo", "--loglevel=WARNING",
                          "--without-gossip", "--without-mingle"],
    "The Celery beat scheduler": [*CELERY, "beat", "--loglevel=WARNING"],
}
#: Started beside them when the local test IdP is enabled (debug on): `manage.py testidp`.
TESTIDP = "The test IdP"
#: Started beside them with debug on once the demo data registered it: the demo e-service, an
#: OpenID Connect relying party of the portal (clients/demo_eservice; its configuration file is
#: written by `manage.py demo_data`).
DEMO_ESERVICE = "The demo e-service"
DEMO_ESERVICE_CONFIG = "demo-eservice.json"
#: Started beside them with debug on: the local SCIM target (scim2-server), held while the file
#: `SCIM_TARGET_STOPPED` exists under `PORTAL_VAR_DIR`.
SCIM_TARGET = "The local SCIM target"
SCIM_TARGET_STOPPED = "scim-target.stopped"


class Command(BaseCommand):
    help = ("Serve the portal with runserver, a Celery worker and Celery beat, restarting the "
            "worker or beat if one stops.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="localhost:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        def start(command: list[str]) -> subprocess.Popen[bytes]:
            return subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)

        commands = dict(BACKGROUND)
        if settings.DEBUG and getattr(settings, "TESTIDP_ENABLED", False):
            commands[TESTIDP] = [sys.executable, "manage.py", "testidp"]
        demo_config = Path(settings.VAR_DIR) / DEMO_ESERVICE_CONFIG
        if settings.DEBUG and demo_config.exists():
            commands[DEMO_ESERVICE] = [sys.executable, "clients/demo_eservice/eservice.py",
                                       "--config", str(demo_config)]
        held = Path(settings.VAR_DIR) / SCIM_TARGET_STOPPED
        if settings.DEBUG:
            commands[SCIM_TARGET] = [sys.executable, "manage.py", "scim_target"]
            held.unlink(missing_ok=True)  # `make run` starts everything
        background: dict[str, subprocess.Popen[bytes] | None] = {
            name: start(command) for name, command in commands.items()}
        server = start([sys.executable, "manage.py", "runserver", addrport])
        once: list[subprocess.Popen[bytes]] = []
        if TESTIDP in commands:
            # Once, when the test IdP answers: its metadata, so the login page offers it at once
            # (the scheduler would within a minute).
            once.append(start([sys.executable, "manage.py", "saml_metadata_refresh", "--wait", "60"]))
        restarts: dict[str, list[float]] = {name: [] for name in commands}

        def stop(signum: int = 0, frame: FrameType | None = None) -> None:
            # Each child leads its own process group (runserver's reloader has a child too).
            processes = [p for p in (server, *background.values(), *once) if p is not None]
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
            if signum:
                raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while True:
                time.sleep(POLL_SECONDS)
                once = [process for process in once if process.poll() is None]  # reaps it
                if server.poll() is not None:
                    stop()
                    raise CommandError(f"The web server stopped (exit code {server.returncode}).")
                for name, process in background.items():
                    if process is not None and process.poll() is None:
                        continue
                    if name == SCIM_TARGET and held.exists():
                        if process is not None:
                            self.stderr.write(f"{name} was stopped; `manage.py scim_target "
                                              "start` starts it again.")
                            background[name] = None
                        continue
                    if process is None:
                        self.stderr.write(f"Starting {name[0].lower()}{name[1:]} again.")
                        background[name] = start(commands[name])
                        continue
                    now = time.monotonic()
                    restarts[name] = [t for t in restarts[name] if now - t < 60] + [now]
                    if len(restarts[name]) > MAX_RESTARTS:
                        stop()
                        raise CommandError(f"{name} keeps stopping; see its messages above.")
                    self.stderr.write(f"{name} stopped (exit code {process.returncode}); "
                                      "restarting it.")
                    background[name] = start(commands[name])
        finally:
            stop()
