"""Delivering outbox events: claim a due row, run its handler, mark it, or back off and try later.

Each event is delivered in its own transaction: the row is locked (`SELECT ... FOR UPDATE SKIP
LOCKED` on PostgreSQL, so parallel deliverers take different rows and never the same one), the
handler runs inside that transaction, and `delivered_at` is set in it too. So a handler's own
writes (the `eid.notified` audit row) and the delivered mark commit together: if the process dies
before the commit, both roll back, the lock is released with the connection, and the event is
delivered again later. Work outside the database (an e-mail) is therefore at least once, never
lost; docs/decisions.md, "The outbox", gives the reasons.

On SQLite (development) the database takes its write lock at the start of each transaction
(`BEGIN IMMEDIATE`, portal.settings.base), so deliverers run one after another.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import context
from apps.outbox import registry
from apps.outbox.models import OutboxEvent

logger = logging.getLogger(__name__)

Outcome = Literal["delivered", "retried", "failed"]


@dataclass
class DeliveryReport:
    """What one run did: events `delivered`, `retried` (failed, to be tried again after a backoff)
    and `failed` (failed for the last time, `OUTBOX_MAX_ATTEMPTS` reached)."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed try: `OUTBOX_RETRY_BASE_SECONDS` doubled per
    earlier try and capped at `OUTBOX_RETRY_MAX_SECONDS`, then "equal jitter" (a random point in
    the upper half), so that events failing together do not all come back together (exponential
    backoff with jitter, AWS Architecture Blog, "Exponential Backoff And Jitter", 2015)."""
    ceiling = min(float(settings.OUTBOX_RETRY_MAX_SECONDS),
                  settings.OUTBOX_RETRY_BASE_SECONDS * 2.0 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def deliver_pending(*, limit: int | None = None) -> DeliveryReport:
    """Deliver due events one by one, at most `limit` (default `OUTBOX_BATCH_SIZE`), oldest due
    first; stop early when none is left. Safe to run in any number of processes at once.

    Run it outside any transaction (the Celery task does): each event needs its own commit to be
    durable. A handler's exception never escapes: it is recorded on the row (`last_error`,
    `attempts`, the next `available_at`), logged, and the run goes on with the next event.
    """
    report = DeliveryReport()
    for _ in range(settings.OUTBOX_BATCH_SIZE if limit is None else limit):
        outcome = _deliver_next()
        if outcome is None:
            break
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _deliver_next() -> Outcome | None:
    """Claim the next due event, run its handler and mark it; None when nothing is due."""
    with transaction.atomic():
        due = OutboxEvent.objects.pending(timezone.now()).order_by("available_at", "created_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        row = due.first()
        if row is None:
            return None
        row.attempts += 1
        event = registry.Event(id=row.id, topic=row.topic, key=row.idempotency_key,
                               payload=row.payload, created_at=row.created_at,
                               attempt=row.attempts)
        origin = context.RequestContext(request_id=row.request_id) if row.request_id else (
            context.RequestContext())
        try:
            handler = registry.handler_for(row.topic)
            with transaction.atomic(), context.using(origin):
                handler(event)
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried with backoff
            return _record_failure(row, exc)
        row.delivered_at = timezone.now()
        row.save(update_fields=["attempts", "delivered_at"])
        return "delivered"


def _record_failure(row: OutboxEvent, exc: Exception) -> Outcome:
    """Back off after a failed try, or give up after `OUTBOX_MAX_ATTEMPTS` (the row stays, with
    `failed_at`, for an operator: `manage.py outbox_failed`)."""
    now = timezone.now()
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        row.failed_at = now
        logger.error("outbox: gave up on event %s (%s) after %d tries: %s",
                     row.id, row.topic, row.attempts, row.last_error)
        outcome: Outcome = "failed"
    else:
        row.available_at = now + dt.timedelta(seconds=retry_delay(row.attempts))
        logger.warning("outbox: event %s (%s) failed on try %d, next try at %s: %s",
                       row.id, row.topic, row.attempts, row.available_at.isoformat(),
                       row.last_error, exc_info=exc)
        outcome = "retried"
    row.save(update_fields=["attempts", "last_error", "available_at", "failed_at"])
    return outcome
