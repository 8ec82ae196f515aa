"""Writing to the outbox: `publish()`, called by a service inside its own transaction.

Like `apps.audit.services.record()`, `publish()` is part of the calling service's write, not a
service of its own: the caller's policy and audit event cover it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction

from apps.audit import context
from apps.core.calls import current_call
from apps.outbox import registry, tasks
from apps.outbox.models import OutboxEvent

logger = logging.getLogger(__name__)

#: A wake-up task not run within this many seconds is dropped by the worker: by then the periodic
#: delivery (OUTBOX_DELIVER_EVERY_SECONDS) has handled the event anyway.
WAKE_EXPIRES_SECONDS = 300


class PublishRefused(RuntimeError):
    """publish() was called outside `transaction.atomic`, outside a public service, before that
    service's policy passed, or with a payload that is not plain JSON (a programming error, never
    user input)."""


def publish(*, topic: str, payload: Mapping[str, Any], key: str) -> OutboxEvent:
    """Record that `topic` happened, in the caller's transaction; return the outbox row.

    `payload` is a JSON object of ids and primitives (str, int, float, bool, None, lists and
    objects of them), never personal data or model instances: the handler reads what it needs when
    it runs. `key` (at most 200 characters) is the idempotency key: publishing an event whose key
    is already recorded returns the recorded row and writes nothing, so a retried service cannot
    cause the work twice. After the commit a delivery task is enqueued for low latency; if the
    broker cannot be reached that is logged and the periodic delivery picks the event up.

    Raises PublishRefused outside `transaction.atomic`, outside a public service (`@service`)
    or before its policy passed, or for a payload that is not plain JSON; ValueError for a
    malformed topic, an empty or too long key, or a key already used by another topic or payload.
    """
    registry.check_topic(topic)
    if not isinstance(key, str) or not key or len(key) > 200:
        raise ValueError("an outbox idempotency key is 1-200 characters")
    if not isinstance(payload, Mapping) or not _is_plain_json(payload):
        raise PublishRefused(f"outbox payload of {topic!r} must be a JSON object of primitives")
    if not connection.in_atomic_block:
        raise PublishRefused("outbox.publish() must run inside the writer's transaction.atomic()")
    call = current_call()
    if call is None or not call.policies:
        raise PublishRefused("outbox.publish() must run inside a public service after its policy")
    data = json.loads(json.dumps(payload))  # as stored: tuples become lists
    event, created = OutboxEvent.objects.get_or_create(
        idempotency_key=key,
        defaults={"topic": topic, "payload": data, "request_id": context.current().request_id[:64]},
    )
    if not created and (event.topic != topic or event.payload != data):
        raise ValueError(f"outbox key {key!r} was already used for another event")
    if created:
        transaction.on_commit(_wake_deliverer)
    return event


def _is_plain_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain_json(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain_json(v) for k, v in value.items())
    return False


def _wake_deliverer() -> None:
    """Ask a worker to deliver now. Correctness never depends on it: the event is committed, and
    the periodic delivery finds it if the broker is down or the task is lost."""
    try:
        tasks.outbox_deliver_task.apply_async(expires=WAKE_EXPIRES_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any broker error; the scheduler delivers later
        logger.warning("outbox: could not enqueue a delivery task (%s: %s); the periodic "
                       "delivery will send the event", type(exc).__name__, exc)
