"""`/readyz`: a proxy sends traffic to a web process only while the database answers with this
release's schema, the audit log can be written and the broker takes connections
(docs/deployment.md, "Health and readiness"). On PostgreSQL and Redis, as in production."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.db import connection
from django.test import Client

from portal import readiness

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="readiness is checked on PostgreSQL, as in production")


@pytest.fixture
def broker(settings: Any) -> Iterator[str]:
    """The real Redis as the broker (skipped outside CI when it is not running)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI: Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    yield REDIS_URL


@pytest.fixture
def first_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has not yet seen its migrations applied."""
    monkeypatch.setattr(readiness, "_migrations_applied", False)


def get_ready() -> Any:
    return Client().get("/readyz")


@pytest.mark.django_db
def test_ready_when_database_schema_audit_log_and_broker_are(broker: str, first_check: None) -> None:
    response = get_ready()
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "checks": {
        "database": "ok", "migrations": "ok", "audit_log": "ok", "audit_partitions": "ok",
        "broker": "ok"}}
    assert "no-store" in response["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_not_ready_when_the_broker_is_down_names_it_without_secrets(
        broker: str, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.CELERY_BROKER_URL = "redis://:s3cret-password@127.0.0.1:1/0"  # nothing listens there
    response = get_ready()
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == 503 and body["code"] == "not-ready"
    assert body["failed"] == ["broker"]
    assert body["checks"] == {"database": "ok", "migrations": "ok", "audit_log": "ok",
                              "audit_partitions": "ok", "broker": "failed"}
    assert "s3cret" not in response.content.decode() and "Traceback" not in response.content.decode()
    assert "s3cret" not in caplog.text
    assert "readiness check broker failed" in caplog.text


@pytest.mark.django_db
def test_not_ready_while_a_migration_is_unapplied(broker: str, first_check: None) -> None:
    with connection.cursor() as cursor:  # as if this release's last audit migration were new
        cursor.execute("DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM "
                       "django_migrations WHERE app = 'audit')")
    response = get_ready()
    assert response.status_code == 503 and response.json()["failed"] == ["migrations"]


@pytest.mark.django_db
def test_migrations_are_checked_once_per_process(broker: str, first_check: None) -> None:
    assert get_ready().status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM "
                       "django_migrations WHERE app = 'audit')")
    assert get_ready().status_code == 200


@pytest.mark.django_db
def test_not_ready_when_the_database_is_read_only(broker: str) -> None:
    with connection.cursor() as cursor:  # as on a standby, or a primary set read-only
        cursor.execute("SET LOCAL transaction_read_only = on")
    response = get_ready()
    assert response.status_code == 503 and response.json()["failed"] == ["audit_log"]


@pytest.mark.django_db
def test_database_down_skips_the_checks_that_need_it(broker: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(readiness, "readiness_checks", lambda: [
        readiness.Check("database", refused, needs_database=False),
        readiness.Check("migrations", readiness.migrations_applied),
        readiness.Check("broker", readiness.broker_reachable, needs_database=False)])
    response = get_ready()
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failed", "migrations": "not checked",
                                         "broker": "ok"}


@pytest.mark.django_db
def test_probes_need_no_https_redirect_login_or_session(broker: str, settings: Any) -> None:
    """The proxy probes the private address over plain HTTP, without a cookie."""
    settings.SECURE_SSL_REDIRECT = True
    assert get_ready().status_code == 200
    assert Client().get("/healthz").status_code == 200
    assert Client().post("/readyz").status_code == 405


@pytest.mark.django_db
def test_a_row_in_the_default_audit_partition_asks_for_attention_but_stays_ready(
        broker: str) -> None:
    import datetime as dt

    from apps.audit.models import AuditEvent

    AuditEvent.objects.create(occurred_at=dt.datetime(1999, 1, 1, tzinfo=dt.UTC),
                              action="organisation.created", actor_label="System",
                              actor_kind="system", target_type="t", target_id="1")
    response = get_ready()
    assert response.status_code == 200, response.content
    assert response.json()["checks"]["audit_partitions"] == "attention"
