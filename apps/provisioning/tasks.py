"""Celery tasks of provisioning: push the due jobs and advance running reconciliations. Celery beat
runs both every `PROVISIONING_PUSH_EVERY_SECONDS` (`CELERY_BEAT_SCHEDULE`); `wake()` asks for a
push right after a change commits. Both read the database each time, so a lost task or a broker
that is down costs only delay (docs/provisioning.md, "Reliability")."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from apps.provisioning import push, reconcile

logger = logging.getLogger(__name__)


@shared_task
def provisioning_push_task() -> dict[str, int]:
    """Push due provisioning jobs (`apps.provisioning.push.push_due`, at most
    `PROVISIONING_BATCH_SIZE`) as the worker; returns the counts per result."""
    return push.push_due().as_dict()


@shared_task
def provisioning_reconcile_task() -> dict[str, int]:
    """Advance each running reconciliation by one page (`apps.provisioning.reconcile.reconcile_step`),
    then push the repairs it queued; returns how many runs moved on."""
    steps = reconcile.reconcile_step()
    if steps:
        wake()
    return {"steps": steps}


def wake() -> None:
    """Ask a worker to push now; call it with `transaction.on_commit(wake)` after writing jobs.
    Correctness never depends on it: the jobs are committed, and Celery beat pushes them if the
    broker is down or the task is lost (the failure is only logged)."""
    try:
        provisioning_push_task.apply_async(expires=settings.PROVISIONING_PUSH_EVERY_SECONDS * 10)
    except Exception as exc:  # noqa: BLE001 - any broker error; the scheduler pushes later
        logger.warning("provisioning: could not enqueue a push task (%s: %s); the periodic push "
                       "will send the jobs", type(exc).__name__, exc)
