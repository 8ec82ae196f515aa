"""Celery tasks of the outbox: deliver due events. Run every `OUTBOX_DELIVER_EVERY_SECONDS` by
Celery beat (`CELERY_BEAT_SCHEDULE`), and enqueued after each commit that published an event."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from apps.outbox import delivery


@shared_task
def outbox_deliver_task() -> dict[str, int]:
    """Deliver due outbox events (`apps.outbox.delivery.deliver_pending`); returns the counts
    `{"delivered", "retried", "failed"}`. Handlers act as the worker
    (`apps.core.actors.WORKER`) with the request id of the request that published the event."""
    return asdict(delivery.deliver_pending())
