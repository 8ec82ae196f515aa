"""Celery tasks of the commissions app. Ids and primitives only; one service call each."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.commissions import services
from apps.core.actors import WORKER


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def planned_leaves_apply_task() -> int:
    """Apply the planned leavers whose last working day has ended (`services.planned_leaves_apply`)
    as the worker (`apps.core.actors.WORKER`). Run every 15 minutes by Celery beat
    (`CELERY_BEAT_SCHEDULE`), reading the database each time, so a missed run costs nothing but
    delay. Returns how many were applied."""
    return services.planned_leaves_apply(actor=WORKER)
