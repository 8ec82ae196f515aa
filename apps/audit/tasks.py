"""Celery tasks of the audit log: the monthly partitions kept ahead, and the months past the online
window archived (docs/audit-log.md, "Partition upkeep" and "Retention and archive")."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.core.actors import WORKER


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
