"""A real Celery worker on Redis sends the e-mail that an e-ID was bound to a person.

Needs PostgreSQL (the worker, another process, reads the committed test data) and Redis. Outside
CI it skips with a reason when either is missing; in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from apps.issuance.models import MobileEID
from portal.celery import app
from tests.conftest import make_staff
from tests.issuance.support import issue, redeem_qr

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def _reset_pools() -> None:
    """Drop the app's connection and producer pools so the next send uses the current broker."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_broker() -> Iterator[str]:
    import redis

    if connection.vendor != "postgresql":
        _unavailable("the worker needs the test database on PostgreSQL (set DATABASE_URL)")

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        _unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    previous = app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False, broker_transport_options={})
    _reset_pools()
    yield REDIS_URL
    app.conf.update(broker_url=previous[0], task_always_eager=previous[1],
                    broker_transport_options=previous[2])
    _reset_pools()


@pytest.fixture
def worker(redis_broker: str, tmp_path: Path) -> Iterator[Path]:
    """`celery -A portal worker` in a subprocess, on the test database, e-mail to files."""
    db = connection.settings_dict
    env = {**os.environ,
           "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "true",
           "DJANGO_SECRET_KEY": settings.SECRET_KEY, "PORTAL_VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                           f"/{db['NAME']}",
           "CELERY_BROKER_URL": redis_broker,
           "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield tmp_path / "mail"
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    print(output)  # shown by pytest when the test fails


def test_worker_sends_the_activation_email(worker: Path, tree: Any, issuing_ca: Any) -> None:
    user, _ = make_staff(tree["cardio"], "Wilma", "Worker", care=True)
    activation = redeem_qr(issue(user.person))
    assert MobileEID.objects.filter(pk=activation.eid.pk).exists()

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mails = list(worker.glob("*.log")) if worker.exists() else []
        if mails:
            break
        time.sleep(0.5)
    assert mails, "the worker sent no e-mail within 60 s"
    text = mails[0].read_text()
    assert "To: wilma@example.invalid" in text
    assert activation.eid.serial in text or "mobile e-ID" in text
