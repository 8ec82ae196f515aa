"""Celery tasks of provisioning. Ids and primitives only; one service call each."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.core.actors import WORKER
from apps.provisioning import schedule


def wake() -> None:
    """Ask the provisioning worker to push the jobs just queued (after the commit that queued
    them). Placeholder until the push engine lands: it does nothing, and nothing depends on it."""


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def provisioning_schedule_task() -> dict[str, int]:
    """Hand the validity boundaries that passed since the last run to provisioning
    (`schedule.schedule_run`) as the worker (`apps.core.actors.WORKER`). Run every minute by
    Celery beat (`CELERY_BEAT_SCHEDULE`), reading the database each time, so a missed run costs
    nothing but delay. Returns how many boundaries were published, `{"started", "ended"}`."""
    report = schedule.schedule_run(actor=WORKER)
    return {"started": report.started, "ended": report.ended}
