"""`manage.py runportal`: the development server and a Celery worker, supervised together.

Used by `make run`. Both run in their own sessions, so a signal meant for the terminal's job does
not stop one of them behind the other's back. If the worker stops, it is restarted with a message
(at most `MAX_RESTARTS` times a minute, then everything stops with an error); if the web server
stops, the worker is stopped too. Ctrl-C stops both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MAX_RESTARTS = 3
POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Serve the portal with runserver and a Celery worker, restarting the worker if it stops."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        worker_cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo",
                      "--loglevel=WARNING", "--without-gossip", "--without-mingle"]
        server_cmd = [sys.executable, "manage.py", "runserver", addrport]
        worker = subprocess.Popen(worker_cmd, cwd=settings.BASE_DIR, start_new_session=True)
        server = subprocess.Popen(server_cmd, cwd=settings.BASE_DIR, start_new_session=True)
        restarts: list[float] = []

        def stop(signum: int = 0, frame: FrameType | None = None) -> None:
            # Each child leads its own process group (runserver's reloader has a child too).
            for process in (server, worker):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in (server, worker):
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
                if server.poll() is not None:
                    stop()
                    raise CommandError(f"The web server stopped (exit code {server.returncode}).")
                if worker.poll() is not None:
                    now = time.monotonic()
                    restarts = [t for t in restarts if now - t < 60] + [now]
                    if len(restarts) > MAX_RESTARTS:
                        stop()
                        raise CommandError("The Celery worker keeps stopping; see its messages above.")
                    self.stderr.write(f"The Celery worker stopped (exit code {worker.returncode}); "
                                      "restarting it.")
                    worker = subprocess.Popen(worker_cmd, cwd=settings.BASE_DIR,
                                              start_new_session=True)
        finally:
            stop()
