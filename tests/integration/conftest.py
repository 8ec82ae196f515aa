"""Real Celery processes (worker, beat) on Redis, on the test database.

They need PostgreSQL (another process reads the committed test data) and Redis. Outside CI the
tests skip with a reason when either is missing; in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.portal.support import using_broker

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
COMMANDS = {
    "worker": ["worker", "-n", "worker@%h", "--pool=solo", "--loglevel=INFO", "--without-gossip",
               "--without-mingle", "--without-heartbeat"],
    "beat": ["beat", "--loglevel=INFO"],
}


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def wait_for(predicate: Callable[[], object], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


@pytest.fixture
def redis_broker() -> Iterator[str]:
    """The test process sends its Celery tasks to Redis (REDIS_URL)."""
    import redis

    if connection.vendor != "postgresql":
        unavailable("the worker needs the test database on PostgreSQL (set DATABASE_URL)")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    with using_broker(REDIS_URL) as url:
        yield url


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    """PORTAL_VAR_DIR of the Celery processes: e-mails land in `mail/` below it."""
    return tmp_path


@pytest.fixture
def start_celery(redis_broker: str, var_dir: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """`start_celery("worker" | "beat", **env)`: `celery -A portal <kind>` in its own session, on
    the test database and Redis, e-mail to files under `var_dir/mail`, the outbox delivered every
    second. Every process started is stopped (and its output printed) after the test."""
    db = connection.settings_dict
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY, "PORTAL_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                        f"/{db['NAME']}",
        "CELERY_BROKER_URL": redis_broker,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OUTBOX_DELIVER_EVERY_SECONDS": "1",
    }
    started: list[tuple[str, subprocess.Popen[str], Path]] = []

    def start(kind: str, **env: str) -> subprocess.Popen[str]:
        log = var_dir / f"{kind}-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal", *COMMANDS[kind]],
                cwd=settings.BASE_DIR, env={**base_env, **env}, stdout=out,
                stderr=subprocess.STDOUT, text=True, start_new_session=True,
            )
        started.append((kind, process, log))
        return process

    yield start
    for _, process, _ in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for kind, process, log in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(f"--- {kind} ({log.name}) ---\n{log.read_text()}")  # shown when the test fails


def mails(var_dir: Path) -> list[str]:
    """The e-mails the Celery processes wrote (the file backend's files under `var_dir/mail`)."""
    folder = var_dir / "mail"
    return [path.read_text() for path in sorted(folder.glob("*.log"))] if folder.exists() else []
