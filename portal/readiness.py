"""`GET` (or `HEAD`) `/readyz`: whether this web process can serve requests now (docs/deployment.md, "Health
and readiness").

Liveness (`/healthz`, apps.core.views) says only that the process answers; readiness says that
what every request needs is there: the database answers, its schema is this release's (no
unapplied migration), the broker takes connections (pages enqueue tasks) and the audit log can be
written (every service writes an audit row in its transaction, docs/architecture.md; a portal that
cannot audit must not act). A proxy or an orchestrator sends traffic only to ready processes.

The checks span the layers (the audit log's table is the audit app's), so they are put together
here, at the project level, beside the URL map, in `readiness_checks()`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import kombu
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.api.problems import PROBLEM_CONTENT_TYPE, problem_data
from apps.audit.models import AuditEvent
from apps.audit.partitions import partitions_problems

logger = logging.getLogger(__name__)

#: Seconds the broker may take to accept a connection before the process counts as not ready.
BROKER_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Check:
    """One readiness check: `run()` returns when it passes and raises any exception when it does
    not. `needs_database`: skipped (reported `not checked`) when the database check failed.
    `advisory`: a failure is reported `attention` and logged, but the process stays ready (the
    operator must act, but requests are still served correctly)."""

    name: str
    run: Callable[[], None]
    needs_database: bool = True
    advisory: bool = False


def database_answers() -> None:
    """The database answers a query (a new connection if the kept one broke, CONN_HEALTH_CHECKS)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


_migrations_applied = False


def migrations_applied() -> None:
    """Every migration of this release is applied. Loading the migration graph takes a while,
    so once it passed this process does not check again (migrations are applied before a
    release's web processes start, docs/deployment.md). Raises RuntimeError when one is not."""
    global _migrations_applied
    if _migrations_applied:
        return
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise RuntimeError("unapplied migrations")
    _migrations_applied = True


def audit_writable() -> None:
    """The audit log's table takes inserts: on PostgreSQL the server is a primary (not a standby
    in recovery), the session is not read-only and the portal's role may insert into it. Raises
    RuntimeError naming which of these fails. (SQLite, for development: always writable.)"""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
                       "has_table_privilege(%s, 'INSERT')", [AuditEvent._meta.db_table])
        in_recovery, read_only, may_insert = cursor.fetchone()
    if in_recovery or read_only == "on":
        raise RuntimeError("the database is read-only")
    if not may_insert:
        raise RuntimeError("no INSERT privilege on the audit table")


def broker_reachable() -> None:
    """The Celery broker (CELERY_BROKER_URL) accepts a connection within BROKER_TIMEOUT_SECONDS,
    without retrying."""
    # Set by portal.settings.base.celery_settings (through globals(), so read by name here).
    url = getattr(settings, "CELERY_BROKER_URL")  # noqa: B009
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with kombu.Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS,
                          transport_options=options) as broker:
        broker.ensure_connection(max_retries=0, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


def audit_partitions_present() -> None:
    """The audit log's partitions for this month and the next exist and its default partition is
    empty (`apps.audit.partitions.partitions_problems`, docs/audit-log.md, "Partition upkeep").
    Raises RuntimeError naming the problems. Advisory: the default partition still takes every
    write, so the portal stays ready while the operator repairs the upkeep."""
    problems = partitions_problems()
    if problems:
        raise RuntimeError("; ".join(problems))


def readiness_checks() -> list[Check]:
    """The checks `/readyz` runs, in order. Add a check here (a function that raises when not
    ready)."""
    return [
        Check("database", database_answers, needs_database=False),
        Check("migrations", migrations_applied),
        Check("audit_log", audit_writable),
        Check("audit_partitions", audit_partitions_present, advisory=True),
        Check("broker", broker_reachable, needs_database=False),
    ]


def run_checks(checks: list[Check]) -> dict[str, str]:
    """Each check's name with `ok`, `failed`, `attention` (an advisory check failed) or `not
    checked`. A failure is logged at WARNING with its exception's class and message (never shown
    to the caller)."""
    results: dict[str, str] = {}
    database_ok = True
    for check in checks:
        if check.needs_database and not database_ok:
            results[check.name] = "not checked"
            continue
        try:
            check.run()
        except Exception as exc:  # any failure of a check means "not ready", never a 500
            logger.warning("readiness check %s failed: %s: %s", check.name,
                           type(exc).__name__, exc)
            results[check.name] = "attention" if check.advisory else "failed"
            if check.name == "database":
                database_ok = False
        else:
            results[check.name] = "ok"
    return results


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """`GET` (or `HEAD`) `/readyz`: 200 `{"status": "ready", "checks": {name: "ok", ...}}` when every check of
    `readiness_checks()` passes; else 503 `application/problem+json` (RFC 9457) with code
    `not-ready`, `failed` the names of the failing checks and `checks` each check's result
    (`ok`, `failed`, `attention`, `not checked`; `attention` leaves the process ready). No
    session, no login, never cached (`Cache-Control: no-store`); what failed and why is in the
    log, not in the answer."""
    results = run_checks(readiness_checks())
    failed = [name for name, result in results.items() if result == "failed"]
    if not failed:
        return HttpResponse(json.dumps({"status": "ready", "checks": results}),
                            content_type="application/json")
    body = problem_data(status=503, code="not-ready", failed=failed, checks=results,
                        detail=gettext("The portal is not ready: %(checks)s.")
                        % {"checks": ", ".join(failed)})
    return HttpResponse(json.dumps(body), status=503, content_type=PROBLEM_CONTENT_TYPE)
