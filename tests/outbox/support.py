"""A stand-in publishing service and topic for the outbox tests (the real publishers are the
issuance services, tested with the e-ID journey)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from apps.core.calls import policy, service
from apps.outbox.models import OutboxEvent
from apps.outbox.services import publish

TOPIC = "thing.happened"


@policy
def require_anyone(actor: Any) -> None:
    """Lets every actor through (the stand-in service's policy)."""


@service
def thing_happen(*, actor: Any, key: str, topic: str = TOPIC,
                 payload: Mapping[str, Any] | None = None) -> OutboxEvent:
    """Publish `topic` with `key` in a transaction of its own, as a real service would."""
    require_anyone(actor)
    with transaction.atomic():
        return publish(topic=topic, payload={"thing": key} if payload is None else payload, key=key)
