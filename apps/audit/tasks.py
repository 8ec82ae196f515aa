"""Celery tasks of the audit log. Tasks take primitives and make one service call, as the worker
(`apps.core.actors.WORKER`); Celery beat runs them (`CELERY_BEAT_SCHEDULE`)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from apps.audit import integrity
from apps.core.actors import WORKER

# --- Tamper evidence (apps.audit.integrity, docs/audit-log.md "Tamper evidence") ---------------


@shared_task
def audit_seal_task() -> list[str]:
    """Seal every closed UTC day whose grace has passed (`integrity.seal_due`); returns the days
    sealed (ISO dates). Nothing on SQLite."""
    return [day.isoformat() for day in integrity.seal_due(actor=WORKER)]


@shared_task
def audit_verify_task() -> dict[str, int]:
    """Verify the last two UTC days and the unsealed backlog (`integrity.integrity_check`), which
    alerts the operators on any finding; returns `{"rows", "findings"}`. Nothing on SQLite."""
    if not integrity.available():
        return {"rows": 0, "findings": 0}
    today = timezone.now().astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=2)
    backlog = integrity.backlog_start()
    report = integrity.integrity_check(actor=WORKER, first_day=min(first, backlog or first),
                                       last_day=today)
    return {"rows": report.rows_checked, "findings": len(report.findings)}
