"""Celery tasks of provisioning: push the due jobs and advance running reconciliations (Celery beat
runs both every `PROVISIONING_PUSH_EVERY_SECONDS`), and hand passed validity boundaries to
provisioning (every minute; `CELERY_BEAT_SCHEDULE`); `wake()` asks for a push right after a change
commits. Both read the database each time, so a lost task or a broker
that is down costs only delay (docs/provisioning.md, "Reliability")."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from apps.core.actors import WORKER
from apps.provisioning import push, reconcile, schedule

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


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def provisioning_schedule_task() -> dict[str, int]:
    """Hand the validity boundaries that passed since the last run to provisioning
    (`schedule.schedule_run`) as the worker (`apps.core.actors.WORKER`). Run every minute by
    Celery beat (`CELERY_BEAT_SCHEDULE`), reading the database each time, so a missed run costs
    nothing but delay. Returns how many boundaries were published, `{"started", "ended"}`."""
    report = schedule.schedule_run(actor=WORKER)
    return {"started": report.started, "ended": report.ended}
