"""Outbox figures (part of `make bench`): publishing inside a service, delivery throughput, and
the due-event scan among many delivered rows (the partial index `outbox_pending_idx`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.db import connection, reset_queries, transaction
from django.utils import timezone

from apps.core.actors import SYSTEM
from apps.core.calls import policy, service
from apps.outbox import registry
from apps.outbox.delivery import deliver_pending
from apps.outbox.models import OutboxEvent
from apps.outbox.services import publish

TOPIC = "bench.happened"


@policy
def require_anyone(actor: Any) -> None:
    """The benchmark service's policy: lets every actor through."""


@service
def bench_happen(*, actor: Any, count: int) -> None:
    """Publish `count` events in one transaction, as a service would."""
    require_anyone(actor)
    with transaction.atomic():
        for _ in range(count):
            publish(topic=TOPIC, payload={"id": str(uuid.uuid4())}, key=f"bench:{uuid.uuid4()}")


def main(measure: Any) -> None:
    """Print the figures; `measure(name, fn, repeat=...)` is the runner's timer."""
    import apps.outbox.services as outbox_services

    registry.register(TOPIC, lambda event: None)
    outbox_services._wake_deliverer = lambda: None  # type: ignore[assignment]  # deliver by hand
    measure("outbox: publish one event in a service", lambda: bench_happen(actor=SYSTEM, count=1),
            repeat=200)
    deliver_pending(limit=100_000)  # the events published while measuring

    bench_happen(actor=SYSTEM, count=1000)
    reset_queries()
    start = time.perf_counter()
    delivered = deliver_pending(limit=1000).delivered
    elapsed = time.perf_counter() - start
    print(f"{'outbox: deliver 1,000 events (no-op handler)':48} {elapsed:8.2f} s   "
          f"{delivered / elapsed:8.0f} events/s")

    now = timezone.now()
    OutboxEvent.objects.bulk_create(
        [OutboxEvent(topic=TOPIC, payload={}, idempotency_key=f"done:{uuid.uuid4()}", attempts=1,
                     delivered_at=now) for _ in range(100_000)], batch_size=5000)
    bench_happen(actor=SYSTEM, count=10)
    due = OutboxEvent.objects.pending(timezone.now()).order_by("available_at", "created_at")
    total = OutboxEvent.objects.count()
    reset_queries()  # the query log holds at most 9,000 entries; count afresh
    measure(f"outbox: find the next due event among {total:,} rows",
            lambda: due.first(), repeat=200)
    with connection.cursor() as cursor:
        sql, params = due[:1].query.sql_with_params()
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    print(f"{'  plan':48} {plan[:150]}")
