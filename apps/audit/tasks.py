"""Celery tasks of the audit log: the monthly partitions kept ahead, the months past the online
window archived (docs/audit-log.md, "Partition upkeep" and "Retention and archive"), and the days
sealed and verified ("Tamper evidence"). Tasks take primitives and make one service call, as the
worker (`apps.core.actors.WORKER`); Celery beat runs them (`CELERY_BEAT_SCHEDULE`)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.audit import integrity
from apps.core.actors import WORKER

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def audit_partitions_upkeep_task() -> list[str]:
    """Create this month's partition and `PORTAL_AUDIT_PARTITION_MONTHS_AHEAD` more where missing,
    and log at ERROR when the default partition holds rows
    (`apps.audit.partitions.partitions_upkeep`); returns the months' partition names. Run daily
    by Celery beat (`CELERY_BEAT_SCHEDULE`); a lost run is made good by the next, as three
    months are always ahead. Retries database outages with backoff."""
    from apps.audit import partitions

    return [partition.name for partition in partitions.partitions_upkeep()]


@shared_task
def audit_archive_due_task() -> list[str]:
    """Archive every month past `PORTAL_AUDIT_ONLINE_MONTHS`, as the worker
    (`apps.audit.archive.partitions_archive_due`); returns the months archived ("YYYY-MM"). Run
    monthly by Celery beat (`CELERY_BEAT_SCHEDULE`). A refusal (ArchiveRefused) or a lock not
    obtained in time fails the run, which the worker's log shows at ERROR; the month waits for
    the next run or `manage.py audit_archive --due`."""
    from apps.audit import archive

    return [manifest.month for manifest in archive.partitions_archive_due(actor=WORKER)]

# --- Tamper evidence (apps.audit.integrity, docs/audit-log.md "Tamper evidence") ---------------


@shared_task
def audit_seal_task() -> list[str]:
    """Seal every closed UTC day whose grace has passed (`integrity.seal_due`); returns the days
    sealed (ISO dates). Nothing on SQLite. Without a usable key file nothing is sealed: the
    reason and what to do are logged at ERROR (no traceback), and the next run tries again
    (docs/audit-log.md, "What an alert means", step 5)."""
    try:
        return [day.isoformat() for day in integrity.seal_due(actor=WORKER)]
    except integrity.SealKeyError as exc:
        logger.error("the audit log is not sealed: %s", exc)
        return []


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
