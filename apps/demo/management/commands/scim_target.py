"""`manage.py scim_target [serve|stop|start]`: the local SCIM target of `make run` (apps.demo.
scim_target), a downstream system to provision to in development.

- `serve` (the default): serve it in this process on `DEMO_SCIM_TARGET_URL` (scim2-server, users
  in memory); `manage.py runportal` runs it so.
- `stop`: stop the serving target and keep it stopped (runportal does not restart it): the
  newcomer's way to see changes queue while a downstream system is down.
- `start`: let runportal start it again, and wait (up to `START_WAIT_SECONDS`) until it answers.

Refused unless debug is on: it accepts a token kept in clear under `var/`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo import scim_target

REFUSAL = "The local SCIM target runs only in development: set DJANGO_DEBUG=true."
#: How long `start` and `stop` wait for the target to answer or to end, in seconds.
START_WAIT_SECONDS = 20.0
STOP_WAIT_SECONDS = 10.0


def answers() -> bool:
    """Whether the target answers `GET /v2/ServiceProviderConfig` (no token needed, RFC 7643 §5)."""
    url = f"{scim_target.ensure_config()['base_url']}/ServiceProviderConfig"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def serving_pid() -> int | None:
    """The process id in `var/scim-target.pid` when that process is a scim2-server, else None."""
    try:
        pid = int(scim_target.pid_path().read_text())
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"scim2_server" in command_line else None


class Command(BaseCommand):
    help = ("Serve the local SCIM target (scim2-server with the portal's schemas) for development, "
            "or stop it and start it again beside `make run`; refused unless DJANGO_DEBUG is true.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", nargs="?", default="serve", choices=["serve", "stop", "start"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(REFUSAL)
        {"serve": self.serve, "stop": self.stop, "start": self.start}[action]()

    def serve(self) -> None:
        config = scim_target.ensure_config()
        host, port = scim_target.address()
        command = scim_target.server_command(host=host, port=port, token=config["token"],
                                             directory=Path(settings.VAR_DIR) / "scim-target")
        self.stdout.write(f"Local SCIM target on {config['base_url']} (bearer token "
                          f"{config['token']}; both in {scim_target.config_path()})")
        self.stdout.flush()
        scim_target.pid_path().write_text(str(os.getpid()))
        # The server replaces this process: the pid file names it, and a signal reaches it.
        os.execv(command[0], command)

    def stop(self) -> None:
        scim_target.stopped_path().parent.mkdir(parents=True, exist_ok=True)
        scim_target.stopped_path().touch()
        pid = serving_pid()
        if pid is None:
            self.stdout.write("The local SCIM target is not running; it stays stopped until "
                              "`manage.py scim_target start`.")
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while serving_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        self.stdout.write("Stopped the local SCIM target (the users it held in memory are gone). "
                          "`manage.py scim_target start` starts it again.")

    def start(self) -> None:
        scim_target.stopped_path().unlink(missing_ok=True)
        deadline = time.monotonic() + START_WAIT_SECONDS
        while not answers():
            if time.monotonic() > deadline:
                raise CommandError(
                    "The local SCIM target did not start: is `make run` running? Without it, "
                    "serve the target in this terminal with `manage.py scim_target`.")
            time.sleep(0.5)
        self.stdout.write(f"The local SCIM target answers on {scim_target.ensure_config()['base_url']}.")
